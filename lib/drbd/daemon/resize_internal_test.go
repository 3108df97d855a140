package daemon

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestNewSize: the size agreement of an online resize
// (drbd_new_dev_size), without sockets.
func TestNewSize(t *testing.T) {
	const M = 1 << 20
	for _, c := range []struct {
		name string
		q    sizeRequest
		want int64
		err  error
	}{
		{"both grew", sizeRequest{Local: 12 * M, Peer: 12 * M, Current: 4 * M, Connected: true}, 12 * M, nil},
		{"the smaller disk wins", sizeRequest{Local: 12 * M, Peer: 9 * M, Current: 4 * M, Connected: true}, 9 * M, nil},
		{"peer not grown yet", sizeRequest{Local: 12 * M, Peer: 4 * M, Current: 4 * M, Connected: true}, 4 * M, nil},
		{"peer size unknown", sizeRequest{Local: 12 * M, Current: 4 * M, Connected: true}, 12 * M, nil},
		{"nothing grew", sizeRequest{Local: 4 * M, Peer: 4 * M, Current: 4 * M, Connected: true}, 4 * M, nil},
		{"disconnected keeps the agreed size", sizeRequest{Local: 12 * M, Current: 4 * M}, 4 * M, nil},
		{"disconnected, assume-peer-has-space", sizeRequest{Local: 12 * M, Current: 4 * M, AssumePeerHasSpace: true}, 12 * M, nil},
		{"--size caps", sizeRequest{Local: 12 * M, Peer: 12 * M, Current: 4 * M, User: 6 * M, Connected: true}, 6 * M, nil},
		{"--size shrinks", sizeRequest{Local: 12 * M, Peer: 12 * M, Current: 8 * M, User: 6 * M, Connected: true}, 6 * M, nil},
		{"--size shrinks while disconnected", sizeRequest{Local: 12 * M, Current: 8 * M, User: 6 * M}, 6 * M, nil},
		{"--size rounds to 4 KiB", sizeRequest{Local: 12 * M, Peer: 12 * M, Current: 4 * M, User: 6*M + 100, Connected: true}, 6 * M, nil},
		{"--size beyond the disk", sizeRequest{Local: 12 * M, Peer: 12 * M, Current: 4 * M, User: 13 * M, Connected: true}, 4 * M, errUserTooBig},
		{"a smaller disk does not shrink", sizeRequest{Local: 3 * M, Peer: 12 * M, Current: 4 * M, Connected: true}, 3 * M, errWouldShrink},
		{"a smaller peer does not shrink", sizeRequest{Local: 12 * M, Peer: 3 * M, Current: 4 * M, Connected: true}, 3 * M, errWouldShrink},
	} {
		got, err := newSize(c.q)
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("%s: %d, %v; want %d, %v", c.name, got, err, c.want, c.err)
		}
	}
}

func TestPPSize(t *testing.T) {
	for kb, want := range map[int64]string{4088: "4088 KB", 12248: "12 MB", 10 << 20: "10 GB", 9999: "9999 KB"} {
		if got := ppsize(kb); got != want {
			t.Errorf("ppsize(%d) = %q, want %q", kb, got, want)
		}
	}
}

// FuzzLKBD: a last-known-size record is trusted only when it names the
// disk (a path without white space) and holds a number; what recordSize
// writes reads back.
func FuzzLKBD(f *testing.F) {
	f.Add([]byte("/dev/vg/r0 4194304\n"), "/dev/vg/r0")
	f.Add([]byte("/dev/vg/r0 -1\n"), "/dev/vg/r0")
	f.Add([]byte("/dev/vg/r1 4194304\n"), "/dev/vg/r0")
	f.Add([]byte(""), "")
	f.Add([]byte("a b c"), "a")
	f.Fuzz(func(t *testing.T, b []byte, disk string) {
		plain := slices.Equal(strings.Fields(disk), []string{disk})
		if n := parseLKBD(b, disk); n != 0 && !plain {
			t.Fatalf("%q trusted for the disk %q: %d", b, disk, n)
		}
		size := uint64(len(b)) * 4096
		rec := fmt.Appendf(nil, "%s %d\n", disk, size)
		if got := parseLKBD(rec, disk); plain && got != size {
			t.Fatalf("record %q read back as %d, want %d", rec, got, size)
		}
	})
}
