package daemon_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/daemon"
	"github.com/linux-ha-go/ha/lib/testutil"
)

// qemuIO runs qemu-io on the NBD export with the given commands and
// returns its output; any failed command fails the test.
func qemuIO(t *testing.T, uri string, cmds ...string) string {
	t.Helper()
	args := []string{"-f", "raw"}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, err := exec.Command("qemu-io", append(args, uri)...).CombinedOutput()
	text := string(out)
	if err != nil || strings.Contains(text, "failed") || strings.Contains(text, "error") {
		t.Fatalf("qemu-io %s: %v\n%s", strings.Join(cmds, "; "), err, text)
	}
	return text
}

// TestQemuIO: qemu's NBD client (qemu-io, qemu-img) uses the export:
// pattern writes and reads, flush, discard and write-zeroes, and the
// writes reach the peer's disk.
func TestQemuIO(t *testing.T) {
	for _, prog := range []string{"qemu-io", "qemu-img"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("%s not installed (Debian package qemu-utils)", prog)
		}
	}
	p := newPair(t, "C")
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	uri := p.a.nbdURI()
	size := p.a.status().Devices[0].Size * 1024

	out, err := exec.Command("qemu-img", "info", "--output=json", "-f", "raw", uri).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img info: %v\n%s", err, out)
	}
	var info struct {
		VirtualSize int64  `json:"virtual-size"`
		Format      string `json:"format"`
	}
	if err := json.Unmarshal(out, &info); err != nil || info.VirtualSize != size || info.Format != "raw" {
		t.Fatalf("qemu-img info: %+v %v, want virtual-size %d\n%s", info, err, size, out)
	}

	fill := func(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }
	text := qemuIO(t, uri,
		"write -P 0xab 0 64k",
		"write -P 0xcd 1M 1M",
		"write -P 0x11 3000 1000", // not sector aligned
		"read -P 0xab 0 2048",
		"read -P 0x11 3000 1000",
		"read -P 0xab 4096 60k",
		"read -P 0xcd 1M 1M",
		"flush",
		"write -P 0xee 4M 192k",
		"discard 4M 64k",
		"write -z 4160k 64k",
		"read -P 0 4160k 64k",
		"read -P 0xee 4224k 64k",
		"aio_write -P 0x5a 6M 256k",
		"aio_write -P 0x5b 7M 256k",
		"aio_flush",
		"read -P 0x5a 6M 256k",
		"read -P 0x5b 7M 256k",
	)
	for _, want := range []string{"wrote 65536/65536 bytes at offset 0", "read 1048576/1048576 bytes at offset 1048576", "discard 65536/65536 bytes at offset 4194304", "wrote 65536/65536 bytes at offset 4259840"} {
		if !strings.Contains(text, want) {
			t.Errorf("qemu-io output lacks %q:\n%s", want, text)
		}
	}
	// qemu learns the 512-byte minimum block size and aligns by itself;
	// a client that does not ask (the plain NBD_OPT_EXPORT_NAME) may
	// write any byte range, and it is replicated like any other write.
	out, err = exec.Command("nbdinfo", "--json", uri).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"block_size_minimum": 512`) {
		t.Errorf("nbdinfo --json: %v, want block_size_minimum 512\n%s", err, out)
	}
	w := dialNBD(t, daemon.NBDPath(p.a.rundir, "r0", 0))
	if err := w.write(1, 5<<20+100, fill(0x42, 1000)); err != nil {
		t.Fatal(err)
	}
	if err := w.write(2, 5<<20+1100, fill(0x43, 3000)); err != nil {
		t.Fatal(err)
	}
	w.c.Close()

	// A pattern check that must fail, so that the checks above mean
	// something.
	bad, _ := exec.Command("qemu-io", "-f", "raw", "-c", "read -P 0x77 0 4k", uri).CombinedOutput()
	if !strings.Contains(string(bad), "Pattern verification failed") {
		t.Errorf("qemu-io did not notice a wrong pattern:\n%s", bad)
	}

	// Protocol C: everything acknowledged is on bob's disk.
	var disk []byte
	testutil.WaitFor(t, 5*time.Second, "the writes on bob's disk", func() bool {
		disk, _ = os.ReadFile(p.b.disk)
		return bytes.Equal(disk[6<<20:6<<20+256<<10], fill(0x5a, 256<<10))
	})
	checks := []struct {
		off  int
		want []byte
	}{
		{0, fill(0xab, 3000)},
		{3000, fill(0x11, 1000)},
		{4000, fill(0xab, 64<<10-4000)},
		{1 << 20, fill(0xcd, 1<<20)},
		{4<<20 + 64<<10, fill(0, 64<<10)},
		{4<<20 + 128<<10 - 4096, fill(0, 4096)},
		{7 << 20, fill(0x5b, 256<<10)},
		{5 << 20, fill(0, 100)},
		{5<<20 + 100, fill(0x42, 1000)},
		{5<<20 + 1100, fill(0x43, 3000)},
		{5<<20 + 4100, fill(0, 4096)},
	}
	for _, c := range checks {
		if !bytes.Equal(disk[c.off:c.off+len(c.want)], c.want) {
			t.Errorf("bob's disk at %d does not hold what qemu-io wrote", c.off)
		}
	}
}
