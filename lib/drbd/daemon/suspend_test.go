package daemon_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/daemon"
	"github.com/linux-ha-go/ha/lib/testutil"
)

// pendingWrite is one NBD write on a connection of its own; done
// receives its result.
type pendingWrite struct{ done chan error }

func startWrite(t *testing.T, n *node, off uint64, data []byte) *pendingWrite {
	t.Helper()
	w := dialNBD(t, daemon.NBDPath(n.rundir, "r0", 0))
	t.Cleanup(func() { w.c.Close() })
	pw := &pendingWrite{done: make(chan error, 1)}
	go func() { pw.done <- w.write(1, off, data) }()
	return pw
}

// stillPending fails the test when a write completes within the window:
// the writes it checks are frozen, and an unfrozen one completes in
// about a millisecond here.
func stillPending(t *testing.T, what string, ws ...*pendingWrite) {
	t.Helper()
	window := time.After(500 * time.Millisecond)
	for {
		for _, w := range ws {
			select {
			case err := <-w.done:
				t.Fatalf("%s: a frozen write completed (error %v)", what, err)
			default:
			}
		}
		select {
		case <-window:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func completes(t *testing.T, what string, ws ...*pendingWrite) {
	t.Helper()
	for _, w := range ws {
		select {
		case err := <-w.done:
			if err != nil {
				t.Fatalf("%s: write failed: %v", what, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the write did not complete", what)
		}
	}
}

// cutWrite starts a write on a's export that waits for the peer's
// acknowledgement when the peer dies: bob is stopped, the write starts,
// bob is killed.
func cutWrite(t *testing.T, p *pair, off uint64, data []byte) *pendingWrite {
	t.Helper()
	p.b.proc.Cmd.Process.Signal(syscall.SIGSTOP)
	w := startWrite(t, p.a, off, data)
	stillPending(t, "waiting for the stopped peer", w)
	p.b.proc.Cmd.Process.Signal(syscall.SIGKILL)
	return w
}

// waitFrozen waits until n's status says IO is frozen for why.
func waitFrozen(t *testing.T, n *node, why string) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, "IO frozen: "+why, func() bool {
		return slices.Contains(n.status().SuspendedWhy, why)
	})
}

// holds checks that n's export reads data at each offset.
func holds(t *testing.T, n *node, data []byte, offs ...int) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "out")
	nbdcopy(t, n.nbdURI(), dst)
	got, _ := os.ReadFile(dst)
	for _, off := range offs {
		if !bytes.Equal(got[off:off+len(data)], data) {
			t.Errorf("%s: the write at %d is not there", n.name, off)
		}
	}
}

// TestFencingFreezesIO: with fencing resource-and-stonith a Primary that
// loses its peer freezes IO while fence-peer runs, the write that was in
// flight included: nothing is acknowledged that the peer may lack.
// fence-peer fails here, so IO stays frozen until resume-io, which makes
// a new current UUID. suspend-io and resume-io freeze and thaw IO at the
// administrator's request, and status says why IO is frozen.
func TestFencingFreezesIO(t *testing.T) {
	dir := t.TempDir()
	started, release, finished := filepath.Join(dir, "started"), filepath.Join(dir, "release"), filepath.Join(dir, "finished")
	p := newPairWith(t, "C", "", fmt.Sprintf(`disk { fencing resource-and-stonith; }
  handlers { fence-peer "touch %s; while [ ! -e %s ]; do sleep 0.05; done; touch %s; exit 1"; }`, started, release, finished))
	p.promoted()
	block := bytes.Repeat([]byte{0xa5}, 4096)
	completes(t, "connected", startWrite(t, p.a, 0, block))
	gi := func() string { return strings.SplitN(p.ok(p.a, "get-gi", "r0"), ":", 2)[0] }
	before := gi()

	// bob stops, a write waits for its acknowledgement, bob dies.
	inFlight := cutWrite(t, p, 4096, block)
	testutil.WaitFor(t, 10*time.Second, "fence-peer to run", func() bool { _, err := os.Stat(started); return err == nil })
	waitFrozen(t, p.a, "fencing")
	if out := p.ok(p.a, "status", "r0"); !strings.Contains(out, "r0 role:Primary suspended:fencing") ||
		!strings.Contains(out, "suspended: fence-peer is running") {
		t.Errorf("status while fence-peer runs:\n%s", out)
	}
	later := startWrite(t, p.a, 8192, block)
	stillPending(t, "while fence-peer runs", inFlight, later)

	// fence-peer fails: IO stays frozen.
	os.WriteFile(release, nil, 0o644)
	testutil.WaitFor(t, 10*time.Second, "fence-peer to end", func() bool { _, err := os.Stat(finished); return err == nil })
	testutil.WaitFor(t, 10*time.Second, "the handler's failure to be taken in", func() bool {
		for _, l := range strings.Split(p.a.proc.Output(), "\n") {
			if strings.Contains(l, "helper command") && strings.Contains(l, "fence-peer") && strings.Contains(l, "exit=1") {
				return true
			}
		}
		return false
	})
	stillPending(t, "after fence-peer failed", inFlight, later)
	if out := p.ok(p.a, "status", "r0"); !strings.Contains(out, "suspended: fence-peer failed (exit 1); I/O resumes when the peer comes back, or, once the peer is known to be down or outdated: godrbdadm resume-io r0") {
		t.Errorf("status after fence-peer failed does not say what to do:\n%s", out)
	}
	if !slices.Contains(p.a.status().SuspendedWhy, "fencing") {
		t.Fatalf("IO no longer frozen after fence-peer failed: %+v", p.a.status())
	}
	if after := gi(); after != before {
		t.Errorf("current UUID changed while IO was frozen: %s -> %s", before, after)
	}

	// resume-io thaws IO; the new current UUID is made first.
	p.ok(p.a, "resume-io", "r0")
	completes(t, "after resume-io", inFlight, later)
	if st := p.a.status(); st.Suspended || len(st.SuspendedWhy) != 0 {
		t.Errorf("still suspended after resume-io: %+v", st)
	}
	if after := gi(); after == before {
		t.Errorf("resume-io made no new current UUID (still %s)", after)
	}
	if _, _, rc := p.adm_(p.a, "resume-io", "r0"); rc != 0 {
		t.Errorf("resume-io with nothing frozen: exit %d", rc)
	}

	// The administrator's freeze.
	p.ok(p.a, "suspend-io", "r0")
	if out := p.ok(p.a, "status", "r0"); !strings.Contains(out, "r0 role:Primary suspended:user") ||
		!strings.Contains(out, "suspended: by suspend-io; godrbdadm resume-io r0 resumes it") {
		t.Errorf("status after suspend-io:\n%s", out)
	}
	if got := p.ok(p.a, "proc"); !strings.Contains(got, " s-----") {
		t.Errorf("proc after suspend-io does not show s:\n%s", got)
	}
	frozen := startWrite(t, p.a, 12288, block)
	stillPending(t, "after suspend-io", frozen)
	p.ok(p.a, "resume-io", "r0")
	completes(t, "after resume-io", frozen)

	holds(t, p.a, block, 0, 4096, 8192, 12288)
}

// TestNoDataFreezesIO: with on-no-data-accessible suspend-io, a Primary
// without a disk of its own whose peer goes away freezes IO instead of
// failing it, the write under way included, and restarts it when the
// peer is back: nothing fails, and the peer has every write.
func TestNoDataFreezesIO(t *testing.T) {
	p := newPairWith(t, "C", "", "options { on-no-data-accessible suspend-io; }")
	p.promoted()
	p.ok(p.a, "detach", "r0")
	if got := p.ok(p.a, "dstate", "r0"); got != "Diskless/UpToDate" {
		t.Fatalf("dstate after detach: %q", got)
	}
	block := bytes.Repeat([]byte{0x5a}, 4096)
	completes(t, "through the peer", startWrite(t, p.a, 0, block))

	inFlight := cutWrite(t, p, 4096, block)
	waitFrozen(t, p.a, "no-data")
	if out := p.ok(p.a, "status", "r0"); !strings.Contains(out, "r0 role:Primary suspended:no-data") ||
		!strings.Contains(out, "suspended: no UpToDate data in reach") {
		t.Errorf("status without data:\n%s", out)
	}
	later := startWrite(t, p.a, 8192, block)
	stillPending(t, "without data", inFlight, later)

	// bob comes back: IO thaws and both writes go to him.
	p.start(p.b)
	p.ok(p.b, "up", "r0")
	completes(t, "after the peer came back", inFlight, later)
	if st := p.a.status(); st.Suspended {
		t.Errorf("still suspended with the peer back: %+v", st)
	}
	holds(t, p.a, block, 0, 4096, 8192) // read from bob: alice has no disk
}

// TestFreezeHoldsCompletions: a write that finishes while IO is frozen
// is acknowledged only when IO thaws (DRBD completes nothing while
// suspended), and fencing turned on at runtime with disk-options, as
// adjust does after the configuration gained it, freezes IO at the next
// loss of the peer (no fence-peer handler: it cannot be fenced, so IO
// stays frozen until resume-io).
func TestFreezeHoldsCompletions(t *testing.T) {
	p := newPair(t, "C")
	p.promoted()
	block := bytes.Repeat([]byte{0x3c}, 4096)

	// A write waits for bob's acknowledgement; suspend-io; bob answers.
	p.b.proc.Cmd.Process.Signal(syscall.SIGSTOP)
	w := startWrite(t, p.a, 0, block)
	stillPending(t, "waiting for the stopped peer", w)
	p.ok(p.a, "suspend-io", "r0")
	p.b.proc.Cmd.Process.Signal(syscall.SIGCONT)
	stillPending(t, "finished while suspended", w)
	p.ok(p.a, "resume-io", "r0")
	completes(t, "after resume-io", w)

	p.ok(p.a, "disk-options", "--fencing=resource-and-stonith", "r0")
	cut := cutWrite(t, p, 4096, block)
	waitFrozen(t, p.a, "fencing")
	stillPending(t, "peer lost, fencing turned on at runtime", cut)
	p.ok(p.a, "resume-io", "r0")
	completes(t, "after resume-io", cut)
}

// TestStaleFenceResult: the peer coming back thaws IO (the write held at
// the loss completes and reaches it by resync); a fence-peer result that
// arrives after the peer came back and was lost again is about the
// first outage: it is ignored (DRBD: "Ignoring fence-peer exit code"),
// and only the second handler's result thaws IO.
func TestStaleFenceResult(t *testing.T) {
	dir := t.TempDir()
	// Each run n waits for release.n, then says the peer is fenced.
	p := newPairWith(t, "C", "", fmt.Sprintf(`disk { fencing resource-and-stonith; }
  handlers { fence-peer "n=$(ls %[1]s | grep -c started); touch %[1]s/started.$n; while [ ! -e %[1]s/release.$n ]; do sleep 0.05; done; exit 7"; }`, dir))
	p.promoted()
	runs := func(n int) func() bool {
		return func() bool { _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("started.%d", n))); return err == nil }
	}

	// A write in flight when bob dies is held while fence-peer runs,
	// and completes once bob is back; it then is on bob's disk.
	block := bytes.Repeat([]byte{0xc3}, 4096)
	p.b.proc.Cmd.Process.Signal(syscall.SIGSTOP)
	w := startWrite(t, p.a, 4096, block)
	stillPending(t, "waiting for the stopped peer", w)
	p.b.proc.Kill()
	testutil.WaitFor(t, 10*time.Second, "the first fence-peer", runs(0))
	stillPending(t, "while the first fence-peer runs", w)
	p.start(p.b)
	p.ok(p.b, "up", "r0")
	completes(t, "with the peer back", w)
	p.waitSynced()
	if p.a.status().Suspended {
		t.Fatal("IO still frozen with the peer back")
	}
	if got := dataArea(t, p.b, 8192); !bytes.Equal(got[4096:], block) {
		t.Fatal("the write held at the loss is not on bob's disk after the resync")
	}
	p.b.proc.Kill()
	testutil.WaitFor(t, 10*time.Second, "the second fence-peer", runs(1))
	os.WriteFile(filepath.Join(dir, "release.0"), nil, 0o644)
	testutil.WaitFor(t, 10*time.Second, "the stale result to be ignored", func() bool {
		return strings.Contains(p.a.proc.Output(), "Ignoring fence-peer exit code")
	})
	if st := p.a.status(); !slices.Contains(st.SuspendedWhy, "fencing") {
		t.Fatalf("a stale fence-peer result thawed IO: %+v", st)
	}
	if got := p.ok(p.a, "dstate", "r0"); got != "UpToDate/DUnknown" {
		t.Errorf("dstate after the stale result: %q", got)
	}
	os.WriteFile(filepath.Join(dir, "release.1"), nil, 0o644)
	testutil.WaitFor(t, 10*time.Second, "the second result to thaw IO", func() bool { return !p.a.status().Suspended })
	if got := p.ok(p.a, "dstate", "r0"); got != "UpToDate/Outdated" {
		t.Errorf("dstate after fence-peer outdated the peer: %q", got)
	}
}

