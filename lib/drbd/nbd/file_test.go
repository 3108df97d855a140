package nbd

import (
	"bytes"
	"golang.org/x/sys/unix"
	"os"
	"path/filepath"
	"testing"

	"github.com/linux-ha-go/ha/lib/drbd/iobuf"
)

// TestOpenDirect: small aligned writes go through O_DIRECT, large and
// unaligned ones through the page cache, and every read sees the last
// write whichever way it went.
func TestOpenDirect(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disk")
	if err := os.WriteFile(path, make([]byte, 4<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := OpenDirect(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !f.Direct() {
		// Only when the file system itself refuses O_DIRECT; otherwise
		// OpenDirect failed to use it.
		d, err := os.OpenFile(path, os.O_RDWR|unix.O_DIRECT, 0)
		if err == nil {
			d.Close()
			t.Fatal("OpenDirect fell back to buffered I/O on a file that takes O_DIRECT")
		}
		t.Skipf("the file system of the test directory refuses O_DIRECT: %v", err)
	}
	small := iobuf.Aligned(4096)
	big := iobuf.Aligned(1 << 20)
	if !f.direct(small, 8192) || f.direct(small, 100) || f.direct(small[:100], 8192) || f.direct(big, 0) {
		t.Fatal("direct: wrong choice for aligned small, unaligned offset, unaligned length or large writes")
	}
	if mis := iobuf.Aligned(8192)[1:4097]; f.direct(mis, 0) && f.memAlign > 1 {
		t.Fatal("direct: a misaligned buffer was sent with O_DIRECT")
	}
	check := func(what string, off int64, want []byte) {
		t.Helper()
		got := make([]byte, len(want))
		if _, err := f.ReadAt(got, off); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: read back differs", what)
		}
	}
	for i := range big {
		big[i] = byte(i)
	}
	if _, err := f.WriteAt(big, 0); err != nil { // buffered
		t.Fatal(err)
	}
	check("buffered 1 MiB", 0, big)
	for i := range small {
		small[i] = 0xAB
	}
	if _, err := f.WriteAt(small, 4096); err != nil { // direct, over buffered data
		t.Fatal(err)
	}
	want := append([]byte(nil), big...)
	copy(want[4096:], small)
	check("direct 4 KiB over buffered data", 0, want)
	if _, err := f.WriteAt([]byte("hello"), 4098); err != nil { // unaligned: buffered
		t.Fatal(err)
	}
	copy(want[4098:], "hello")
	check("unaligned over direct data", 0, want)
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	onDisk, _ := os.ReadFile(path)
	if !bytes.Equal(onDisk[:len(want)], want) {
		t.Fatal("the file read by another descriptor differs")
	}
}
