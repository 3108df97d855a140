package daemon

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/api"
	"github.com/linux-ha-go/ha/lib/drbd/conf"
	"github.com/linux-ha-go/ha/lib/drbd/repl"
	"github.com/linux-ha-go/ha/lib/drbd/state"
)

// resyncPace is a volume's resync pacing as the sync target runs it:
// the sectors whose replies arrived (fed to repl.ResyncController every
// step), the controller's current rate, and when the resync began (for
// /proc/drbd's speed). The counters are atomic: receive adds, the
// request loop and status read.
type resyncPace struct {
	sectIn atomic.Uint64 // sectors answered (data, in-sync, negative) since the resync began
	want   atomic.Int64  // the controller's rate, KiB/s (/proc/drbd's "want:")
	start  atomic.Int64  // unix nanoseconds the resync began, 0 = none
}

// answered counts a resync reply of size bytes (r.mu need not be held).
func (v *Volume) rsAnswered(size uint32) { v.pace.sectIn.Add(uint64(size) / 512) }

// resyncConfig reads the options that pace a resync: the disk options
// resync-rate, c-plan-ahead, c-fill-target, c-delay-target, c-max-rate
// and the net option max-buffers, in drbd.conf's units (DRBD 8.4's
// defaults where unset).
func resyncConfig(disk, netOpts []api.Option) repl.ResyncConfig {
	c := repl.DefaultResyncConfig
	num := func(opts []api.Option, name string, unit byte, dst *int) {
		if s, ok := opt(opts, name); ok {
			if n, ok := conf.ParseNumber(s, unit); ok {
				*dst = int(n)
			}
		}
	}
	num(disk, "resync-rate", 'k', &c.ResyncRate)
	num(disk, "c-plan-ahead", '1', &c.CPlanAhead)
	num(disk, "c-fill-target", 's', &c.CFillTarget)
	num(disk, "c-delay-target", '1', &c.CDelayTarget)
	num(disk, "c-max-rate", 'k', &c.CMaxRate)
	num(netOpts, "max-buffers", '1', &c.MaxBuffers)
	return c
}

// cMinRate is disk { c-min-rate } in KiB/s (DRBD 8.4's default 250).
func cMinRate(disk []api.Option) int {
	if s, ok := opt(disk, "c-min-rate"); ok {
		if n, ok := conf.ParseNumber(s, 'k'); ok {
			return int(n)
		}
	}
	return 250
}

// resyncLoop is the sync target's request loop, DRBD's resync timer:
// every repl.ResyncStep it feeds the controller the sectors answered
// since the last step and requests as many 4 KiB blocks as it says
// (merged into requests of up to rsReqSize, rsCsumReqSize with
// csums-alg), in bitmap order. With
// c-plan-ahead 0 the controller holds the fixed resync-rate. While the
// resync is paused (pause-sync here or on the peer, resync-after) it
// requests nothing; while application I/O goes to the disk and the
// resync runs faster than c-min-rate it holds back one step, as DRBD's
// drbd_rs_should_slow_down. The options are read at the start of the
// resync and again at every step, so that disk-options (adjust) take
// effect on a running resync.
func (v *Volume) resyncLoop(p *peerLink, runs []repl.Run, csums string) error {
	r := v.r
	sum := csumReq(v, csums)
	r.mu.Lock()
	cfg := resyncConfig(v.diskOptions(), r.netOptions())
	r.mu.Unlock()
	ctl := repl.NewResyncController(cfg)
	v.pace.start.Store(time.Now().UnixNano())
	defer v.pace.want.Store(0)
	lastIn := v.pace.sectIn.Load()
	var ownReads uint64 // KiB read here for csums-alg requests
	lastApp := v.appIO(0)
	var hist [10]uint64 // sectors answered in the last ten steps
	var hn int
	tick := time.NewTicker(repl.ResyncStep * time.Millisecond)
	defer tick.Stop()
	var b []byte
	var id uint64
	per := uint64(rsReqSize / 4096)
	if csums != "" {
		per = rsCsumReqSize / 4096
	}
	ri, blk := 0, uint64(0)
	if len(runs) > 0 {
		blk = runs[0].Start
	}
	for {
		r.mu.Lock()
		if v.peer != p || v.m.S.Conn != state.SyncTarget && v.m.S.Conn != state.PausedSyncT {
			r.mu.Unlock()
			return nil
		}
		paused := v.m.S.UserIsp || v.peerState.UserIsp || v.peerState.AftrIsp
		if now := resyncConfig(v.diskOptions(), r.netOptions()); now != cfg {
			cfg = now
			ctl.Reconfigure(cfg)
		}
		minRate := cMinRate(v.diskOptions())
		r.mu.Unlock()
		if paused {
			<-tick.C
			continue
		}
		in := v.pace.sectIn.Load()
		sectIn := int(in - lastIn)
		lastIn = in
		hist[hn%len(hist)] = uint64(sectIn)
		hn++
		var recent uint64
		for _, h := range hist {
			recent += h
		}
		app := v.appIO(ownReads)
		busy := app-lastApp > appBusyKiB
		lastApp = app
		// recent is sectors in the last second: /2 is KiB/s.
		if repl.ShouldSlowDown(minRate, int(recent/2), busy) {
			ctl.Hold(sectIn)
		} else {
			number := ctl.Step(sectIn)
			v.pace.want.Store(int64(ctl.Rate()))
			for number > 0 && ri < len(runs) {
				run := runs[ri]
				n := min(uint64(number), per, run.Start+run.N-blk)
				r.mu.Lock()
				// After any application write of these blocks
				// (a SyncTarget Primary's, peerread.go).
				if !v.rsBegin(p, blk, n) {
					r.mu.Unlock()
					return nil
				}
				v.rsInFlight++
				r.mu.Unlock()
				id++
				q := repl.BlockReq{Sector: blk * 8, BlockID: id, BlkSize: uint32(n * 4096)}
				b = q.Append(b[:0])
				var err error
				if d := sum(q); d != nil {
					ownReads += n * 4
					err = p.data.Send(repl.PCsumRSRequest, b, d)
				} else {
					err = p.data.Send(repl.PRSDataRequest, b)
				}
				if err != nil {
					return err
				}
				number -= int(n)
				blk += n
				if blk >= run.Start+run.N {
					ri++
					if ri < len(runs) {
						blk = runs[ri].Start
					}
				}
			}
			if ri >= len(runs) {
				return nil
			}
		}
		<-tick.C
	}
}

