package daemon_test

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/testutil"
)

// recorder is a handlers section whose handlers append their name and
// DRBD's environment to one file; fail names handlers that also fail
// while the file gate does not exist.
type recorder struct {
	log, gate string
}

func newRecorder(t *testing.T) *recorder {
	d := t.TempDir()
	return &recorder{log: filepath.Join(d, "calls"), gate: filepath.Join(d, "gate")}
}

func (h *recorder) section(names []string, fail ...string) string {
	var b strings.Builder
	b.WriteString("handlers {\n")
	for _, n := range names {
		cmd := fmt.Sprintf("echo %s $DRBD_RESOURCE $DRBD_MINOR $DRBD_VOLUME $DRBD_PEER_ADDRESS $DRBD_LL_DISK >> %s", n, h.log)
		if slices.Contains(fail, n) {
			cmd += "; test -e " + h.gate
		}
		fmt.Fprintf(&b, "    %s %q;\n", n, cmd)
	}
	b.WriteString("  }")
	return b.String()
}

// calls are the recorded lines.
func (h *recorder) calls() []string {
	b, _ := os.ReadFile(h.log)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// line is what handler name records on node n (its peer at peerAddr).
func line(name string, n *node, peerAddr string) string {
	return fmt.Sprintf("%s r0 0 0 %s %s", name, peerAddr, n.disk)
}

func (h *recorder) waitFor(t *testing.T, want string) {
	t.Helper()
	testutil.WaitFor(t, 20*time.Second, "handler call "+want, func() bool { return slices.Contains(h.calls(), want) })
}

// TestResyncHandlers: the sync target runs before-resync-target before
// it asks for any block (a failure drops the connection and nothing
// moves) and after-resync-target when the resync ended; the source runs
// before-resync-source. All through godrbdadm, with DRBD's environment.
func TestResyncHandlers(t *testing.T) {
	h := newRecorder(t)
	p := newPairWith(t, "C", "", h.section([]string{"before-resync-target", "after-resync-target", "before-resync-source"}, "before-resync-target"))
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	before := line("before-resync-target", p.b, "127.0.0.1")
	h.waitFor(t, before)
	h.waitFor(t, line("before-resync-source", p.a, "127.0.0.2"))
	testutil.WaitFor(t, 10*time.Second, "the connection dropped by the failing handler", func() bool {
		return strings.Contains(p.b.proc.Output(), "before-resync-target handler returned 1, dropping connection.")
	})
	if got := p.b.status().Connections[0].PeerDevices[0].ResyncBlocksReceived; got != 0 {
		t.Errorf("%d blocks moved although before-resync-target failed", got)
	}
	if ds := p.ok(p.b, "dstate", "r0"); strings.HasPrefix(ds, "UpToDate") {
		t.Errorf("bob is %s although before-resync-target failed", ds)
	}
	// The handler succeeds now: the next connection syncs.
	os.WriteFile(h.gate, nil, 0o644)
	p.waitSynced()
	after := line("after-resync-target", p.b, "127.0.0.1")
	h.waitFor(t, after)
	calls := h.calls()
	last := slices.Index(calls, after)
	if i := slices.Index(calls[:max(last, 0)], before); i < 0 {
		t.Errorf("after-resync-target before any before-resync-target: %q", calls)
	}
	for _, c := range calls {
		if strings.HasPrefix(c, "after-resync-target") && c != after {
			t.Errorf("unexpected call %q", c)
		}
	}
	if n := strings.Count(strings.Join(calls, "\n"), "after-resync-target"); n != 1 {
		t.Errorf("after-resync-target ran %d times: %q", n, calls)
	}
}

// TestSplitBrainHandlers: an unresolved split brain runs split-brain on
// both nodes; with after-sb-1pri call-pri-lost-after-sb a Primary that
// lost (after-sb-0pri discard-least-changes) and cannot demote (its
// device is open) runs pri-lost-after-sb.
func TestSplitBrainHandlers(t *testing.T) {
	h := newRecorder(t)
	p := newPairWith(t, "C", "after-sb-0pri discard-least-changes; after-sb-1pri call-pri-lost-after-sb; ",
		h.section([]string{"split-brain", "pri-lost-after-sb", "initial-split-brain"}))
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	p.ok(p.a, "disconnect", "r0")
	p.ok(p.b, "disconnect", "r0")
	p.ok(p.b, "primary", "r0")
	write := func(n *node, blocks int) {
		data := make([]byte, blocks*4096)
		rand.Read(data)
		src := filepath.Join(t.TempDir(), n.name)
		os.WriteFile(src, data, 0o644)
		nbdcopy(t, src, n.nbdURI())
	}
	write(p.a, 1) // alice changed less: she loses
	write(p.b, 4)
	p.ok(p.b, "secondary", "r0")
	// alice stays Primary with her device open: she cannot give it up.
	w := dialNBD(t, filepath.Join(p.a.rundir, "r0.nbd"))
	defer w.c.Close()

	p.ok(p.a, "connect", "r0")
	p.ok(p.b, "connect", "r0")
	h.waitFor(t, line("pri-lost-after-sb", p.a, "127.0.0.2"))
	h.waitFor(t, line("split-brain", p.a, "127.0.0.2"))
	h.waitFor(t, line("initial-split-brain", p.a, "127.0.0.2"))
	h.waitFor(t, line("initial-split-brain", p.b, "127.0.0.1"))
	for _, c := range h.calls() {
		if strings.HasPrefix(c, "pri-lost-after-sb") && c != line("pri-lost-after-sb", p.a, "127.0.0.2") {
			t.Errorf("pri-lost-after-sb on the wrong node: %q", c)
		}
	}
	p.waitState(p.a, "cstate", "StandAlone")

	p.waitState(p.a, "cstate", "StandAlone")
}

// TestSplitBrainHandlerBothNodes: with the default policies (disconnect)
// a split brain is unresolved on both sides: both run split-brain.
func TestSplitBrainHandlerBothNodes(t *testing.T) {
	h := newRecorder(t)
	p := newPairWith(t, "C", "", h.section([]string{"split-brain"}))
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	p.ok(p.a, "disconnect", "r0")
	p.ok(p.b, "disconnect", "r0")
	p.ok(p.b, "primary", "r0")
	for _, n := range []*node{p.a, p.b} {
		data := make([]byte, 4096)
		rand.Read(data)
		src := filepath.Join(t.TempDir(), n.name)
		os.WriteFile(src, data, 0o644)
		nbdcopy(t, src, n.nbdURI())
	}
	p.ok(p.a, "secondary", "r0")
	p.ok(p.b, "secondary", "r0")
	p.ok(p.a, "connect", "r0")
	p.ok(p.b, "connect", "r0")
	h.waitFor(t, line("split-brain", p.a, "127.0.0.2"))
	h.waitFor(t, line("split-brain", p.b, "127.0.0.1"))
	if n := len(h.calls()); n != 2 {
		t.Errorf("want 2 calls, got %q", h.calls())
	}
}
