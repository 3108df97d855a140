package daemon

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/linux-ha-go/ha/lib/drbd/iobuf"
	"github.com/linux-ha-go/ha/lib/drbd/meta"
	"github.com/linux-ha-go/ha/lib/drbd/nbd"
	"github.com/linux-ha-go/ha/lib/drbd/state"
)

// export is a volume's NBD export, served while the volume is Primary.
type export struct {
	ln     net.Listener
	cancel context.CancelFunc
	open   atomic.Int32
	wg     sync.WaitGroup
	path   string
}

// NBDPath is where a volume's NBD socket lives: <rundir>/<resource>.nbd
// for volume 0, <rundir>/<resource>-<vnr>.nbd for the others.
func NBDPath(rundir, resource string, vnr int) string {
	if vnr == 0 {
		return filepath.Join(rundir, resource+".nbd")
	}
	return filepath.Join(rundir, resource+"-"+strconv.Itoa(vnr)+".nbd")
}

// ErrNoData is an I/O error: the volume has no UpToDate data here.
var ErrNoData = errors.New("godrbd: no UpToDate data on this node")

func (v *Volume) openCount() int {
	if v.exp == nil {
		return 0
	}
	return int(v.exp.open.Load())
}

// startExport serves the volume over NBD (r.mu held).
func (v *Volume) startExport() {
	if v.exp != nil {
		return
	}
	path := NBDPath(v.r.d.Rundir, v.r.name, v.vnr)
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		v.r.d.Log.Error("NBD export", "path", path, "error", err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &export{ln: ln, cancel: cancel, path: path}
	v.exp = e
	srv := nbd.NewServer(nbd.Options{Log: v.r.d.Log}, &nbd.Export{Name: "", Description: v.r.name, Backend: &device{v: v}})
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.open.Add(1)
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				defer e.open.Add(-1)
				srv.ServeConn(ctx, c)
				c.Close()
			}()
		}
	}()
	v.r.d.Log.Info("NBD export", "resource", v.r.name, "path", path)
}

// stopExport ends the export (r.mu held; the connections end without it).
func (v *Volume) stopExport() {
	e := v.exp
	if e == nil {
		return
	}
	v.exp = nil
	e.ln.Close()
	e.cancel()
	os.Remove(e.path)
}

// device is the Backend the NBD server sees: reads from the local disk,
// writes through replication.
type device struct{ v *Volume }

func (d *device) Size() int64 {
	d.v.r.mu.Lock()
	defer d.v.r.mu.Unlock()
	return d.v.size
}

