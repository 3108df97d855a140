package daemon

import (
	"errors"
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
