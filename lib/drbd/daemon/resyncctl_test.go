package daemon_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/daemon"
	"github.com/linux-ha-go/ha/lib/testutil"
)

var wantRe = regexp.MustCompile(`want: ([0-9,]+) K/sec`)

// TestResyncControllerMaxRate: with c-plan-ahead on (the default) the
// dynamic controller paces the initial sync, bounded by c-max-rate: 4 MiB
// at 2 MiB/s take at least about two seconds, and /proc/drbd's "want:"
// on the sync target shows the controller's rate, never above the limit.
func TestResyncControllerMaxRate(t *testing.T) {
	const size, maxKiB = 4 << 20, 2048
	p := newPairSized(t, "C", "", "disk { c-max-rate 2M; }", size, size)
	p.waitState(p.a, "cstate", "Connected")
	start := time.Now()
	p.ok(p.a, "primary", "--force", "r0")
	seen := 0
	testutil.WaitFor(t, 30*time.Second, "bob UpToDate", func() bool {
		proc := p.ok(p.b, "proc")
		if m := wantRe.FindStringSubmatch(proc); m != nil {
			n, _ := strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
			if n > maxKiB {
				t.Errorf("the controller wants %d K/sec, c-max-rate is %d\n%s", n, maxKiB, proc)
			}
			seen = max(seen, n)
		}
		if w := p.b.status().Connections[0].PeerDevices[0].ResyncWant; w > maxKiB {
			t.Errorf("status --json: godrbd-resync-want %d K/sec, c-max-rate is %d", w, maxKiB)
		}
		out, _, _ := p.adm_(p.b, "dstate", "r0")
		return strings.TrimSpace(out) == "UpToDate/UpToDate"
	})
	took := time.Since(start)
	// One step's requests go out at once: allow a step and a little.
	if min := time.Duration(float64(size)/(maxKiB*1024)*float64(time.Second)) - 300*time.Millisecond; took < min {
		t.Errorf("4 MiB at c-max-rate 2M took %v, at least %v expected", took, min)
	}
	if seen == 0 {
		t.Error("/proc/drbd on the sync target never showed the controller's rate (want:)")
	}
	t.Logf("4 MiB at c-max-rate 2M: %v, highest want: %d K/sec", took, seen)
}

// TestResyncDefaults: DRBD 8.4's defaults (c-plan-ahead 20, c-fill-target
// 100 sectors) run the dynamic controller, which starts from resync-rate
// and ramps up: even on a fast link 2 MiB take more than a second (a
// fixed c-max-rate of 100 MiB/s would take milliseconds), and the resync
// completes.
func TestResyncDefaults(t *testing.T) {
	const size = 2 << 20
	p := newPairSized(t, "C", "", "disk { c-fill-target 100s; }", size, size)
	p.waitState(p.a, "cstate", "Connected")
	start := time.Now()
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	if took := time.Since(start); took < time.Second {
		t.Errorf("2 MiB with the default controller took only %v", took)
	} else {
		t.Logf("2 MiB with DRBD's default controller: %v", took)
	}
}

// TestResyncGivesWayToApplication: while the Primary's application
// writes (replicated to the sync target), the target's resync runs no
// faster than about c-min-rate: 4 MiB at resync-rate 4M take about a
// second; with c-min-rate 1M and steady writes about four.
func TestResyncGivesWayToApplication(t *testing.T) {
	const size = 4 << 20
	p := newPairSized(t, "C", "", "disk { c-plan-ahead 0; resync-rate 4M; c-min-rate 1M; }", size, size)
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "disconnect", "r0")
	p.ok(p.a, "primary", "--force", "r0")
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		w := dialNBD(t, daemon.NBDPath(p.a.rundir, "r0", 0))
		defer w.c.Close()
		data := make([]byte, 64<<10)
		for i := uint64(0); ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if err := w.write(i, i%16*uint64(len(data)), data); err != nil {
				done <- err
				return
			}
		}
	}()
	start := time.Now()
	p.ok(p.a, "connect", "r0")
	p.waitState(p.b, "dstate", "UpToDate/UpToDate")
	took := time.Since(start)
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("the application's writes failed: %v", err)
	}
	if took < 2500*time.Millisecond {
		t.Errorf("4 MiB resynced in %v under steady application writes: c-min-rate 1M did not hold it back", took)
	}
	t.Logf("4 MiB at resync-rate 4M, c-min-rate 1M, with application writes: %v", took)
}

// TestVerifyPaced: online verify's requests are paced by the same
// controller: 4 MiB at c-max-rate 2M take about two seconds.
func TestVerifyPaced(t *testing.T) {
	const size, maxKiB = 4 << 20, 2048
	p := newPairSized(t, "C", "verify-alg sha1; ", "disk { c-max-rate 2M; }", size, size)
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "new-current-uuid", "--clear-bitmap", "r0")
	p.waitSynced()
	start := time.Now()
	p.ok(p.a, "verify", "r0")
	testutil.WaitFor(t, 30*time.Second, "Online verify done", func() bool {
		return strings.Contains(p.a.proc.Output(), "Online verify done")
	})
	took := time.Since(start)
	if min := time.Duration(float64(size)/(maxKiB*1024)*float64(time.Second)) - 300*time.Millisecond; took < min {
		t.Errorf("verify of 4 MiB at c-max-rate 2M took %v, at least %v expected", took, min)
	}
	t.Logf("verify of 4 MiB at c-max-rate 2M: %v", took)
}
