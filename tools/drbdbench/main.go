// drbdbench measures godrbd's data path and resync against baselines
// taken in the same run, and prints ratios:
//
//   - sequential write (1 MiB blocks, fsync at the end) and 4 KiB random
//     write with an fsync after each (QD1), with fio, through the NBD
//     export of a Primary godrbd replicating to a second godrbd over
//     127.0.0.1 → 127.0.0.2, for protocols A and C; against the same fio
//     job on a raw file and through nbdkit's file plugin (unreplicated),
//     and on two raw files at once (the disk shared by two writers, as
//     by the two nodes of a pair on one machine);
//   - the same jobs on a protocol C pair whose peer keeps its disk in
//     RAM (a file on /dev/shm): on one machine both nodes' disks share
//     its one disk, which two machines would not; the two pairs bound
//     the cost of replication from both sides (DRBD_BENCH_PEER_RAM=0
//     leaves this pair out);
//   - the full resync after `primary --force` (MB/s, timed from the
//     command to UpToDate/UpToDate and checked with the daemon's resync
//     counters) against one Go TCP stream on the same loopback.
//
// Every file is fallocated so sparse-file allocation does not dominate.
// It runs the real bin/godrbd and bin/godrbdadm; everything it starts it
// stops by PID. DRBD_BENCH_SIZE (default 512M) sets the size of each
// file, DRBD_BENCH_RUNTIME (seconds, default 5) the time-based jobs,
// DRBD_BENCH_ROUNDS (default 1) how many interleaved rounds (medians).
// Run it as root so the page cache can be dropped between jobs.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/api"
	"github.com/linux-ha-go/ha/lib/drbd/daemon"
	"github.com/linux-ha-go/ha/lib/ipc"
)

var (
	binDir = flag.String("bin", "bin", "directory holding godrbd and godrbdadm")
	keep   = flag.Bool("keep", false, "keep the scratch directory")
)

// goal: protocol C through the export at this fraction of nbdkit's
// unreplicated figures or better.
const goal = 0.90

type result struct {
	seqMBs   float64 // 1 MiB sequential write, MB/s
	syncIOPS float64 // 4 KiB write+fsync, IOPS
	wP50     float64 // µs
	fP50     float64 // µs
}

var procs []*exec.Cmd

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "drbdbench: error:", err)
		stopAll()
		os.Exit(1)
	}
}

func stopAll() {
	for _, c := range procs {
		if c.ProcessState == nil {
			c.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { c.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				c.Process.Kill()
				<-done
			}
		}
	}
	procs = nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "G"):
		s, mult = s[:len(s)-1], 1<<30
	case strings.HasSuffix(s, "M"):
		s, mult = s[:len(s)-1], 1<<20
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("DRBD_BENCH_SIZE=%q: want a size such as 512M or 1G", s)
	}
	return n * mult, nil
}

