package daemon

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/linux-ha-go/ha/lib/drbd/api"
	"github.com/linux-ha-go/ha/lib/drbd/meta"
	"github.com/linux-ha-go/ha/lib/drbd/state"
)

// TestSplitBrainText: the status paragraph per volume of a two-volume
// resource, the counts from the bitmaps, and that a connection forgets
// it.
func TestSplitBrainText(t *testing.T) {
	d := New("/nonexistent", "alice", slog.New(slog.NewTextHandler(io.Discard, nil)))
	r := newResource(d, &api.Resource{Name: "r0", Local: &api.Endpoint{Node: "alice"}, Peer: &api.Endpoint{Node: "bob"}})
	for vnr := range 2 {
		v := &Volume{r: r, vnr: vnr, minor: vnr, m: state.NewMachine(state.Config{}, state.Policies{}, func() uint64 { return 7 })}
		v.m.S = state.State{Role: state.Primary, Conn: state.StandAlone, Disk: state.UpToDate, PDsk: state.DUnknown}
		v.bm = meta.NewBitmap(100)
		v.bm.SetRange(0, uint64(3+vnr))
		v.peerBits = 5
		r.vols[vnr] = v
	}
	r.vols[1].noteSplitBrain([]string{"uuid_compare()=100 by rule 90", unresolvedSB})
	got := r.splitBrainText()
	for _, want := range []string{
		"  split-brain: volume:1 detected ",
		"    alice (this node) changed 16 KiB since; bob changed 20 KiB\n",
		"    to keep alice's data (bob's 20 KiB of changes are lost): on bob: godrbdadm disconnect r0; godrbdadm connect --discard-my-data r0; then on alice, if StandAlone: godrbdadm connect r0\n",
		"    to keep bob's data (alice's 16 KiB of changes are lost): on alice: godrbdadm disconnect r0; godrbdadm secondary r0; godrbdadm connect --discard-my-data r0; then on bob, if StandAlone: godrbdadm connect r0\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "volume:0") {
		t.Errorf("volume 0 had no split brain:\n%s", got)
	}
	v := r.vols[1]
	v.m.S.Conn = state.Connected
	v.noteSplitBrain(nil)
	v.m.S.Conn = state.StandAlone
	if got := r.splitBrainText(); got != "" {
		t.Errorf("after a connection the split brain is still reported:\n%s", got)
	}
}