func (d *device) ReadAt(p []byte, off int64) (int, error) {
	// Locally when the local data is UpToDate, else through the peer
	// (peerread.go).
	if err := d.v.restartFrozen(func() error { return d.v.read(p, off) }); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (d *device) WriteAt(p []byte, off int64) (int, error) {
	// Partial sectors: align.go.
	if err := d.v.restartFrozen(func() error { return d.v.writeAny(p, off) }); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (d *device) Flush() error { return d.v.restartFrozen(d.v.flush) }

func (d *device) Trim(off, n int64) error {
	zero := iobuf.Aligned(int(min(n, 1<<20)))
	for n > 0 {
		k := min(n, int64(len(zero)))
		if err := d.v.restartFrozen(func() error { return d.v.writeAny(zero[:k], off) }); err != nil {
			return err
		}
		off += k
		n -= k
	}
	return nil
}

func (v *Volume) readLocal(p []byte, off int64) error {
	v.r.mu.Lock()
	disk := v.disk
	v.r.mu.Unlock()
	if disk == nil {
		return ErrNoData
	}
	_, err := disk.ReadAt(p, off)
	v.dr.Add(uint64(len(p)) / 1024)
	return err
}

func (v *Volume) writeLocal(p []byte, off int64) error {
	v.r.mu.Lock()
	disk := v.disk
	v.r.mu.Unlock()
	if disk == nil {
		return ErrNoData
	}
	_, err := disk.WriteAt(p, off)
	v.dw.Add(uint64(len(p)) / 1024)
	return err
}

func (v *Volume) flushLocal() error {
	v.r.mu.Lock()
	disk := v.disk
	v.r.mu.Unlock()
	if disk == nil {
		return nil
	}
	return disk.Flush()
}

// markOutOfSync records blocks the peer does not have (r.mu held); the
// bitmap reaches the disk before the write is acknowledged.
func (v *Volume) markOutOfSync(off int64, n int) {
	if v.setOutOfSync(off, n) > 0 {
		v.writeBitmap()
	}
}

// setOutOfSync sets the bits of a byte range in the bitmap in memory
// (r.mu held) and returns how many were not set before.
func (v *Volume) setOutOfSync(off int64, n int) uint64 {
	if v.bm == nil || n <= 0 {
		return 0
	}
	first, last := blocksOf(off, n)
	return v.bm.SetRange(first, last-first+1)
}

func extents(off int64, n int) (uint32, uint32) {
	return meta.ExtentOfSector(uint64(off) / 512), meta.ExtentOfSector((uint64(off) + uint64(n) - 1) / 512)
}

// alPrefetch is how many extents past a sequential write join the
// transaction its cold extent needs anyway (at most an eighth of
// al-extents): a 1 MiB sequential writer then pays one synchronous AL
// write per 32 MiB instead of one per 4 MiB extent. After a crash as
// Primary they are resynced with the rest of the log, which al-extents
// already bounds.
const alPrefetch = 7

// alBegin puts the extents of a write into the activity log, writing a
// transaction first when one of them was cold (r.mu held): after a
// crash as Primary, apply-al marks them out of sync. A write that
// continues the previous one also brings the extents after it in.
func (v *Volume) alBegin(off int64, n int) error {
	if v.al == nil || v.md == nil {
		return nil
	}
	first, last := extents(off, n)
	sequential := off > 0 && off == v.alNextOff
	v.alNextOff = off + int64(n)
	evicted := false
	for e := first; e <= last; e++ {
		_, ev, err := v.al.Begin(e)
		if err != nil {
			for held := first; held < e; held++ {
				v.al.End(held)
			}
			return err
		}
		evicted = evicted || ev != meta.LCFree
	}
	if !v.al.Pending() {
		return nil
	}
	if sequential {
		lastExt := meta.ExtentOfSector(uint64(v.size-1) / 512)
		for e := last + 1; e <= last+uint32(min(alPrefetch, v.al.Slots()/8)) && e <= lastExt; e++ {
			ok, ev := v.al.Prefetch(e)
			if !ok {
				break
			}
			evicted = evicted || ev != meta.LCFree
		}
	}
	if evicted {
		// The bitmap holds what the evicted extents lack before the
		// transaction that drops them is on disk.
		v.writeBitmap()
	}
	block, o := v.al.Transaction()
	if err := v.md.WriteALBlock(block, o); err != nil {
		return err
	}
	v.alWrites.Add(1)
	return nil
}

func (v *Volume) alEnd(off int64, n int) {
	v.r.mu.Lock()
	defer v.r.mu.Unlock()
	if v.al == nil {
		return
	}
	first, last := extents(off, n)
	for e := first; e <= last; e++ {
		v.al.End(e)
	}
}

// waitThawed holds an application request while IO is frozen
// (suspend-io, on-no-data-accessible suspend-io, fencing
// resource-and-stonith while fence-peer runs), as DRBD holds new
// requests; it returns at once on a node that is no longer Primary,
// whose requests then fail as usual.
func (v *Volume) waitThawed() {
	if !v.frozen.Load() {
		return
	}
	r := v.r
	r.mu.Lock()
	for v.m.S.Suspended() && v.m.S.Role == state.Primary {
		r.cond.Wait()
	}
	r.mu.Unlock()
}

// restartFrozen runs an application request and, when it failed because
// the data went out of reach and on-no-data-accessible suspend-io froze
// IO for it, runs it again once IO thaws (DRBD restarts frozen
// requests: a diskless Primary's write resumes when its peer is back).
// A request that succeeds while IO is frozen completes when it thaws.
func (v *Volume) restartFrozen(do func() error) error {
	r := v.r
	for {
		v.waitThawed()
		err := do()
		if err == nil {
			v.waitThawed()
			return nil
		}
		if !errors.Is(err, ErrNoData) {
			return err
		}
		r.mu.Lock()
		// A request cut by the loss of its link: the machine takes the
		// loss in first (the link goes with the NetFailure step). A link
		// that is gone or new by now is not waited for.
		if link := v.link(); link != nil {
			for v.link() == link && link.broken() {
				r.cond.Wait()
			}
		}
		retry := v.m.S.SuspNod && v.m.S.Role == state.Primary
		r.mu.Unlock()
		if !retry {
			return err
		}
	}
}

// complete runs done for an application write or flush that finished,
// through completeThawed when IO is frozen or the write's peer part
// was cut by the loss of link.
func (v *Volume) complete(link *peerLink, cut bool, err error, done func(error)) {
	if !cut && !v.frozen.Load() {
		done(err)
		return
	}
	v.completeThawed(link, cut, err, done)
}

// completeThawed runs done for a write or flush that finished, holding
// it back while IO is frozen: as in DRBD, no request completes while
// suspended. One whose peer part was cut by the loss of link (cut) is
// held under fencing resource-and-stonith as well: until the machine
// has taken the loss in (it freezes IO then), IO has thawed (fence-peer
// outdated the peer, or resume-io), and, when the peer came back
// meanwhile, the peer is past its handshake, so that it knows it lacks
// those blocks (they are marked out of sync and move by resync). A node
// cut off from its peer thus never acknowledges a write the peer,
// promoted in its place, would lack. done runs on a goroutine of its
// own when it waits; a request held while the node stopped being
// Primary (a split brain's pri-lost-after-sb, a forced down) fails.
func (v *Volume) completeThawed(link *peerLink, cut bool, err error, done func(error)) {
	r := v.r
	r.mu.Lock()
	hold := v.held(link, cut) || cut && v.m.Cfg.Fencing == state.FenceResourceAndStonith && v.m.S.Role == state.Primary
	r.mu.Unlock()
	if !hold {
		done(err)
		return
	}
	go func() {
		r.mu.Lock()
		for v.held(link, cut) {
			r.cond.Wait()
		}
		demoted := v.m.S.Role != state.Primary
		r.mu.Unlock()
		if demoted && err == nil {
			err = ErrHeldDemoted
		}
		done(err)
	}()
}

// ErrHeldDemoted fails a write or flush that was held while I/O was
// frozen and the node stopped being Primary meanwhile.
var ErrHeldDemoted = errors.New("godrbd: the node stopped being Primary while I/O was frozen")

// held says whether a finished write or flush must wait still (r.mu
// held; see completeThawed). A node that is no longer Primary holds
// nothing.
func (v *Volume) held(link *peerLink, cut bool) bool {
	s := v.m.S
	switch {
	case s.Role != state.Primary:
		return false
	case s.Suspended():
		return true
	case !cut:
		return false
	case s.Conn >= state.Connected && v.link() == link:
		return true // the loss is not taken in yet
	}
	switch s.Conn {
	case state.WFReportParams, state.WFBitMapS, state.WFBitMapT, state.WFSyncUUID, state.StartingSyncS, state.StartingSyncT:
		return true // the peer is back, in its handshake
	}
	return false
}
