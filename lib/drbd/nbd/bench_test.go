package nbd

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/testutil"
)

// TestBenchAgainstNbdkit compares this server with nbdkit's file plugin
// serving the same file, with fio's nbd engine and the jobs of
// datapath.md §2.1 (shortened). It runs only with NBD_BENCH=1
// (scripts/bench-nbd.sh); NBD_BENCH_SIZE and NBD_BENCH_RUNTIME override
// the file size (default 1G) and the time-based runtime (default 8s).
func TestBenchAgainstNbdkit(t *testing.T) {
	if os.Getenv("NBD_BENCH") == "" {
		t.Skip("benchmark: set NBD_BENCH=1 (scripts/bench-nbd.sh)")
	}
	need(t, "fio", "fio")
	need(t, "nbdkit", "nbdkit")
	size := os.Getenv("NBD_BENCH_SIZE")
	if size == "" {
		size = "1G"
	}
	runtime := os.Getenv("NBD_BENCH_RUNTIME")
	if runtime == "" {
		runtime = "8"
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "bench.img")
	if out, err := exec.Command("fallocate", "-l", size, img).CombinedOutput(); err != nil {
		t.Fatalf("fallocate: %v %s", err, out)
	}
	b, err := OpenFile(img, false)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	jobs := []struct{ name, args string }{
		{"seq write 1M MB/s", "--rw=write --bs=1M --end_fsync=1 --size=" + size},
		{"4k write+fsync QD1 IOPS", "--rw=randwrite --bs=4k --fsync=1 --time_based --runtime=" + runtime + " --size=" + size},
		{"4k randwrite QD16 IOPS", "--rw=randwrite --bs=4k --iodepth=16 --time_based --runtime=" + runtime + " --size=" + size},
		{"4k randread QD1 IOPS", "--rw=randread --bs=4k --time_based --runtime=" + runtime + " --size=" + size},
	}
	type server struct {
		name  string
		start func(sock string) func()
	}
	servers := []server{
		{"godrbd nbd (Go)", func(sock string) func() {
			s, _ := serveFileAt(t, b, sock)
			return s
		}},
		{"nbdkit file cache=none", nbdkit(t, img, "cache=none")},
		{"nbdkit file (default cache)", nbdkit(t, img)},
	}
	res := map[string]map[string]string{}
	for round := 0; round < 2; round++ {
		for _, sv := range servers {
			sock := filepath.Join(dir, fmt.Sprintf("s%d.sock", round))
			stop := sv.start(sock)
			for _, j := range jobs {
				exec.Command("sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches").Run()
				args := append([]string{"--name=bench", "--ioengine=nbd", "--uri=nbd+unix:///?socket=" + sock, "--output-format=json"}, strings.Fields(j.args)...)
				out, err := exec.Command("fio", args...).Output()
				if err != nil {
					t.Fatalf("fio %v: %v", args, err)
				}
				var r struct {
					Jobs []struct {
						Write struct {
							BW   float64 `json:"bw_bytes"`
							IOPS float64 `json:"iops"`
							Clat struct {
								P map[string]float64 `json:"percentile"`
							} `json:"clat_ns"`
						} `json:"write"`
						Read struct {
							IOPS float64 `json:"iops"`
						} `json:"read"`
						Sync struct {
							Lat struct {
								P map[string]float64 `json:"percentile"`
							} `json:"lat_ns"`
						} `json:"sync"`
					} `json:"jobs"`
				}
				if i := strings.IndexByte(string(out), '{'); i > 0 {
					out = out[i:] // fio says "fio: connected to NBD server" first
				}
				if err := json.Unmarshal(out, &r); err != nil || len(r.Jobs) == 0 {
					t.Fatalf("fio output: %v\n%s", err, out)
				}
				jr := r.Jobs[0]
				var v string
				switch {
				case strings.HasPrefix(j.name, "seq"):
					v = strconv.FormatFloat(jr.Write.BW/1e6, 'f', 0, 64)
				case strings.Contains(j.name, "fsync"):
					v = fmt.Sprintf("%.0f (p50 W %.0fµs / fsync %.0fµs)", jr.Write.IOPS, jr.Write.Clat.P["50.000000"]/1e3, jr.Sync.Lat.P["50.000000"]/1e3)
				case strings.Contains(j.name, "randread"):
					v = fmt.Sprintf("%.0f", jr.Read.IOPS)
				default:
					v = fmt.Sprintf("%.0f", jr.Write.IOPS)
				}
				if res[sv.name] == nil {
					res[sv.name] = map[string]string{}
				}
				res[sv.name][j.name] += v + "; "
			}
			stop()
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n%s, fio nbd engine, %s file, 2 rounds (values per round)\n", time.Now().UTC().Format(time.RFC3339), size)
	for _, sv := range servers {
		fmt.Fprintf(&sb, "%s\n", sv.name)
		for _, j := range jobs {
			fmt.Fprintf(&sb, "  %-26s %s\n", j.name, res[sv.name][j.name])
		}
	}
	t.Log(sb.String())
}

func nbdkit(t *testing.T, img string, extra ...string) func(sock string) func() {
	return func(sock string) func() {
		pid := sock + ".pid"
		args := append([]string{"-U", sock, "-P", pid, "file", img}, extra...)
		if out, err := exec.Command("nbdkit", args...).CombinedOutput(); err != nil {
			t.Fatalf("nbdkit: %v %s", err, out)
		}
		testutil.WaitFor(t, 10*time.Second, "nbdkit writing its pid file", func() bool {
			_, err := os.Stat(pid)
			return err == nil
		})
		return func() {
			b, _ := os.ReadFile(pid)
			p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			if p > 0 {
				if proc, err := os.FindProcess(p); err == nil {
					proc.Kill()
					for i := 0; i < 500; i++ {
						if proc.Signal(nil0()) != nil {
							break
						}
						time.Sleep(10 * time.Millisecond)
					}
				}
			}
			os.Remove(sock)
			os.Remove(pid)
		}
	}
}

func nil0() os.Signal { return syscall.Signal(0) }
