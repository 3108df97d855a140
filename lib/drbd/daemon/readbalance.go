package daemon

import (
	"strings"
	"sync/atomic"
)

// readBalancing is disk { read-balancing } for a Primary whose own data
// is UpToDate and whose peer's is too: which of the two serves a read
// (DRBD's remote_due_to_read_balancing). prefer-local, the default,
// reads locally; prefer-remote from the peer; round-robin alternates;
// least-pending takes the peer when more local reads are pending than
// reads sent to the peer; 32K-striping .. 1M-striping read stripes of
// that size alternately (odd stripes from the peer);
// when-congested-remote reads locally (godrbd sees no congestion).
type readBalancing struct {
	policy string
	shift  uint // striping: log2 of the stripe size
}

func parseReadBalancing(s string) readBalancing {
	if size, ok := strings.CutSuffix(s, "-striping"); ok {
		shift := map[string]uint{"32K": 15, "64K": 16, "128K": 17, "256K": 18, "512K": 19, "1M": 20}[size]
		if shift != 0 {
			return readBalancing{policy: "striping", shift: shift}
		}
	}
	return readBalancing{policy: s}
}

// remote tells whether the read at off goes to the peer. rr is the
// round-robin toggle; local and remote are the reads in progress.
func (b readBalancing) remote(off int64, rr *atomic.Uint32, local, remote int) bool {
	switch b.policy {
	case "prefer-remote":
		return true
	case "round-robin":
		return rr.Add(1)&1 == 0
	case "least-pending":
		return local > remote
	case "striping":
		return (off>>b.shift)&1 == 1
	}
	return false
}
