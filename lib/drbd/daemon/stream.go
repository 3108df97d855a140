package daemon

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/api"
	"github.com/linux-ha-go/ha/lib/drbd/conf"
	"github.com/linux-ha-go/ha/lib/drbd/nbd"
	"github.com/linux-ha-go/ha/lib/drbd/repl"
	"github.com/linux-ha-go/ha/lib/drbd/state"
	"golang.org/x/sys/unix"
)

// The streamed write path: the NBD server hands a write's payload over
// in pieces as it arrives; each piece goes to the peer and to the local
// disk at once, so the peer works on the first piece while the client
// still sends the last, and the writer is answered by whichever
// goroutine sees the last acknowledgement, with no hand-off between
// goroutines on the way.

var (
	_ nbd.StreamWriter = (*device)(nil)
	_ nbd.AsyncFlusher = (*device)(nil)
)

// streamWrite is one application write in flight.
type streamWrite struct {
	v         *Volume
	link      *peerLink
	off       int64
	n         int
	pos       int
	fua       bool
	replicate bool
	// pending counts the pieces the peer has not acknowledged, plus one
	// until End.
	pending atomic.Int32
	lost    atomic.Bool // a piece did not reach the peer
	cut     atomic.Bool // ... because the connection was lost (completeThawed)
	mu      sync.Mutex
	err     error // the local disk's error
	done    func(error)
	ack     func(error) // s.pieceAcked, bound once
	// rmwLocked: the write holds pio.rmw's read lock (BeginWrite) and
	// releases it when it completes.
	rmwLocked bool
}

// streamWrites keeps finished writes for reuse (New is set in init: the
// pool's New and finish refer to each other).
var streamWrites sync.Pool

func init() {
	streamWrites.New = func() any {
		s := &streamWrite{}
		s.ack = s.pieceAcked
		return s
	}
}

// BeginWrite starts a streamed write. Writes of partial sectors
// (read-modify-write, align.go) and writes of a Primary without UpToDate
// data of its own (through the peer, peerread.go) go whole through
// WriteAt instead.
func (d *device) BeginWrite(off int64, n int, fua bool) (nbd.PieceWriter, error) {
	v := d.v
	if off%512 != 0 || n%512 != 0 {
		return nil, nil
	}
	v.waitThawed()
	// Held until the write completes: no read-modify-write of a partial
	// sector may interleave with it.
	v.pio.rmw.mu.RLock()
	v.r.mu.Lock()
	defer v.r.mu.Unlock()
	if v.m.S.Role == state.Primary && !v.localUpToDate() {
		v.pio.rmw.mu.RUnlock()
		return nil, nil
	}
	w, err := v.startWrite(off, n, fua)
	if err != nil {
		v.pio.rmw.mu.RUnlock()
		return nil, err
	}
	w.rmwLocked = true
	return w, nil
}

// startWrite checks and prepares an application write of n bytes at off
// (r.mu held): the activity log holds its extents until it completes,
// and when the peer cannot have it its blocks are marked out of sync
// first.
func (v *Volume) startWrite(off int64, n int, fua bool) (*streamWrite, error) {
	if off < 0 || off+int64(n) > v.size {
		return nil, fmt.Errorf("godrbd: write beyond the end of the device")
	}
	if v.disk == nil || v.m.S.Role != state.Primary || v.m.S.Disk != state.UpToDate {
		return nil, ErrNoData
	}
	if err := v.alBegin(off, n); err != nil {
		return nil, err
	}
	link := v.link()
	s := v.m.S
	replicate := link != nil && link.sender != nil && s.Conn >= state.Connected && s.PDsk >= state.Inconsistent
	if !replicate {
		v.markOutOfSync(off, n)
		link = nil
	}
	w := streamWrites.Get().(*streamWrite)
	w.v, w.link, w.off, w.n, w.pos, w.fua, w.replicate, w.rmwLocked = v, link, off, n, 0, fua, replicate, false
	w.err, w.done = nil, nil
	w.lost.Store(false)
	w.cut.Store(false)
	w.pending.Store(1)
	return w, nil
}

