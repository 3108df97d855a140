package daemon

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/linux-ha-go/ha/lib/drbd/state"
)

// TestStatusNoData: status names the reason a Primary fails I/O, and
// only then.
func TestStatusNoData(t *testing.T) {
	for _, c := range []struct {
		s    state.State
		want string // in the text status; "" = no no-data line
	}{
		{state.State{Role: state.Primary, Peer: state.Secondary, Conn: state.Connected, Disk: state.Diskless, PDsk: state.UpToDate}, ""},
		{state.State{Role: state.Primary, Peer: state.Secondary, Conn: state.SyncTarget, Disk: state.Inconsistent, PDsk: state.UpToDate}, ""},
		{state.State{Role: state.Secondary, Peer: state.RoleUnknown, Conn: state.WFConnection, Disk: state.Diskless, PDsk: state.DUnknown}, ""},
		{state.State{Role: state.Primary, Peer: state.RoleUnknown, Conn: state.WFConnection, Disk: state.Diskless, PDsk: state.DUnknown},
			"  disk:Diskless\n    no-data: Diskless Primary without a connection: no UpToDate data in reach, I/O fails until the peer reconnects or a disk is attached\n"},
		{state.State{Role: state.Primary, Peer: state.RoleUnknown, Conn: state.WFConnection, Disk: state.Inconsistent, PDsk: state.DUnknown},
			"    no-data: local disk Inconsistent and no connection to an UpToDate peer"},
		{state.State{Role: state.Primary, Peer: state.Secondary, Conn: state.Connected, Disk: state.Diskless, PDsk: state.Inconsistent},
			"    no-data: Diskless Primary and the peer's disk is Inconsistent: I/O fails\n"},
	} {
		_, r := fixture(c.s, 1000, 0)
		got := r.statusText(false)
		if c.want == "" && strings.Contains(got, "no-data") || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s:\n%s\nwant %q", c.s, got, c.want)
		}
		js := r.statusText(true)
		if (c.want == "") == strings.Contains(js, "godrbd-no-data") {
			t.Errorf("%s: json godrbd-no-data:\n%s", c.s, js)
		}
	}
}

func TestReadBalancingPolicies(t *testing.T) {
	var rr atomic.Uint32
	for _, c := range []struct {
		policy        string
		off           int64
		local, remote int
		want          bool
	}{
		{"prefer-local", 0, 5, 0, false},
		{"prefer-remote", 0, 0, 5, true},
		{"when-congested-remote", 0, 9, 0, false},
		{"least-pending", 0, 2, 1, true},
		{"least-pending", 0, 1, 1, false},
		{"32K-striping", 0, 0, 0, false},
		{"32K-striping", 32 << 10, 0, 0, true},
		{"32K-striping", 64<<10 + 4096, 0, 0, false},
		{"1M-striping", 1<<20 - 512, 0, 0, false},
		{"1M-striping", 1 << 20, 0, 0, true},
		{"3K-striping", 1 << 20, 0, 0, false},
	} {
		if got := parseReadBalancing(c.policy).remote(c.off, &rr, c.local, c.remote); got != c.want {
			t.Errorf("%s at %d (local %d, remote %d pending): remote=%v, want %v", c.policy, c.off, c.local, c.remote, got, c.want)
		}
	}
	rb := parseReadBalancing("round-robin")
	a, b := rb.remote(0, &rr, 0, 0), rb.remote(0, &rr, 0, 0)
	if a == b {
		t.Error("round-robin does not alternate")
	}
}

// TestClearInSync: a resync answer clears only the blocks its range
// covers whole, within the bitmap, and nothing for a nonsense size.
func TestClearInSync(t *testing.T) {
	for _, c := range []struct {
		sector uint64
		size   uint32
		want   []uint64 // bits left set of 0..3
	}{
		{0, 4096, []uint64{1, 2, 3}},
		{1, 4096, []uint64{0, 1, 2, 3}},         // covers no block whole
		{4, 8192, []uint64{0, 2, 3}},            // only block 1 whole
		{8, 8192 + 512, []uint64{0, 3}},         // blocks 1 and 2
		{0, 1000, []uint64{0, 1, 2, 3}},         // not whole sectors
		{0, 1<<32 - 4096, []uint64{0, 1, 2, 3}}, // above 128 MiB
		{1 << 60, 4096, []uint64{0, 1, 2, 3}},
		{7992, 1 << 20, []uint64{0, 1, 2, 3}}, // past the end: clamped
	} {
		_, r := fixture(state.State{Conn: state.SyncTarget}, 0, 1000)
		v := r.vols[0]
		v.clearInSync(c.sector, c.size)
		var left []uint64
		for i := uint64(0); i < 4; i++ {
			if v.bm.Test(i) {
				left = append(left, i)
			}
		}
		if !slices.Equal(left, c.want) {
			t.Errorf("sector %d, %d bytes: bits left %v, want %v", c.sector, c.size, left, c.want)
		}
		if c.sector == 7992 && v.bm.Count() != 999 {
			t.Errorf("sector 7992: %d bits left, want 999 (only the last block cleared)", v.bm.Count())
		}
	}
}

// TestRSEndMatches: an answer ends only the resync request registered
// with its start and length on its link.
func TestRSEndMatches(t *testing.T) {
	_, r := fixture(state.State{Conn: state.SyncTarget}, 0, 0)
	v := r.vols[0]
	p1, p2 := &peerLink{}, &peerLink{}
	v.pio.rs = []blockRange{{p: p1, first: 2, last: 3}}
	v.rsEnd(p2, 16, 8192) // another link
	v.rsEnd(p1, 16, 4096) // another length
	v.rsEnd(p1, 24, 4096) // another start
	if len(v.pio.rs) != 1 {
		t.Fatalf("a non-matching answer ended the request: %v", v.pio.rs)
	}
	v.rsEnd(p1, 16, 8192)
	if len(v.pio.rs) != 0 {
		t.Fatalf("the matching answer left the request: %v", v.pio.rs)
	}
}
