package lrmd

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/ipc"
	"github.com/linux-ha-go/ha/lib/lrm"
)

// fakeRunner takes d (fake time, inside a synctest bubble) per operation,
// answers rc[resource] and records concurrency.
type fakeRunner struct {
	mu        sync.Mutex
	d         time.Duration
	rc        map[string]exitcode.Code
	running   map[string]int
	maxPerRsc int
	now, peak int
	calls     []string
}

func newFake(d time.Duration) *fakeRunner {
	return &fakeRunner{d: d, rc: map[string]exitcode.Code{}, running: map[string]int{}}
}

func (f *fakeRunner) Exec(ctx context.Context, op *lrm.Op) *lrm.Result {
	f.mu.Lock()
	f.running[op.Resource]++
	f.maxPerRsc = max(f.maxPerRsc, f.running[op.Resource])
	f.now++
	f.peak = max(f.peak, f.now)
	f.calls = append(f.calls, op.Resource+" "+op.Action)
	f.mu.Unlock()
	start := time.Now()
	select {
	case <-time.After(f.d):
	case <-ctx.Done():
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running[op.Resource]--
	f.now--
	res := &lrm.Result{Agent: op.Agent.String(), Action: op.Action, Interval: op.Interval, RC: f.rc[op.Resource], Start: start, Duration: f.d}
	res.Fill()
	return res
}

func (f *fakeRunner) setRC(rsc string, rc exitcode.Code) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rc[rsc] = rc
}

var dummy = lrm.Agent{Class: lrm.OCF, Provider: "heartbeat", Type: "Dummy"}

func TestSerialisedPerResourceParallelAcross(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(time.Second)
		e := New(f, nil, 3)
		defer e.Close(context.Background())
		for _, id := range []string{"a", "b", "c", "d", "e"} {
			if err := e.Register(id, dummy, nil); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		var mu sync.Mutex
		order := map[string][]int64{}
		for i := 0; i < 4; i++ {
			for _, id := range []string{"a", "b", "c", "d", "e"} {
				res, err := e.Exec(context.Background(), ExecRequest{Resource: id, Action: "monitor", Async: true})
				if err != nil || res.Status != lrm.StatusPending {
					t.Fatal(err, res)
				}
				mu.Lock()
				order[id] = append(order[id], res.CallID)
				mu.Unlock()
			}
		}
		ch, stop := e.Subscribe()
		defer stop()
		got := map[string][]int64{}
		var lastA *lrm.Result
		for n := 0; n < 20; n++ {
			ev := <-ch
			got[ev.Result.Resource] = append(got[ev.Result.Resource], ev.Result.CallID)
			if ev.Result.Resource == "a" {
				lastA = ev.Result
			}
		}
		if f.maxPerRsc != 1 {
			t.Fatalf("%d operations ran at once on one resource", f.maxPerRsc)
		}
		if f.peak != 3 {
			t.Fatalf("peak parallelism %d, want the bound 3", f.peak)
		}
		// the last operation of a waited for the three before it
		if q := lastA.Queued; q < 3*time.Second {
			t.Fatalf("queue time of the 4th operation on a: %s", q)
		}
		// 20 one-second operations, 3 at a time: 7 seconds
		if d := time.Since(start); d != 7*time.Second {
			t.Fatalf("took %s of fake time", d)
		}
		for id, calls := range order {
			for i := range calls {
				if got[id][i] != calls[i] {
					t.Fatalf("%s ran %v, submitted %v", id, got[id], calls)
				}
			}
		}
	})
}

func TestRecurringMonitorReportsChangesOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(100 * time.Millisecond)
		e := New(f, nil, 4)
		defer e.Close(context.Background())
		e.Register("d", dummy, nil)
		ch, stop := e.Subscribe()
		defer stop()
		res, err := e.Exec(context.Background(), ExecRequest{Resource: "d", Action: "monitor", Interval: 10 * time.Second})
		if err != nil || res.RC != 0 {
			t.Fatal(err, res)
		}
		if ev := <-ch; ev.Result.CallID != res.CallID {
			t.Fatalf("first result not reported: %+v", ev)
		}
		time.Sleep(35 * time.Second) // three more runs, all rc 0
		synctest.Wait()
		if n := len(ch); n != 0 {
			t.Fatalf("%d unchanged results were reported", n)
		}
		f.setRC("d", exitcode.OCFNotRunning)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if len(ch) != 1 {
			t.Fatalf("%d events after a change, want 1", len(ch))
		}
		ev := <-ch
		if ev.Result.RC != 7 || ev.Result.Interval != 10*time.Second {
			t.Fatalf("%+v", ev.Result)
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if len(ch) != 0 {
			t.Fatal("the failed result was repeated")
		}
		rs := e.Resources()
		last := rs[0].History.Last["monitor_10000"]
		if last == nil || last.RC != 7 || !last.LastRCChange.Equal(ev.Result.Start) || rs[0].History.LastFailure == nil {
			t.Fatalf("history %+v", rs[0].History)
		}
		if len(rs[0].Recurring) != 1 || rs[0].Recurring[0] != "monitor_10000" {
			t.Fatalf("recurring %v", rs[0].Recurring)
		}

		// cancel: subscribers hear of it, and the monitor runs no more
		if err := e.Cancel("d", "monitor", 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if ev := <-ch; ev.Result.Status != lrm.StatusCancelled {
			t.Fatalf("%+v", ev.Result)
		}
		n := len(f.calls)
		time.Sleep(time.Minute)
		synctest.Wait()
		if len(f.calls) != n {
			t.Fatal("a cancelled monitor ran again")
		}
		if err := e.Cancel("d", "monitor", 10*time.Second); !ipc.IsCode(err, ipc.CodeNotFound) {
			t.Fatalf("second cancel: %v", err)
		}
	})
}