// write is an application write taken whole (read-modify-write, trim,
// the pieces of a large write): as a streamed write of one piece.
func (v *Volume) write(p []byte, off int64) error {
	if v.viaPeer() { // a Primary without UpToDate data of its own (peerread.go)
		return v.writeViaPeer(p, off)
	}
	v.r.mu.Lock()
	w, err := v.startWrite(off, len(p), false)
	v.r.mu.Unlock()
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	w.Piece(p)
	w.End(false, func(err error) { done <- err })
	return <-done
}

// Piece sends the piece to the peer and writes it here, in that order,
// under ioMu: both disks see overlapping writes in the same order, and
// no resync read slips between the two.
func (w *streamWrite) Piece(p []byte) {
	v := w.v
	off := w.off + int64(w.pos)
	w.pos += len(p)
	last := w.pos == w.n
	v.ioMu.Lock()
	if w.replicate {
		w.pending.Add(1)
		// A FUA write is FUA on its last piece: the peer flushes after
		// writing it, which covers the pieces before.
		w.link.sender.Submit(off, p, w.fua && last, w.ack)
	}
	err := v.writeLocal(p, off)
	v.ioMu.Unlock()
	if err != nil {
		w.mu.Lock()
		if w.err == nil {
			w.err = err
		}
		w.mu.Unlock()
	}
}

func (w *streamWrite) pieceAcked(err error) {
	if err != nil {
		w.lost.Store(true)
		if errors.Is(err, repl.ErrClosed) {
			w.cut.Store(true)
		}
	}
	if w.pending.Add(-1) == 0 {
		w.finish()
	}
}

// End completes the write once the peer has acknowledged every piece.
func (w *streamWrite) End(short bool, done func(error)) {
	if short {
		w.mu.Lock()
		if w.err == nil {
			w.err = fmt.Errorf("godrbd: the client sent a short write")
		}
		w.mu.Unlock()
	} else if w.fua {
		if err := w.v.flushLocal(); err != nil {
			w.mu.Lock()
			if w.err == nil {
				w.err = err
			}
			w.mu.Unlock()
		}
	}
	w.done = done
	if w.pending.Add(-1) == 0 {
		w.finish()
	}
}

func (w *streamWrite) finish() {
	v := w.v
	v.alEnd(w.off, w.n)
	if w.rmwLocked {
		defer v.pio.rmw.mu.RUnlock()
	}
	if w.lost.Load() || w.short() {
		// The peer may not have all of it: resync those blocks later.
		if w.lost.Load() {
			v.r.d.Log.Warn("replication failed; blocks marked out of sync", "resource", v.r.name, "offset", w.off, "bytes", w.n)
		}
		v.r.mu.Lock()
		v.markOutOfSync(w.off, w.n)
		v.r.mu.Unlock()
	} else if w.replicate {
		v.ns.Add(uint64(w.n) / 1024)
	}
	w.mu.Lock()
	err, done := w.err, w.done
	w.mu.Unlock()
	link, cut := w.link, w.cut.Load()
	w.v, w.link, w.done = nil, nil, nil
	streamWrites.Put(w)
	v.complete(link, cut, err, done)
}

func (w *streamWrite) short() bool { return w.pos != w.n }

// FlushAsync flushes the local disk and, connected, closes the epoch
// with a barrier the peer acknowledges after its own flush; done runs
// when both are durable, on whichever goroutine finishes last.
func (d *device) FlushAsync(done func(error)) {
	v := d.v
	v.waitThawed()
	if v.viaPeer() {
		// Through the peer: restarted if the peer goes away meanwhile.
		go func() { done(v.restartFrozen(v.flush)) }()
		return
	}
	v.flushAsync(done)
}

// flush makes the writes durable here and, connected, on the peer.
func (v *Volume) flush() error {
	done := make(chan error, 1)
	v.flushAsync(func(err error) { done <- err })
	return <-done
}

func (v *Volume) flushAsync(done func(error)) {
	v.r.mu.Lock()
	viaPeer := v.m.S.Role == state.Primary && !v.localUpToDate() // peerread.go
	link := v.link()
	ok := link != nil && link.sender != nil && v.m.S.Conn >= state.Connected
	v.r.mu.Unlock()
	if viaPeer {
		v.complete(nil, false, v.flushViaPeer(), done)
		return
	}
	if !ok {
		v.complete(nil, false, v.flushLocal(), done)
		return
	}
	f := &flushOp{v: v, link: link, done: done}
	f.pending.Store(2)
	link.sender.SubmitFlush(f.remote)
	f.local(v.flushLocal())
}

