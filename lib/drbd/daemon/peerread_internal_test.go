package daemon

import (
	"strings"
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
