package lrmd

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/ipc"
	"github.com/linux-ha-go/ha/lib/lrm"
	"github.com/linux-ha-go/ha/lib/lrm/agents"
)

// The benchmarks run the no-op OCF agent (testdata/ocf/resource.d/hbtest/noop,
// a /bin/sh script that exits 0):
//
//	go test -run '^$' -bench . -benchtime 2s ./lib/lrm/lrmd/
//
// BareForkExec is the floor: os/exec of the same script. Runner adds
// hb-lrmd's process handling (process group, clean environment, bounded
// capture, exit-reason scan). Daemon adds the executor and the socket,
// one client per resource; its ops/s metric is the daemon's throughput.

func noopPath(b *testing.B) string {
	p, err := filepath.Abs("../agents/testdata/ocf/resource.d/hbtest/noop")
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func BenchmarkBareForkExec(b *testing.B) {
	p := noopPath(b)
	for b.Loop() {
		if err := exec.Command(p, "monitor").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRunner(b *testing.B) {
	td, _ := filepath.Abs("../agents/testdata")
	d := agents.DefaultDirs(td)
	d.OCFRoot = filepath.Join(td, "ocf")
	r := &agents.Runner{Dirs: d}
	op := lrm.Op{Resource: "n", Agent: lrm.Agent{Class: lrm.OCF, Provider: "hbtest", Type: "noop"}, Action: "monitor"}
	for b.Loop() {
		o := op
		if res := r.Exec(context.Background(), &o); res.RC != 0 {
			b.Fatalf("%+v", res)
		}
	}
}

func BenchmarkDaemon(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("resources=%d", n), func(b *testing.B) {
			path, _ := startDaemon(b, 0)
			ctx := context.Background()
			clients := make([]*ipc.Client, n)
			for i := range clients {
				clients[i] = dialT(b, path)
				id := fmt.Sprintf("noop%d", i)
				if err := clients[i].Call(ctx, OpRegister, RegisterArgs{ID: id, Agent: "ocf:hbtest:noop"}, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range clients {
				ops := b.N / n
				if i < b.N%n {
					ops++
				}
				wg.Add(1)
				go func(c *ipc.Client, id string, ops int) {
					defer wg.Done()
					for k := 0; k < ops; k++ {
						var res lrm.Result
						if err := c.Call(ctx, OpExec, ExecRequest{Resource: id, Action: "monitor"}, &res); err != nil || res.RC != 0 {
							errs <- fmt.Errorf("%v %+v", err, res)
							return
						}
					}
				}(clients[i], fmt.Sprintf("noop%d", i), ops)
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/el.Seconds(), "ops/s")
		})
	}
}

// BenchmarkOverhead alternates a bare fork/exec of the no-op agent with
// the same operation through the runner, so that both see the same load,
// and reports hb-lrmd's overhead per operation.
func BenchmarkOverhead(b *testing.B) {
	p := noopPath(b)
	td, _ := filepath.Abs("../agents/testdata")
	d := agents.DefaultDirs(td)
	d.OCFRoot = filepath.Join(td, "ocf")
	r := &agents.Runner{Dirs: d}
	op := lrm.Op{Resource: "n", Agent: lrm.Agent{Class: lrm.OCF, Provider: "hbtest", Type: "noop"}, Action: "monitor"}
	var bare, runner time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := exec.Command(p, "monitor").Run(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		o := op
		if res := r.Exec(context.Background(), &o); res.RC != 0 {
			b.Fatalf("%+v", res)
		}
		bare += t1.Sub(t0)
		runner += time.Since(t1)
	}
	b.ReportMetric(float64(bare.Nanoseconds())/float64(b.N), "bare-ns/op")
	b.ReportMetric(float64(runner.Nanoseconds())/float64(b.N), "runner-ns/op")
	b.ReportMetric(float64((runner-bare).Nanoseconds())/float64(b.N), "overhead-ns/op")
}