type flushOp struct {
	v       *Volume
	link    *peerLink
	cut     atomic.Bool // the barrier's acknowledgement was cut by the loss of link
	pending atomic.Int32
	err     atomic.Pointer[error]
	done    func(error)
}

func (f *flushOp) remote(err error) {
	if err != nil {
		f.v.r.d.Log.Warn("remote flush failed", "resource", f.v.r.name, "error", err)
		if errors.Is(err, repl.ErrClosed) {
			f.cut.Store(true)
		}
	}
	f.dec()
}

func (f *flushOp) local(err error) {
	if err != nil {
		f.err.Store(&err)
	}
	f.dec()
}

func (f *flushOp) dec() {
	if f.pending.Add(-1) != 0 {
		return
	}
	var err error
	if p := f.err.Load(); p != nil {
		err = *p
	}
	f.v.complete(f.link, f.cut.Load(), err, f.done)
}

// watchAcks drops the connection when a write or barrier has waited
// for the peer longer than timeout × ko-count (DRBD's ko-count: the
// peer is declared dead), until stop is closed.
func (p *peerLink) watchAcks(stop <-chan struct{}) {
	every := max(p.ackTimeout/8, 50*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if age := p.sender.Oldest(); age > p.ackTimeout {
				p.r.d.Log.Warn("peer did not acknowledge a write in time; dropping the connection", "resource", p.r.name, "waited", age.Round(time.Millisecond), "timeout", p.ackTimeout)
				p.r.mu.Lock()
				p.v.noteLinkError(fmt.Sprintf("the peer did not acknowledge a write within %v (timeout × ko-count)", p.ackTimeout))
				p.r.mu.Unlock()
				p.close()
				return
			}
		}
	}
}

// lost marks out of sync the writes the peer had not confirmed on
// stable storage when the connection failed (DRBD's transfer log):
// after a crash of the peer they may be missing there, and the next
// resync brings them over.
func (p *peerLink) lost(writes []repl.Extent) {
	v := p.v
	v.r.mu.Lock()
	defer v.r.mu.Unlock()
	n := uint64(0)
	for _, w := range writes {
		n += v.setOutOfSync(w.Off, w.Len)
	}
	if n > 0 {
		v.writeBitmap()
		v.r.d.Log.Info("writes not yet on the peer's stable storage marked out of sync", "resource", v.r.name, "minor", v.minor, "writes", len(writes), "KiB", n*4)
	}
}

// negAck marks out of sync a block the peer failed to write
// (P_NEG_ACK), clamped to the device.
func (p *peerLink) negAck(sector uint64, size uint32) {
	v := p.v
	v.r.mu.Lock()
	defer v.r.mu.Unlock()
	if sector >= uint64(v.size)/512 {
		return
	}
	n := min(int64(size), v.size-int64(sector)*512)
	v.r.d.Log.Warn("the peer failed to write a block; marked out of sync", "resource", v.r.name, "minor", v.minor, "sector", sector, "bytes", n)
	v.markOutOfSync(int64(sector)*512, int(n))
}

// setBuffers applies net { sndbuf-size; rcvbuf-size } to the data
// socket; 0, DRBD's default, leaves the kernel's autotuning. As root the
// sizes are forced past net.core.wmem_max/rmem_max, as DRBD's kernel
// sockets are not bound by them.
func setBuffers(c net.Conn, opts []api.Option) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	for _, o := range []struct {
		name         string
		plain, force int
	}{{"sndbuf-size", unix.SO_SNDBUF, unix.SO_SNDBUFFORCE}, {"rcvbuf-size", unix.SO_RCVBUF, unix.SO_RCVBUFFORCE}} {
		s, ok := opt(opts, o.name)
		if !ok {
			continue
		}
		n, ok := conf.ParseNumber(s, '1')
		if !ok || n <= 0 {
			continue
		}
		rc.Control(func(fd uintptr) {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o.force, int(n)) != nil {
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o.plain, int(n))
			}
		})
	}
}
