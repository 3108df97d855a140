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

// fixture is a daemon with resource r0, volume 0 (minor 0), in state s,
// with 1000 blocks of which left are out of sync out of total to resync.
func fixture(s state.State, total, left uint64) (*Daemon, *Resource) {
	d := New("/nonexistent", "alice", slog.New(slog.NewTextHandler(io.Discard, nil)))
	r := newResource(d, &api.Resource{Name: "r0", Protocol: "C", Peer: &api.Endpoint{Node: "bob", AF: "ipv4", Address: "10.0.0.2", Port: "7789"}})
	v := &Volume{r: r, minor: 0, m: state.NewMachine(state.Config{}, state.Policies{}, func() uint64 { return 7 }), size: 4000 << 10}
	v.m.S = s
	v.bm = meta.NewBitmap(1000)
	v.bm.SetRange(0, left)
	v.rsTotal = total
	r.vols[0] = v
	r.netConf = true
	d.res["r0"] = r
	return d, r
}

func TestProcText(t *testing.T) {
	s := state.State{Role: state.Primary, Peer: state.Secondary, Conn: state.SyncSource, Disk: state.UpToDate, PDsk: state.Inconsistent}
	d, _ := fixture(s, 1000, 716)
	got := d.procText()
	for _, want := range []string{
		"version: 8.4.11 (api:1/proto:86-101)\n",
		" 0: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r-----\n",
		"    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:2864\n",
		"\t[====>...............] sync'ed: 28.4% (2864/4000)K\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("proc lacks %q:\n%s", want, got)
		}
	}
	// The start of a resync: x = 0 prints '>' and 20 dots.
	d, _ = fixture(s, 1000, 1000)
	if got := d.procText(); !strings.Contains(got, "\t[>....................] sync'ed:  0.0% (4000/4000)K\n") {
		t.Errorf("bar at 0%%:\n%s", got)
	}
	// A minor with nothing configured.
	d, _ = fixture(state.Initial(), 0, 0)
	if got := d.procText(); !strings.HasSuffix(got, " 0: cs:Unconfigured\n") {
		t.Errorf("unconfigured minor:\n%s", got)
	}
}

func TestStatusText(t *testing.T) {
	for _, c := range []struct {
		s    state.State
		left uint64
		want string
	}{
		{state.State{Role: state.Primary, Peer: state.Secondary, Conn: state.Connected, Disk: state.UpToDate, PDsk: state.UpToDate}, 0,
			"r0 role:Primary\n  disk:UpToDate\n  bob role:Secondary\n    replication:Established peer-disk:UpToDate\n\n"},
		{state.State{Role: state.Secondary, Peer: state.Primary, Conn: state.SyncTarget, Disk: state.Inconsistent, PDsk: state.UpToDate}, 250,
			"r0 role:Secondary\n  disk:Inconsistent\n  bob role:Primary\n    replication:SyncTarget peer-disk:UpToDate done:75.00\n\n"},
		{state.State{Role: state.Secondary, Peer: state.RoleUnknown, Conn: state.WFConnection, Disk: state.UpToDate, PDsk: state.DUnknown}, 0,
			"r0 role:Secondary\n  disk:UpToDate\n  bob connection:Connecting\n\n"},
		{state.State{Role: state.Primary, Peer: state.RoleUnknown, Conn: state.StandAlone, Disk: state.UpToDate, PDsk: state.DUnknown}, 0,
			"r0 role:Primary\n  disk:UpToDate\n  bob connection:StandAlone\n\n"},
	} {
		_, r := fixture(c.s, 1000, c.left)
		if got := r.statusText(false); got != c.want {
			t.Errorf("%s:\n%q\nwant\n%q", c.s, got, c.want)
		}
	}
	_, r := fixture(state.State{Role: state.Primary, Peer: state.Secondary, Conn: state.Connected, Disk: state.UpToDate, PDsk: state.UpToDate}, 0, 0)
	if got := r.statusText(true); !strings.Contains(got, `"replication-state": "Established"`) || !strings.Contains(got, `"peer-disk-state": "UpToDate"`) {
		t.Errorf("json:\n%s", got)
	}
}

func TestSummary(t *testing.T) {
	d, _ := fixture(state.State{Role: state.Primary, Peer: state.Secondary, Conn: state.Connected, Disk: state.UpToDate, PDsk: state.UpToDate}, 0, 0)
	if got, want := d.Summary(), "r0/0 Connected Primary/Secondary UpToDate/UpToDate"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if got := New("/x", "n", d.Log).Summary(); got != "no resources" {
		t.Errorf("empty: %q", got)
	}
}