// verifyLoop is online verify's request loop (VerifyS), paced by the
// same controller as a resync (DRBD's make_ov_request): every step it
// requests as many 4 KiB blocks as the controller says, from block 0 to
// n. Verify does not give way to application I/O here.
func (v *Volume) verifyLoop(p *peerLink, n uint64) error {
	r := v.r
	r.mu.Lock()
	cfg := resyncConfig(v.diskOptions(), r.netOptions())
	r.mu.Unlock()
	ctl := repl.NewResyncController(cfg)
	defer v.pace.want.Store(0)
	last := v.pace.sectIn.Load()
	tick := time.NewTicker(repl.ResyncStep * time.Millisecond)
	defer tick.Stop()
	var b []byte
	for i := uint64(0); i < n; {
		r.mu.Lock()
		running := v.peer == p && v.m.S.Conn == state.VerifyS
		if now := resyncConfig(v.diskOptions(), r.netOptions()); now != cfg {
			cfg = now
			ctl.Reconfigure(cfg)
		}
		r.mu.Unlock()
		if !running {
			return nil
		}
		in := v.pace.sectIn.Load()
		number := ctl.Step(int(in - last))
		last = in
		v.pace.want.Store(int64(ctl.Rate()))
		for ; number > 0 && i < n; number-- {
			b = repl.BlockReq{Sector: i * 8, BlockID: i + 1, BlkSize: 4096}.Append(b[:0])
			if err := p.data.Send(repl.POVRequest, b); err != nil {
				return err
			}
			i++
		}
		if i < n {
			<-tick.C
		}
	}
	return nil
}

// appIO is the application's I/O on this node's disk so far (KiB): all
// that was written and read (the application's, the peer's replicated
// writes), less what the resync wrote and what this loop read for
// checksums (own).
func (v *Volume) appIO(own uint64) int64 {
	return int64(v.dw.Load()+v.dr.Load()) - int64(v.rsBlocksRecv.Load()*4+own)
}

// appBusyKiB is how much application I/O in one step counts as busy:
// DRBD's 64 sectors, plus one resync request, which the receiver counts
// as written a moment before it counts it as resync.
const appBusyKiB = 32 + rsReqSize/1024

// netOptions are the net options in force (r.mu held).
func (r *Resource) netOptions() []api.Option {
	if r.netOpts.set {
		return r.netOpts.opts
	}
	if r.net != nil && r.net.opts != nil {
		return r.net.opts
	}
	return r.cfg.Net
}

// procSpeed is /proc/drbd's second resync line: the time left, the
// speed over the last steps and on average, and on the sync target the
// controller's rate (r.mu held).
func (v *Volume) procSpeed(left, total uint64) string {
	start := v.pace.start.Load()
	var avg, eta uint64
	if start != 0 {
		secs := uint64(max(time.Since(time.Unix(0, start)).Seconds(), 1))
		avg = (total - left) / secs
		if avg > 0 {
			eta = left / avg
		}
	}
	s := fmt.Sprintf("\tfinish: %d:%02d:%02d speed: %s (%s)", eta/3600, eta/60%60, eta%60, thousands(avg), thousands(avg))
	if c := v.m.S.Conn; c == state.SyncTarget || c == state.PausedSyncT {
		s += " want: " + thousands(uint64(max(v.pace.want.Load(), 0)))
	}
	return s + " K/sec\n"
}

// thousands prints n with a comma every three digits, as /proc/drbd.
func thousands(n uint64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