func TestStopCancelsRecurring(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(10 * time.Millisecond)
		e := New(f, nil, 4)
		defer e.Close(context.Background())
		e.Register("d", dummy, nil)
		e.Exec(context.Background(), ExecRequest{Resource: "d", Action: "monitor", Interval: 5 * time.Second})
		e.Exec(context.Background(), ExecRequest{Resource: "d", Action: "stop"})
		n := len(f.calls)
		time.Sleep(time.Minute)
		synctest.Wait()
		if len(f.calls) != n || len(e.Resources()[0].Recurring) != 0 {
			t.Fatalf("monitor still runs after stop: %v", f.calls)
		}
	})
}

func TestRegisterErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(newFake(0), nil, 1)
		defer e.Close(context.Background())
		if err := e.Register("d", dummy, map[string]string{"state": "/x"}); err != nil {
			t.Fatal(err)
		}
		if err := e.Register("d", dummy, map[string]string{"state": "/y"}); err != nil {
			t.Fatalf("re-register with new params: %v", err)
		}
		if e.Resources()[0].Params["state"] != "/y" {
			t.Fatal("params not updated")
		}
		err := e.Register("d", lrm.Agent{Class: lrm.LSB, Type: "cron"}, nil)
		if !ipc.IsCode(err, ipc.CodeExists) {
			t.Fatalf("another agent under the same id: %v", err)
		}
		if _, err := e.Exec(context.Background(), ExecRequest{Resource: "nope", Action: "start"}); !ipc.IsCode(err, ipc.CodeNotFound) {
			t.Fatalf("exec on an unknown resource: %v", err)
		}
		if err := e.Unregister("d"); err != nil {
			t.Fatal(err)
		}
		if err := e.Unregister("d"); !ipc.IsCode(err, ipc.CodeNotFound) {
			t.Fatalf("unregister twice: %v", err)
		}
	})
}

func TestUnregisterCancelsQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(time.Second)
		e := New(f, nil, 4)
		defer e.Close(context.Background())
		e.Register("d", dummy, nil)
		for i := 0; i < 3; i++ {
			e.Exec(context.Background(), ExecRequest{Resource: "d", Action: "start", Async: true})
		}
		ch, stop := e.Subscribe()
		defer stop()
		synctest.Wait() // the first one runs
		e.Unregister("d")
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if len(f.calls) != 1 {
			t.Fatalf("queued operations of an unregistered resource ran: %v", f.calls)
		}
		for len(ch) > 0 {
			ev := <-ch
			if ev.Type == "result" && ev.Result.Status == lrm.StatusDone && ev.Result.CallID != 1 {
				t.Fatalf("unexpected %+v", ev.Result)
			}
		}
	})
}

func TestCloseLetsRunningOperationsFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(5 * time.Second)
		e := New(f, nil, 4)
		e.Register("d", dummy, nil)
		ch, stop := e.Subscribe()
		defer stop()
		e.Exec(context.Background(), ExecRequest{Resource: "d", Action: "stop", Async: true})
		e.Exec(context.Background(), ExecRequest{Resource: "d", Action: "start", Async: true})
		synctest.Wait() // the stop runs
		start := time.Now()
		e.Close(context.Background())
		if d := time.Since(start); d != 5*time.Second {
			t.Fatalf("Close returned after %s, want the 5s the running stop takes", d)
		}
		ev := <-ch
		if ev.Result.Action != "stop" || ev.Result.Status != lrm.StatusDone {
			t.Fatalf("the running stop did not finish: %+v", ev.Result)
		}
		if len(f.calls) != 1 {
			t.Fatalf("the queued start ran: %v", f.calls)
		}
		if _, err := e.Exec(context.Background(), ExecRequest{Resource: "d", Action: "start"}); !ipc.IsCode(err, ipc.CodeRefused) {
			t.Fatalf("exec after close: %v", err)
		}
	})
}

func TestSlowSubscriberIsDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(newFake(0), nil, 4)
		defer e.Close(context.Background())
		e.Register("d", dummy, nil)
		slow, stopSlow := e.Subscribe()
		defer stopSlow()
		for i := 0; i < SubscriberBuffer+10; i++ {
			if _, err := e.Exec(context.Background(), ExecRequest{Resource: "d", Action: "monitor"}); err != nil {
				t.Fatal(err)
			}
		}
		n := 0
		for range slow { // closed once it overflowed
			n++
		}
		if n != SubscriberBuffer {
			t.Fatalf("got %d events before the drop, want %d", n, SubscriberBuffer)
		}
		// a new subscriber works
		ch, stop := e.Subscribe()
		defer stop()
		e.Exec(context.Background(), ExecRequest{Resource: "d", Action: "start"})
		if ev := <-ch; ev.Result == nil || ev.Result.Action != "start" {
			t.Fatalf("%+v", ev)
		}
	})
}