func run() error {
	for _, p := range []string{"fio", "nbdkit", "fallocate"} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%s not installed (Debian packages fio, nbdkit, util-linux)", p)
		}
	}
	size, err := parseSize(envOr("DRBD_BENCH_SIZE", "512M"))
	if err != nil {
		return err
	}
	runtime := envOr("DRBD_BENCH_RUNTIME", "5")
	// fio writes 7/8 of the file, so it fits the device left after
	// internal meta data.
	fioSize := strconv.FormatInt(size*7/8/(1<<20), 10) + "M"
	bin, err := filepath.Abs(*binDir)
	if err != nil {
		return err
	}
	for _, p := range []string{"godrbd", "godrbdadm"} {
		if _, err := os.Stat(filepath.Join(bin, p)); err != nil {
			return fmt.Errorf("%s: build it first (make, or go build -o bin/ ./cmd/godrbd ./cmd/godrbdadm)", filepath.Join(bin, p))
		}
	}
	dir, err := os.MkdirTemp("", "drbdbench")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		stopAll()
		os.RemoveAll(dir)
		os.Exit(130)
	}()
	defer stopAll()

	fmt.Printf("drbdbench %s: files %s (fallocated), fio size %s, runtime %ss, dir %s\n",
		time.Now().UTC().Format(time.RFC3339), envOr("DRBD_BENCH_SIZE", "512M"), fioSize, runtime, dir)

	rounds, err := strconv.Atoi(envOr("DRBD_BENCH_ROUNDS", "1"))
	if err != nil || rounds < 1 {
		return fmt.Errorf("DRBD_BENCH_ROUNDS=%q: want a positive number", os.Getenv("DRBD_BENCH_ROUNDS"))
	}
	rawName := "raw file (psync, buffered)"
	raw2Name := "2 raw files at once, each"
	kitNames := []string{"nbdkit file", "nbdkit file cache=none"}
	protos := []string{"A", "C"}
	paths := append([]string{rawName, raw2Name}, kitNames...)
	for _, p := range protos {
		paths = append(paths, "protocol "+p)
	}
	// Both nodes' disks are files on this machine's one disk, so every
	// replicated write costs that disk twice (two writes, two flushes,
	// twice the bytes for the final fsync), which two machines would
	// not. The same protocol C pair with the peer's disk in RAM (a
	// file on tmpfs) bounds the cost from the other side: the peer's
	// disk is then free. Real pairs lie between the two.
	ramDir, ramWhy := peerRAMDir(size)
	const ramPath = "protocol C, peer disk in RAM"
	if ramDir != "" {
		defer os.RemoveAll(ramDir)
		paths = append(paths, ramPath)
	}
	all := map[string][]result{}
	var tcps []float64
	resyncs := map[string][]float64{}
	// Every round measures every path in turn, so they all see the same
	// load on the machine.
	for round := 1; round <= rounds; round++ {
		if rounds > 1 {
			fmt.Printf("round %d of %d\n", round, rounds)
		}
		raw := filepath.Join(dir, "raw.img")
		if err := fallocate(raw, size); err != nil {
			return err
		}
		r, err := fioPair([][]string{{"--ioengine=psync", "--filename=" + raw}}, fioSize, runtime)
		if err != nil {
			return err
		}
		all[rawName] = append(all[rawName], r)
		// Two writers at once on two files of this disk: what a pair on
		// one machine asks of it.
		raw2 := filepath.Join(dir, "raw2.img")
		if err := fallocate(raw2, size); err != nil {
			return err
		}
		r, err = fioPair([][]string{{"--ioengine=psync", "--filename=" + raw}, {"--ioengine=psync", "--filename=" + raw2}}, fioSize, runtime)
		if err != nil {
			return err
		}
		all[raw2Name] = append(all[raw2Name], r)
		os.Remove(raw)
		os.Remove(raw2)
		kitImg := filepath.Join(dir, "nbdkit.img")
		if err := fallocate(kitImg, size); err != nil {
			return err
		}
		for i, extra := range [][]string{nil, {"cache=none"}} {
			sock := filepath.Join(dir, "nbdkit.sock")
			stop, err := startNbdkit(sock, kitImg, extra...)
			if err != nil {
				return err
			}
			r, err := fioPair([][]string{{"--ioengine=nbd", "--uri=nbd+unix:///?socket=" + sock}}, fioSize, runtime)
			stop()
			if err != nil {
				return err
			}
			all[kitNames[i]] = append(all[kitNames[i]], r)
		}
		os.Remove(kitImg)
		tcp, err := tcpThroughput(2 * time.Second)
		if err != nil {
			return err
		}
		tcps = append(tcps, tcp)
		for _, proto := range protos {
			r, rs, err := benchPair(bin, filepath.Join(dir, "proto"+proto), "", proto, size, fioSize, runtime)
			if err != nil {
				return fmt.Errorf("protocol %s: %w", proto, err)
			}
			all["protocol "+proto] = append(all["protocol "+proto], r)
			resyncs[proto] = append(resyncs[proto], rs)
		}
		if ramDir != "" {
			r, _, err := benchPair(bin, filepath.Join(dir, "protoCram"), ramDir, "C", size, fioSize, runtime)
			if err != nil {
				return fmt.Errorf("protocol C, peer disk in RAM: %w", err)
			}
			all[ramPath] = append(all[ramPath], r)
		}
	}
	med := map[string]result{}
	for _, p := range paths {
		med[p] = medianResult(all[p])
	}
	rawRes, tcp := med[rawName], median(tcps)

	// Report.
	what := "one round"
	if rounds > 1 {
		what = fmt.Sprintf("medians of %d rounds [per round]", rounds)
	}
	fmt.Printf("\n%s; fio nbd engine on the nbdkit and godrbd paths\n", what)
	fmt.Printf("%-28s %12s %24s\n", "path", "seqW 1M MB/s", "4k W+fsync QD1 IOPS")
	for _, p := range paths {
		r := med[p]
		fmt.Printf("%-28s %12.0f %10.0f (p50 W %3.0fµs / fsync %3.0fµs)", p, r.seqMBs, r.syncIOPS, r.wP50, r.fP50)
		if rounds > 1 {
			fmt.Printf("  seqW %s IOPS %s", each(all[p], func(r result) float64 { return r.seqMBs }), each(all[p], func(r result) float64 { return r.syncIOPS }))
		}
		fmt.Println()
	}
	fmt.Printf("\nratios (seqW / 4k sync W)\n")
	ratio := func(label string, n, d result) {
		fmt.Printf("  %-42s %.2f / %.2f\n", label, n.seqMBs/d.seqMBs, n.syncIOPS/d.syncIOPS)
	}
	for _, p := range protos {
		ratio("protocol "+p+" / raw file", med["protocol "+p], rawRes)
		for _, n := range kitNames {
			ratio("protocol "+p+" / "+n, med["protocol "+p], med[n])
		}
	}
	if ramDir != "" {
		for _, n := range kitNames {
			ratio(ramPath+" / "+n, med[ramPath], med[n])
		}
	}
	for _, n := range kitNames {
		ratio(n+" / raw file", med[n], rawRes)
	}
	fmt.Printf("\nresync (full sync after primary --force, %d MiB, no rate limit) vs one Go TCP stream 127.0.0.1→127.0.0.2 (%.0f MB/s)\n", size>>20, tcp)
	for _, p := range protos {
		rs := median(resyncs[p])
		fmt.Printf("  protocol %s: %.0f MB/s = %.2f of TCP\n", p, rs, rs/tcp)
	}
	base := med[kitNames[0]]
	// verdict prints how a protocol C pair compares with the goal.
	verdict := func(label string, c result) {
		s, y := c.seqMBs/base.seqMBs, c.syncIOPS/base.syncIOPS
		met := "MET"
		if s < goal || y < goal {
			met = "NOT MET"
		}
		fmt.Printf("  %s: seqW %.0f%%, 4k sync W %.0f%% -> %s\n", label, s*100, y*100, met)
	}
	fmt.Printf("\ngoal: protocol C >= %.0f%% of nbdkit's file plugin (default cache, buffered like godrbd's backing file)\n", goal*100)
	verdict("both disks on this machine's disk", med["protocol C"])
	shared := med[raw2Name]
	fmt.Printf("    (this disk shared by two writers, as by the pair's two nodes: each gets seqW %.0f%%, 4k sync W %.0f%% of one writer alone)\n",
		shared.seqMBs/rawRes.seqMBs*100, shared.syncIOPS/rawRes.syncIOPS*100)
	if ramDir == "" {
		fmt.Printf("  peer disk in RAM: not measured (%s)\n", ramWhy)
		return nil
	}
	verdict("peer disk in RAM (the peer's disk costs nothing)", med[ramPath])
	return nil
}