// TestPromotionWaitsForItsFencePeer: a promotion that asked fence-peer
// takes that run's answer, not the answer of a run started earlier for
// the loss of the peer (DRBD runs it inside drbdsetup primary).
func TestPromotionWaitsForItsFencePeer(t *testing.T) {
	dir := t.TempDir()
	// Run n waits for release.n and exits with the code in it.
	script := filepath.Join(t.TempDir(), "fence-peer.sh")
	os.WriteFile(script, []byte(fmt.Sprintf(`n=$(ls %[1]s | grep -c started); touch %[1]s/started.$n
while [ ! -s %[1]s/release.$n ]; do sleep 0.05; done
exit $(cat %[1]s/release.$n)
`, dir)), 0o644)
	p := newPairWith(t, "C", "", fmt.Sprintf(`disk { fencing resource-only; }
  handlers { fence-peer "sh %s"; }`, script))
	p.promoted()
	runs := func(n int) func() bool {
		return func() bool { _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("started.%d", n))); return err == nil }
	}
	release := func(n int, code string) {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("release.%d", n)), []byte(code), 0o644)
	}

	p.b.proc.Kill()
	testutil.WaitFor(t, 10*time.Second, "fence-peer for the lost peer", runs(0))
	p.ok(p.a, "secondary", "r0")
	type result struct {
		rc  int
		out string
	}
	promoted := make(chan result, 1)
	go func() {
		out, errOut, rc := p.adm_(p.a, "primary", "r0")
		promoted <- result{rc, out + errOut}
	}()
	testutil.WaitFor(t, 10*time.Second, "fence-peer for the promotion", runs(1))
	release(0, "1") // the first run fails: not the promotion's answer
	testutil.WaitFor(t, 10*time.Second, "the first run to end", func() bool {
		return strings.Contains(p.a.proc.Output(), "fence-peer helper broken, returned 1")
	})
	select {
	case r := <-promoted:
		t.Fatalf("the promotion took the first run's answer: exit %d %s", r.rc, r.out)
	case <-time.After(300 * time.Millisecond):
	}
	release(1, "4")
	select {
	case r := <-promoted:
		if r.rc != 0 {
			t.Fatalf("primary after its fence-peer outdated the peer: exit %d %s", r.rc, r.out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the promotion did not end")
	}
	if got := p.ok(p.a, "role", "r0"); got != "Primary/Unknown" {
		t.Errorf("role after the promotion: %q", got)
	}
	if got := p.ok(p.a, "dstate", "r0"); got != "UpToDate/Outdated" {
		t.Errorf("dstate after the promotion: %q", got)
	}
}
