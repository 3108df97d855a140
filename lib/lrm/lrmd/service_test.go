package lrmd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/ipc"
	"github.com/linux-ha-go/ha/lib/lrm"
	"github.com/linux-ha-go/ha/lib/lrm/agents"
	"github.com/linux-ha-go/ha/lib/testutil"
)

// startDaemon serves a real executor with the test agents on a socket.
func startDaemon(t testing.TB, parallel int) (string, *Executor) {
	t.Helper()
	td, err := filepath.Abs("../agents/testdata")
	if err != nil {
		t.Fatal(err)
	}
	d := agents.DefaultDirs(td)
	d.OCFRoot = filepath.Join(td, "ocf")
	d.LSB = filepath.Join(td, "init.d")
	r := &agents.Runner{Dirs: d, Grace: 500 * time.Millisecond}
	ex := New(r, nil, parallel)
	srv := ipc.NewServer(nil)
	(&Service{Exec: ex, Agents: r}).Register(srv)
	path := filepath.Join(t.TempDir(), SocketName)
	ln, err := ipc.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); ex.Close(context.Background()); <-done })
	return path, ex
}

func dialT(t testing.TB, path string) *ipc.Client {
	t.Helper()
	c, err := ipc.Dial(context.Background(), Daemon, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestServiceEndToEnd(t *testing.T) {
	path, _ := startDaemon(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialT(t, path)
	rcfile := filepath.Join(t.TempDir(), "rc")

	// subscribe first, on a connection of its own
	events := make(chan Event, 100)
	sub := dialT(t, path)
	go sub.Subscribe(ctx, OpSubscribe, nil, func(raw json.RawMessage) error {
		var ev Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			return err
		}
		events <- ev
		return nil
	})
	next := func() Event {
		t.Helper()
		select {
		case ev := <-events:
			return ev
		case <-ctx.Done():
			t.Fatal("no event")
		}
		return Event{}
	}
	if ev := next(); ev.Type != "subscribed" {
		t.Fatalf("first event %+v", ev)
	}

	if err := c.Call(ctx, OpRegister, RegisterArgs{ID: "f", Agent: "ocf:hbtest:flappy", Params: map[string]string{"rcfile": rcfile}}, nil); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Type != "registered" || ev.Rsc != "f" {
		t.Fatalf("%+v", ev)
	}
	var res lrm.Result
	if err := c.Call(ctx, OpExec, ExecRequest{Resource: "f", Action: "start", UserData: "3:1:0:te-uuid"}, &res); err != nil || res.RC != 0 || res.CallID == 0 || res.UserData != "3:1:0:te-uuid" {
		t.Fatalf("start: %v %+v", err, res)
	}
	if ev := next(); ev.Result == nil || ev.Result.Action != "start" || ev.Result.UserData != "3:1:0:te-uuid" {
		t.Fatalf("%+v", ev)
	}
	if err := c.Call(ctx, OpExec, ExecRequest{Resource: "f", Action: "monitor", Interval: 100 * time.Millisecond}, &res); err != nil || res.RC != 0 {
		t.Fatalf("monitor: %v %+v", err, res)
	}
	if ev := next(); ev.Result == nil || ev.Result.Action != "monitor" || ev.Result.RC != 0 {
		t.Fatalf("%+v", ev)
	}
	// the resource fails: the change is reported at once, and only once
	os.WriteFile(rcfile, []byte("7\n"), 0o644)
	ev := next()
	if ev.Result == nil || ev.Result.RC != exitcode.OCFNotRunning || ev.Result.Interval != 100*time.Millisecond {
		t.Fatalf("%+v", ev)
	}
	failedCall := ev.Result.CallID
	// wait until several more monitors ran, then check none was reported
	testutil.WaitFor(t, 10*time.Second, "three more runs of the recurring monitor", func() bool {
		var rs []Resource
		if err := c.Call(ctx, OpResources, nil, &rs); err != nil {
			t.Fatal(err)
		}
		last := rs[0].History.Last["monitor_100"]
		if last == nil || last.CallID < failedCall+3 {
			return false
		}
		if last.RC != 7 || !last.LastRCChange.Equal(ev.Result.Start) {
			t.Fatalf("history %+v", last)
		}
		return true
	})
	select {
	case ev := <-events:
		t.Fatalf("an unchanged result was reported again: %+v", ev.Result)
	default:
	}
	if err := c.Call(ctx, OpCancel, CancelArgs{ID: "f", Action: "monitor", Interval: 100 * time.Millisecond}, nil); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Result == nil || ev.Result.Status != lrm.StatusCancelled {
		t.Fatalf("%+v", ev)
	}

	// errors carry codes, exit codes and hints
	err := c.Call(ctx, OpExec, ExecRequest{Resource: "nope", Action: "start"}, nil)
	if !ipc.IsCode(err, ipc.CodeNotFound) || exitcode.Of(ipc.ToExit(err)) != exitcode.NoSuch || !strings.Contains(exitcode.HintOf(ipc.ToExit(err)), "register") {
		t.Fatalf("unknown resource: %v", err)
	}
	if err := c.Call(ctx, OpRegister, RegisterArgs{ID: "x", Agent: "Dummy"}, nil); !ipc.IsCode(err, ipc.CodeBadRequest) {
		t.Fatalf("bad agent: %v", err)
	}

	// lists and meta-data
	var names []string
	if err := c.Call(ctx, OpAgents, AgentsArgs{Class: "ocf", Provider: "hbtest"}, &names); err != nil || !contains(names, "ocf:hbtest:noop") {
		t.Fatalf("agents %v %v", names, err)
	}
	if err := c.Call(ctx, OpAgents, AgentsArgs{Class: "bogus"}, &names); !ipc.IsCode(err, ipc.CodeBadRequest) {
		t.Fatalf("bogus class: %v", err)
	}
	if err := c.Call(ctx, OpClasses, nil, &names); err != nil || !contains(names, "ocf") || !contains(names, "stonith") {
		t.Fatalf("classes %v %v", names, err)
	}
	var md MetadataReply
	if err := c.Call(ctx, OpMetadata, AgentArgs{Agent: "ocf:hbtest:noop"}, &md); err != nil || !strings.Contains(md.XML, `name="noop"`) {
		t.Fatalf("metadata %v", err)
	}
	err = c.Call(ctx, OpMetadata, AgentArgs{Agent: "ocf:hbtest:garbage"}, &md)
	if err == nil || !strings.Contains(err.Error(), "not valid resource-agent XML") {
		t.Fatalf("garbage metadata: %v", err)
	}
	if err := c.Call(ctx, OpUnregister, RscArgs{ID: "f"}, nil); err != nil {
		t.Fatal(err)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestServiceParallelAndSerial(t *testing.T) {
	// real processes: operations on one resource never overlap, on two
	// resources they do
	path, _ := startDaemon(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialT(t, path)
	log := filepath.Join(t.TempDir(), "log")
	for _, id := range []string{"a", "b"} {
		if err := c.Call(ctx, OpRegister, RegisterArgs{ID: id, Agent: "ocf:hbtest:span", Params: map[string]string{"log": log}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var last int64
	for _, id := range []string{"a", "a", "b"} {
		var res lrm.Result
		if err := c.Call(ctx, OpExec, ExecRequest{Resource: id, Action: "start", Async: true}, &res); err != nil {
			t.Fatal(err)
		}
		last = res.CallID
	}
	// a synchronous call on a queues behind both of a's
	var res lrm.Result
	if err := c.Call(ctx, OpExec, ExecRequest{Resource: "a", Action: "monitor"}, &res); err != nil || res.CallID != last+1 {
		t.Fatalf("%v %+v", err, res)
	}
	b, _ := os.ReadFile(log)
	type span struct{ begin, end int64 }
	spans := map[string][]span{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		var ns int64
		fmt.Sscan(f[2], &ns)
		if f[0] == "begin" {
			spans[f[1]] = append(spans[f[1]], span{begin: ns})
		} else {
			l := spans[f[1]]
			l[len(l)-1].end = ns
		}
	}
	a := spans["a"]
	if len(a) != 3 || len(spans["b"]) != 1 {
		t.Fatalf("log:\n%s", b)
	}
	for i := 1; i < len(a); i++ {
		if a[i].begin < a[i-1].end {
			t.Fatalf("operations on a overlapped:\n%s", b)
		}
	}
	overlaps := false
	for _, sa := range a {
		sb := spans["b"][0]
		overlaps = overlaps || (sb.begin < sa.end && sa.begin < sb.end)
	}
	if !overlaps {
		t.Fatalf("operations on a and b did not run in parallel:\n%s", b)
	}
	if err := c.Call(ctx, "nope", nil, nil); !ipc.IsCode(err, ipc.CodeUnknownOp) {
		t.Fatalf("unknown op: %v", err)
	}
}

func TestClient(t *testing.T) {
	path, _ := startDaemon(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sub, err := Dial(ctx, filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	live := make(chan struct{})
	results := make(chan *lrm.Result, 10)
	go sub.Subscribe(ctx, func(ev Event) error {
		switch ev.Type {
		case "subscribed":
			close(live)
		case "result":
			results <- ev.Result
		}
		return nil
	})
	<-live
	noop := lrm.Agent{Class: lrm.OCF, Provider: "hbtest", Type: "noop"}
	if err := c.Register(ctx, "n", noop, nil); err != nil {
		t.Fatal(err)
	}
	res, err := c.Exec(ctx, ExecRequest{Resource: "n", Action: "start", Async: true, UserData: "k1"})
	if err != nil || res.Status != lrm.StatusPending {
		t.Fatalf("%v %+v", err, res)
	}
	if r := <-results; r.CallID != res.CallID || r.UserData != "k1" || r.RC != 0 {
		t.Fatalf("%+v", r)
	}
	rs, err := c.Resources(ctx)
	if err != nil || len(rs) != 1 || rs[0].History.Last["start_0"] == nil {
		t.Fatalf("%v %+v", err, rs)
	}
	if x, err := c.Metadata(ctx, noop); err != nil || !strings.Contains(x, "noop") {
		t.Fatalf("%v", err)
	}
	if l, err := c.Agents(ctx, "ocf", "hbtest"); err != nil || !contains(l, "ocf:hbtest:noop") {
		t.Fatalf("%v %v", l, err)
	}
	if err := c.Cancel(ctx, "n", "monitor", time.Second); !ipc.IsCode(err, ipc.CodeNotFound) {
		t.Fatalf("%v", err)
	}
	if err := c.Unregister(ctx, "n"); err != nil {
		t.Fatal(err)
	}
}