// peerRAMDir makes a directory on /dev/shm for the peer's disk when
// that tmpfs has room for it; otherwise it says why not.
func peerRAMDir(size int64) (string, string) {
	if os.Getenv("DRBD_BENCH_PEER_RAM") == "0" {
		return "", "DRBD_BENCH_PEER_RAM=0"
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err != nil {
		return "", "/dev/shm: " + err.Error()
	}
	if st.Type != 0x01021994 { // TMPFS_MAGIC
		return "", "/dev/shm is not a tmpfs"
	}
	if free := int64(st.Bavail) * st.Bsize; free < size+size/4 {
		return "", fmt.Sprintf("/dev/shm has %d MiB free, %d MiB needed", free>>20, (size+size/4)>>20)
	}
	d, err := os.MkdirTemp("/dev/shm", "drbdbench")
	if err != nil {
		return "", err.Error()
	}
	return d, ""
}

func fallocate(path string, size int64) error {
	if out, err := exec.Command("fallocate", "-l", strconv.FormatInt(size, 10), path).CombinedOutput(); err != nil {
		return fmt.Errorf("fallocate %s: %v %s", path, err, out)
	}
	return nil
}

func dropCaches() {
	exec.Command("sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches").Run()
}

// fioPair runs the two jobs on one target, or on several at once (one
// fio job each, started together): the result is then one job's share,
// the mean over them.
func fioPair(targets [][]string, size, runtime string) (result, error) {
	var r result
	seq, err := fio(targets, "--rw=write", "--bs=1M", "--end_fsync=1", "--size="+size)
	if err != nil {
		return r, err
	}
	sy, err := fio(targets, "--rw=randwrite", "--bs=4k", "--fsync=1", "--time_based", "--runtime="+runtime, "--size="+size)
	if err != nil {
		return r, err
	}
	n := float64(len(targets))
	for i := range targets {
		r.seqMBs += seq[i].Write.BW / 1e6 / n
		r.syncIOPS += sy[i].Write.IOPS / n
		r.wP50 += sy[i].Write.Clat.P["50.000000"] / 1e3 / n
		r.fP50 += sy[i].Sync.Lat.P["50.000000"] / 1e3 / n
	}
	return r, nil
}

type fioJob struct {
	Write struct {
		BW   float64 `json:"bw_bytes"`
		IOPS float64 `json:"iops"`
		Clat struct {
			P map[string]float64 `json:"percentile"`
		} `json:"clat_ns"`
	} `json:"write"`
	Sync struct {
		Lat struct {
			P map[string]float64 `json:"percentile"`
		} `json:"lat_ns"`
	} `json:"sync"`
}

func fio(targets [][]string, job ...string) ([]fioJob, error) {
	dropCaches()
	args := append([]string{"--output-format=json"}, job...) // options before the first --name apply to every job
	for i, t := range targets {
		args = append(append(args, fmt.Sprintf("--name=bench%d", i)), t...)
	}
	out, err := exec.Command("fio", args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%v: %s", err, ee.Stderr)
		}
		return nil, fmt.Errorf("fio %s: %v", strings.Join(args, " "), err)
	}
	if i := strings.IndexByte(string(out), '{'); i > 0 {
		out = out[i:] // the nbd engine says "fio: connected to NBD server" first
	}
	var r struct {
		Jobs []fioJob `json:"jobs"`
	}
	if err := json.Unmarshal(out, &r); err != nil || len(r.Jobs) != len(targets) {
		return nil, fmt.Errorf("fio output: want %d jobs: %v\n%s", len(targets), err, out)
	}
	return r.Jobs, nil
}

