package state_test

import (
	"slices"
	"testing"

	"github.com/linux-ha-go/ha/lib/drbd/state"
)

// TestResyncAfterGrow: after an online grow the Primary becomes
// SyncSource (a new sync UUID goes to the peer), the Secondary waits for
// that UUID and then resyncs as SyncTarget; nothing happens unless
// Connected.
func TestResyncAfterGrow(t *testing.T) {
	var n uint64
	rnd := func() uint64 { n++; return n << 8 }
	connected := func(role, peer state.Role) *state.Machine {
		m := state.NewMachine(state.Config{}, state.Policies{}, rnd)
		m.S = state.State{Role: role, Peer: peer, Conn: state.Connected, Disk: state.UpToDate, PDsk: state.UpToDate}
		m.UUID = state.UUIDs{Current: 0xABC0}
		return m
	}
	p := connected(state.Primary, state.Secondary)
	rv, acts, _ := p.Step(state.ResyncAfterGrow{Source: true})
	if !rv.OK() || p.S.Conn != state.SyncSource || p.S.PDsk != state.Inconsistent {
		t.Fatalf("source: %v %v", rv, p.S)
	}
	for _, want := range []state.ActionKind{state.ActSendSyncUUID, state.ActStartResync} {
		if !slices.ContainsFunc(acts, func(a state.Action) bool { return a.Kind == want }) {
			t.Fatalf("source actions %v lack %s", acts, want)
		}
	}
	s := connected(state.Secondary, state.Primary)
	if rv, _, _ := s.Step(state.ResyncAfterGrow{}); !rv.OK() || s.S.Conn != state.WFSyncUUID {
		t.Fatalf("target: %v %v", rv, s.S)
	}
	if rv, _, _ := s.Step(state.SyncUUID{UUID: p.UUID.Bitmap}); !rv.OK() || s.S.Conn != state.SyncTarget || s.S.Disk != state.Inconsistent {
		t.Fatalf("target after the sync UUID: %v %v", rv, s.S)
	}
	d := connected(state.Primary, state.Secondary)
	d.S.Conn = state.WFConnection
	if rv, _, _ := d.Step(state.ResyncAfterGrow{Source: true}); rv != state.NothingToDo {
		t.Fatalf("disconnected: %v %v", rv, d.S)
	}
}