func waitFor(limit time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

func startNbdkit(sock, img string, extra ...string) (func(), error) {
	pid := sock + ".pid"
	args := append([]string{"-U", sock, "-P", pid, "file", img}, extra...)
	if out, err := exec.Command("nbdkit", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("nbdkit: %v %s", err, out)
	}
	if err := waitFor(10*time.Second, "nbdkit's pid file", func() bool { _, err := os.Stat(pid); return err == nil }); err != nil {
		return nil, err
	}
	return func() {
		b, _ := os.ReadFile(pid)
		if p, _ := strconv.Atoi(strings.TrimSpace(string(b))); p > 0 {
			syscall.Kill(p, syscall.SIGTERM)
			waitFor(5*time.Second, "nbdkit to exit", func() bool { return syscall.Kill(p, 0) != nil })
		}
		os.Remove(sock)
		os.Remove(pid)
	}, nil
}

// tcpThroughput sends 1 MiB writes over one TCP connection from
// 127.0.0.1 to 127.0.0.2 for d and returns MB/s received.
func tcpThroughput(d time.Duration) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	got := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- 0
			return
		}
		n, _ := io.CopyBuffer(io.Discard, c, make([]byte, 1<<20))
		c.Close()
		got <- n
	}()
	dialer := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}
	c, err := dialer.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 1<<20)
	start := time.Now()
	for time.Since(start) < d {
		if _, err := c.Write(buf); err != nil {
			return 0, err
		}
	}
	c.Close()
	n := <-got
	return float64(n) / time.Since(start).Seconds() / 1e6, nil
}

type node struct {
	name, dir, rundir, disk string
	cmd                     *exec.Cmd
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// benchPair runs two godrbd daemons for one protocol, times the full
// resync after primary --force, then runs the fio jobs on the export.
// peerDiskDir, when set, holds the peer's (bob's) disk instead of dir.
func benchPair(bin, dir, peerDiskDir, proto string, size int64, fioSize, runtime string) (result, float64, error) {
	var res result
	port, err := freePort()
	if err != nil {
		return res, 0, err
	}
	conf := filepath.Join(dir, "drbd.conf")
	a := &node{name: "alice", dir: filepath.Join(dir, "alice")}
	b := &node{name: "bob", dir: filepath.Join(dir, "bob")}
	for _, n := range []*node{a, b} {
		n.rundir, n.disk = filepath.Join(n.dir, "run"), filepath.Join(n.dir, "disk")
		if n == b && peerDiskDir != "" {
			n.disk = filepath.Join(peerDiskDir, "disk")
			defer os.Remove(n.disk)
		}
		if err := os.MkdirAll(n.dir, 0o755); err != nil {
			return res, 0, err
		}
		if err := fallocate(n.disk, size); err != nil {
			return res, 0, err
		}
	}
	defer os.RemoveAll(dir)
	text := fmt.Sprintf(`global { disable-ip-verification; usage-count no; }
resource r0 {
  protocol %s;
  disk { c-plan-ahead 0; resync-rate 4G; }  # the resync unlimited (4 GiB/s, DRBD's largest,
  net { max-buffers 131072; }               # and no cap per 100 ms step from max-buffers/2)
  on alice { device /dev/drbd0; disk %s; address 127.0.0.1:%d; meta-disk internal; }
  on bob   { device /dev/drbd0; disk %s; address 127.0.0.2:%d; meta-disk internal; }
}
`, proto, a.disk, port, b.disk, port)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return res, 0, err
	}
	adm := func(n *node, args ...string) (string, error) {
		cmd := exec.Command(filepath.Join(bin, "godrbdadm"), append([]string{"-c", conf, "--node", n.name, "--rundir", n.rundir}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return string(out), fmt.Errorf("%s: godrbdadm %s: %v\n%s", n.name, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	state := func(n *node, what, want string) func() bool {
		return func() bool { out, _ := adm(n, what, "r0"); return out == want }
	}
	for _, n := range []*node{a, b} {
		n.cmd = exec.Command(filepath.Join(bin, "godrbd"), "--rundir", n.rundir, "--statedir", filepath.Join(n.dir, "state"), "--node", n.name, "run")
		log, err := os.Create(filepath.Join(dir, n.name+".log"))
		if err != nil {
			return res, 0, err
		}
		defer log.Close()
		n.cmd.Stdout, n.cmd.Stderr = log, log
		n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := n.cmd.Start(); err != nil {
			return res, 0, err
		}
		procs = append(procs, n.cmd)
		sock := filepath.Join(n.rundir, api.SocketName)
		if err := waitFor(10*time.Second, n.name+"'s godrbd socket", func() bool {
			c, err := net.Dial("unix", sock)
			if err == nil {
				c.Close()
			}
			return err == nil
		}); err != nil {
			return res, 0, err
		}
		for _, args := range [][]string{{"create-md", "r0"}, {"up", "r0"}} {
			if _, err := adm(n, args...); err != nil {
				return res, 0, err
			}
		}
	}
	defer stopAll()
	if err := waitFor(30*time.Second, "Connected", state(a, "cstate", "Connected")); err != nil {
		return res, 0, err
	}
	dropCaches()
	start := time.Now()
	if _, err := adm(a, "primary", "--force", "r0"); err != nil {
		return res, 0, err
	}
	// Until the sync has started (a few milliseconds), then wait-sync:
	// one blocking request instead of a godrbdadm every 10 ms, whose
	// CPU the resync would share on a small machine.
	if err := waitFor(time.Minute, "the resync to start", func() bool {
		out, _ := adm(a, "cstate", "r0")
		return out == "SyncSource" || out == "PausedSyncS" || state(a, "dstate", "UpToDate/UpToDate")()
	}); err != nil {
		return res, 0, err
	}
	if _, err := adm(a, "wait-sync", "r0"); err != nil {
		return res, 0, err
	}
	took := time.Since(start)
	if err := waitFor(10*time.Second, "UpToDate/UpToDate", state(a, "dstate", "UpToDate/UpToDate")); err != nil {
		return res, 0, err
	}
	st, err := status(a)
	if err != nil {
		return res, 0, err
	}
	moved := float64(st.ResyncBlocksSent) * 4096
	if moved == 0 {
		return res, 0, fmt.Errorf("the daemon's resync counter is 0 after a full sync")
	}
	rs := moved / took.Seconds() / 1e6
	fmt.Printf("protocol %s: resync moved %d MiB (godrbd-resync-blocks-sent) in %v\n", proto, int64(moved)>>20, took.Round(time.Millisecond))
	nbd := daemon.NBDPath(a.rundir, "r0", 0)
	if err := waitFor(10*time.Second, "the NBD export", func() bool { _, err := os.Stat(nbd); return err == nil }); err != nil {
		return res, 0, err
	}
	res, err = fioPair([][]string{{"--ioengine=nbd", "--uri=nbd+unix:///?socket=" + nbd}}, fioSize, runtime)
	if err != nil {
		return res, 0, err
	}
	// The peer must have everything: no blocks left out of sync.
	if st, err := status(a); err == nil && st.OutOfSync != 0 {
		fmt.Printf("protocol %s: warning: %d KiB out of sync after the jobs\n", proto, st.OutOfSync)
	}
	for _, n := range []*node{a, b} {
		adm(n, "down", "r0")
	}
	return res, rs, nil
}

// status is volume 0's peer-device status from godrbd's socket
// (status --json).
func status(n *node) (daemon.PeerDeviceStatus, error) {
	var none daemon.PeerDeviceStatus
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := ipc.Dial(ctx, "godrbd", filepath.Join(n.rundir, api.SocketName))
	if err != nil {
		return none, err
	}
	defer c.Close()
	var rep api.Reply
	if err := c.Call(ctx, api.OpStatus, &api.Request{Op: api.OpStatus, Resource: "r0", Flags: []api.Option{{Name: "json"}}}, &rep); err != nil {
		return none, err
	}
	var st []daemon.Status
	if err := json.Unmarshal([]byte(rep.Text), &st); err != nil || len(st) != 1 ||
		len(st[0].Connections) != 1 || len(st[0].Connections[0].PeerDevices) != 1 {
		return none, fmt.Errorf("status --json: %v\n%s", err, rep.Text)
	}
	return st[0].Connections[0].PeerDevices[0], nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func medianResult(rs []result) result {
	pick := func(f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		return median(v)
	}
	return result{
		seqMBs:   pick(func(r result) float64 { return r.seqMBs }),
		syncIOPS: pick(func(r result) float64 { return r.syncIOPS }),
		wP50:     pick(func(r result) float64 { return r.wP50 }),
		fP50:     pick(func(r result) float64 { return r.fP50 }),
	}
}

func each(rs []result, f func(result) float64) string {
	p := make([]string, len(rs))
	for i, r := range rs {
		p[i] = strconv.FormatFloat(f(r), 'f', 0, 64)
	}
	return "[" + strings.Join(p, ",") + "]"
}
