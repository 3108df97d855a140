package daemon

// A Primary without UpToDate data of its own, as DRBD 8.4 allows: a
// Diskless Primary connected to an UpToDate peer, and a Primary whose
// disk is Inconsistent while it is SyncTarget of an UpToDate peer.
//
// Reads of blocks that are not UpToDate here (all of them when diskless;
// those still out of sync in the bitmap on a SyncTarget) are read from
// the peer with P_DATA_REQUEST / P_DATA_REPLY; in-sync blocks are read
// locally (DRBD's read-balancing prefer-local). Writes go to the peer and,
// when a disk is attached, to it too; they fail unless the peer has them,
// since the only UpToDate copy is there. A write that reached both disks
// with protocol C makes its blocks in sync.
//
// On a SyncTarget, application writes and resync requests of the same
// blocks are serialised, as DRBD does with its resync extents: a resync
// request is not sent while a write of its blocks is in progress, and a
// write waits until the resync replies for its blocks have been written.
// Otherwise a resync reply read by the source before the write reached it
// could land here after the write and undo it.

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/linux-ha-go/ha/lib/drbd/api"
	"github.com/linux-ha-go/ha/lib/drbd/repl"
	"github.com/linux-ha-go/ha/lib/drbd/state"
)

// peerIO is a volume's bookkeeping for I/O through the peer (r.mu).
type peerIO struct {
	// rs are the resync requests in flight, by the link they were sent
	// on; app is the application write in progress on a volume that is
	// not UpToDate (write serialises them, so there is at most one).
	rs     []blockRange
	app    blockRange
	appSet bool
	// lastReason is the last "no data" reason logged, so that a stream
	// of failing requests logs once.
	lastReason string
	// rmw orders partial-sector writes (align.go); not under r.mu.
	rmw sectorLock
	// rr is read-balancing round-robin's toggle; localReads the local
	// reads in progress (least-pending). Atomic, not under r.mu.
	rr         atomic.Uint32
	localReads atomic.Int32
	// edUUID is DRBD's ed_uuid: the current UUID of the data this
	// Primary last exposed (its own, or its peer's while diskless).
	edUUID uint64
}

// blockRange is a run of 4 KiB bitmap blocks.
type blockRange struct {
	p           *peerLink
	first, last uint64
}

func (a blockRange) overlaps(first, last uint64) bool { return a.first <= last && first <= a.last }

func blocksOf(off int64, n int) (uint64, uint64) {
	return uint64(off) / 4096, (uint64(off) + uint64(n) - 1) / 4096
}

// rsBegin registers a resync request of n blocks from blk on link p,
// after any application write of those blocks has finished (r.mu held;
// it may wait). It reports false when the link went meanwhile.
func (v *Volume) rsBegin(p *peerLink, blk, n uint64) bool {
	for v.peer == p && v.pio.appSet && v.pio.app.overlaps(blk, blk+n-1) {
		v.r.cond.Wait()
	}
	if v.peer != p {
		return false
	}
	v.rsBusy(blk, blk+n-1) // drops the requests of links that went
	v.pio.rs = append(v.pio.rs, blockRange{p: p, first: blk, last: blk + n - 1})
	return true
}

// rsEnd ends the resync request of link p for size bytes at sector
// (r.mu held): it leaves the request window (rsInFlight), and only the
// request registered with that start and length on that link is
// forgotten, so that an answer that matches no request of ours lifts no
// wait of an application write.
func (v *Volume) rsEnd(p *peerLink, sector uint64, size uint32) {
	if v.rsInFlight > 0 {
		v.rsInFlight--
	}
	first, last := sector/8, (sector*512+uint64(size)-1)/4096
	for i, a := range v.pio.rs {
		if a.p == p && a.first == first && a.last == last {
			v.pio.rs = append(v.pio.rs[:i], v.pio.rs[i+1:]...)
			break
		}
	}
	v.r.cond.Broadcast()
}

// clearInSync clears the bits of the blocks a resync answer says are in
// sync (r.mu held) and returns how many were set, as DRBD's
// drbd_set_in_sync: only blocks the range covers whole (rounded
// inward), clamped to the bitmap, and nothing for a size that is not a
// multiple of 512 or exceeds 128 MiB (logged as nonsense).
func (v *Volume) clearInSync(sector uint64, size uint32) uint64 {
	if v.bm == nil {
		return 0
	}
	if size == 0 || size%512 != 0 || size > 128<<20 || sector > 1<<54 {
		v.r.d.Log.Warn("resync answer with a nonsense range ignored", "resource", v.r.name, "minor", v.minor, "sector", sector, "size", size)
		return 0
	}
	first, end := (sector+7)/8, (sector+uint64(size)/512)/8
	if end <= first {
		return 0
	}
	return v.bm.ClearRange(first, end-first)
}

// rsBusy reports whether a resync request of the current link overlaps
// the blocks (r.mu held); requests of a link that went are dropped.
func (v *Volume) rsBusy(first, last uint64) bool {
	busy := false
	keep := v.pio.rs[:0]
	for _, a := range v.pio.rs {
		if a.p != v.peer {
			continue
		}
		keep = append(keep, a)
		busy = busy || a.overlaps(first, last)
	}
	v.pio.rs = keep
	return busy
}

// localUpToDate reports whether the local disk holds UpToDate data
// (r.mu held): then the plain paths in dev.go serve the device.
func (v *Volume) localUpToDate() bool { return v.disk != nil && v.m.S.Disk == state.UpToDate }

// viaPeer reports whether I/O must involve the peer's data: the volume
// is Primary without UpToDate data of its own.
func (v *Volume) viaPeer() bool {
	v.r.mu.Lock()
	defer v.r.mu.Unlock()
	return v.m.S.Role == state.Primary && !v.localUpToDate()
}

// peerForData is the link through which the peer's UpToDate data can be
// reached, or nil (r.mu held).
func (v *Volume) peerForData() *peerLink {
	p := v.link()
	if p == nil || p.sender == nil || !state.PeerReadable(v.m.S) {
		return nil
	}
	return p
}

// noData logs why I/O fails, once per reason, and returns ErrNoData with
// the reason (r.mu held).
func (v *Volume) noData() error {
	reason := state.NoDataReason(v.m.S)
	if reason == "" {
		reason = "the volume is " + v.m.S.Role.String() + " with disk " + v.m.S.Disk.String()
	}
	if reason != v.pio.lastReason {
		v.pio.lastReason = reason
		v.r.d.Log.Error("I/O error: "+reason, "resource", v.r.name, "minor", v.minor)
	}
	return fmt.Errorf("%w (%s)", ErrNoData, reason)
}

// noDataReason is what status shows for a Primary that cannot serve
// I/O (r.mu held).
func (v *Volume) noDataReason() string { return state.NoDataReason(v.m.S) }

// read serves an application read: locally when the local data is
// UpToDate, else block by block from the local disk (in sync) or the
// peer (out of sync, or no disk).
func (v *Volume) read(p []byte, off int64) error {
	r := v.r
	r.mu.Lock()
	if v.localUpToDate() {
		link := v.peerForData()
		rb := parseReadBalancing(optOr(v.diskOptions(), "read-balancing", "prefer-local"))
		r.mu.Unlock()
		if link != nil && rb.remote(off, &v.pio.rr, int(v.pio.localReads.Load()), link.reads.Pending()) {
			if err := link.readPeer(p, off); err == nil {
				return nil
			}
			// The local data is UpToDate too: it serves what the peer
			// did not.
		}
		v.pio.localReads.Add(1)
		defer v.pio.localReads.Add(-1)
		return v.readLocal(p, off)
	}
	v.noteExposed()
	link := v.peerForData()
	// Only a SyncTarget's bitmap (exchanged, merged) tells which local
	// blocks are good, and it still does when the connection is gone
	// (drbd_may_do_local_read); while the bitmaps are exchanged, and
	// without a disk, everything comes from the peer.
	c := v.m.S.Conn
	useLocal := v.disk != nil && v.bm != nil && v.m.S.Disk == state.Inconsistent &&
		(c == state.SyncTarget || c == state.PausedSyncT || c < state.Connected)
	if link == nil && !useLocal {
		err := v.noData()
		r.mu.Unlock()
		return err
	}
	if link != nil {
		v.pio.lastReason = "" // in reach again: the next loss is logged
	}
	type span struct {
		from, to int // byte offsets in p
		peer     bool
	}
	var spans []span
	first, last := blocksOf(off, len(p))
	for b := first; b <= last; b++ {
		from := max(int64(b*4096), off) - off
		to := min(int64(b+1)*4096, off+int64(len(p))) - off
		remote := !useLocal || v.bm.Test(b)
		if n := len(spans); n > 0 && spans[n-1].peer == remote {
			spans[n-1].to = int(to)
			continue
		}
		spans = append(spans, span{int(from), int(to), remote})
	}
	r.mu.Unlock()
	for _, s := range spans {
		var err error
		switch {
		case s.peer && link == nil:
			r.mu.Lock()
			err = v.noData()
			r.mu.Unlock()
			return err
		case s.peer:
			err = link.readPeer(p[s.from:s.to], off+int64(s.from))
		default:
			err = v.readLocal(p[s.from:s.to], off+int64(s.from))
		}
		if err != nil {
			return v.ioFailed(err)
		}
	}
	return nil
}

// ioFailed turns an error of the peer path into the I/O error the
// client sees, naming the reason when the data went out of reach.
func (v *Volume) ioFailed(err error) error {
	if errors.Is(err, repl.ErrClosed) || errors.Is(err, context.DeadlineExceeded) {
		v.r.mu.Lock()
		defer v.r.mu.Unlock()
		if v.localUpToDate() {
			return err
		}
		return fmt.Errorf("%w: %v", v.noData(), err)
	}
	return err
}

// readPeer reads p at off from the peer's disk; the request is widened
// to whole sectors when the client's is not.
func (p *peerLink) readPeer(b []byte, off int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.ackTimeout)
	defer cancel()
	start := off &^ 511
	end := (off + int64(len(b)) + 511) &^ 511
	buf := b
	if start != off || end != off+int64(len(b)) {
		buf = make([]byte, end-start)
	}
	err := p.reads.Read(ctx, p.data, buf, start)
	if errors.Is(err, context.DeadlineExceeded) {
		p.r.d.Log.Warn("peer did not answer a read in time; dropping the connection", "resource", p.r.name, "timeout", p.ackTimeout)
		p.close()
	}
	if err != nil {
		return err
	}
	if len(buf) != len(b) {
		copy(b, buf[off-start:])
	}
	p.v.nr.Add(uint64(len(b)) / 1024)
	return nil
}

// writeViaPeer is an application write of a Primary without UpToDate
// data: to the peer (as the protocol says) and to the local disk when one
// is attached. The write succeeds only when the peer has it.
func (v *Volume) writeViaPeer(p []byte, off int64) error {
	v.ioMu.Lock()
	r := v.r
	r.mu.Lock()
	if v.localUpToDate() {
		// The resync ended meanwhile: the plain path serves it.
		r.mu.Unlock()
		v.ioMu.Unlock()
		return v.write(p, off)
	}
	defer v.ioMu.Unlock()
	if off < 0 || off+int64(len(p)) > v.size {
		r.mu.Unlock()
		return fmt.Errorf("godrbd: write beyond the end of the device")
	}
	first, last := blocksOf(off, len(p))
	// Wait for resync replies of these blocks to be written first.
	for v.rsBusy(first, last) && v.peerForData() != nil {
		r.cond.Wait()
	}
	link := v.peerForData()
	if v.m.S.Role != state.Primary || link == nil {
		err := v.noData()
		r.mu.Unlock()
		return err
	}
	v.pio.lastReason = ""
	local := v.disk != nil
	if local {
		if err := v.alBegin(off, len(p)); err != nil {
			r.mu.Unlock()
			return err
		}
		defer v.alEnd(off, len(p))
	}
	protoC := r.net != nil && r.net.proto == repl.ProtoC
	v.pio.app, v.pio.appSet = blockRange{p: link, first: first, last: last}, true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		v.pio.appSet = false
		r.cond.Broadcast()
		r.mu.Unlock()
	}()

	localErr := make(chan error, 1)
	if local {
		go func() { localErr <- v.writeLocal(p, off) }()
	} else {
		localErr <- nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), link.ackTimeout)
	err := link.sender.Write(ctx, off, p, false)
	cancel()
	lerr := <-localErr
	if errors.Is(err, context.DeadlineExceeded) {
		v.r.d.Log.Warn("peer did not acknowledge a write in time; dropping the connection", "resource", v.r.name, "timeout", link.ackTimeout)
		link.close()
	}
	if err != nil {
		// The only UpToDate copy did not get it: the write fails. A local
		// copy that did is out of sync as far as the bitmap knows.
		r.mu.Lock()
		if local {
			v.markOutOfSync(off, len(p))
		}
		r.mu.Unlock()
		return v.ioFailed(err)
	}
	v.ns.Add(uint64(len(p)) / 1024)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case !local || v.bm == nil:
	case lerr != nil:
		// The peer has it, the local disk does not: read it from the peer.
		v.r.d.Log.Warn("local write failed; the blocks stay out of sync", "resource", v.r.name, "offset", off, "error", lerr)
		v.markOutOfSync(off, len(p))
	case protoC && v.peer == link && (v.m.S.Conn == state.SyncTarget || v.m.S.Conn == state.PausedSyncT):
		// On both disks: the whole blocks it covered are in sync.
		f := (uint64(off) + 4095) / 4096
		l := (uint64(off) + uint64(len(p))) / 4096 // exclusive
		if l > f {
			v.bm.ClearRange(f, l-f)
		}
	}
	return nil
}

// flushViaPeer flushes a Primary without UpToDate data: the peer's
// barrier must succeed, it holds the data.
func (v *Volume) flushViaPeer() error {
	v.r.mu.Lock()
	link := v.peerForData()
	if link == nil {
		err := v.noData()
		v.r.mu.Unlock()
		return err
	}
	v.r.mu.Unlock()
	localErr := make(chan error, 1)
	go func() { localErr <- v.flushLocal() }()
	ctx, cancel := context.WithTimeout(context.Background(), link.ackTimeout)
	err := link.sender.Flush(ctx)
	cancel()
	lerr := <-localErr
	if errors.Is(err, context.DeadlineExceeded) {
		link.close()
	}
	if err != nil {
		return v.ioFailed(err)
	}
	if lerr != nil {
		v.r.d.Log.Warn("local flush failed", "resource", v.r.name, "error", lerr)
	}
	return nil
}

// dataReply hands a P_DATA_REPLY to the read waiting for it.
func (p *peerLink) dataReply(b []byte) error { return p.reads.Reply(b) }

// peerWroteAlone marks the blocks of a P_DATA out of sync when the peer
// that sent it has no disk (receive_Data: "we have the only disk of the
// cluster"), so that a disk the peer attaches later is resynced with
// them.
func (v *Volume) peerWroteAlone(cmd repl.Cmd, sector uint64, n int) {
	if cmd != repl.PData || n == 0 {
		return
	}
	v.r.mu.Lock()
	defer v.r.mu.Unlock()
	if v.m.S.PDsk < state.Inconsistent {
		v.markOutOfSync(int64(sector)*512, n)
	}
}

// noteExposed records the UUID of the data a Primary exposes (r.mu
// held): its own while its disk is UpToDate, the peer's while it has no
// disk and is connected.
func (v *Volume) noteExposed() {
	s := v.m.S
	switch {
	case s.Role != state.Primary:
	case v.localUpToDate():
		v.pio.edUUID = v.m.UUID.Current
	case s.Conn >= state.Connected && s.Disk < state.Inconsistent && v.peerUUIDs.Current != 0:
		v.pio.edUUID = v.peerUUIDs.Current
	}
}

// errDataNotCurrent is ERR_DATA_NOT_CURRENT.
const errDataNotCurrent = 150

// attachToExposed refuses to attach, to a Primary without a connection,
// a disk whose data is not the data the Primary exposed (r.mu held):
// it would serve other data under its users' feet (drbd_adm_attach).
func (v *Volume) attachToExposed(current uint64) error {
	s := v.m.S
	ed := v.pio.edUUID
	if s.Conn >= state.Connected || s.Role != state.Primary || ed == 0 || ed&^1 == current&^1 {
		return nil
	}
	v.r.d.Log.Error(fmt.Sprintf("%s/%d drbd%d: Can only attach to data with current UUID=%016X", v.r.name, v.vnr, v.minor, ed))
	return &api.Refusal{Object: v.obj(), Code: errDataNotCurrent, Text: "Can only attach to the data we lost last (see kernel log)."}
}

// peerUUIDsArrived checks the peer's UUIDs of a new connection (r.mu
// held): a diskless Primary connects only to the data it exposed
// (receive_uuids); any other data ends the connection attempts
// (StandAlone). It also follows the peer's current UUID while this node
// is a diskless Primary.
func (v *Volume) peerUUIDsArrived(u state.UUIDs) error {
	s := v.m.S
	ed := v.pio.edUUID
	if s.Conn < state.Connected && s.Disk < state.Inconsistent && s.Role == state.Primary && ed != 0 && ed&^1 != u.Current&^1 {
		v.r.d.Log.Error(fmt.Sprintf("%s/%d drbd%d: Can only connect to data with current UUID=%016X", v.r.name, v.vnr, v.minor, ed),
			"peer-current", fmt.Sprintf("%016X", u.Current),
			"hint", "the peer's data changed while this diskless Primary was disconnected; demote it (godrbdadm secondary) before connecting")
		v.step(state.Disconnect{Force: true})
		return fmt.Errorf("drbd: the peer's data (current UUID %016X) is not the data this diskless Primary exposed (%016X)", u.Current, ed)
	}
	return nil
}

// readForPeer reads a block the peer asked for. A P_DATA_REQUEST (the
// peer's application read) is served only from UpToDate data, as DRBD's
// receive_DataRequest does; the peer gets P_NEG_DREPLY otherwise.
func (v *Volume) readForPeer(cmd repl.Cmd, p []byte, off int64) error {
	if cmd == repl.PDataRequest {
		v.r.mu.Lock()
		ok := v.localUpToDate()
		v.r.mu.Unlock()
		if !ok {
			return ErrNoData
		}
	}
	return v.readLocal(p, off)
}

// resyncFailed is the target's side of a P_NEG_RS_DREPLY: the source
// could not read the block. The request is over (writes of its blocks
// may go on); the block stays out of sync, as DRBD's drbd_rs_failed_io
// leaves it.
func (p *peerLink) resyncFailed(sector uint64, size uint32) {
	r := p.r
	r.mu.Lock()
	defer r.mu.Unlock()
	v := p.v
	if v.peer != p {
		return
	}
	v.rsEnd(p, sector, size)
	r.d.Log.Warn("the sync source could not read a block; it stays out of sync", "resource", r.name, "minor", v.minor, "sector", sector, "size", size)
}

// sizeWithoutDisk gives a volume without a local disk the size of its
// peer's device (receive_sizes: the current size, else the disk's), so
// that a node that never attached can be a Diskless Primary (r.mu held).
func (v *Volume) sizeWithoutDisk(dsize, csize uint64) {
	if v.disk != nil {
		return
	}
	n := csize
	if n == 0 {
		n = dsize
	}
	if n > 0 {
		v.size = int64(n*512) &^ 4095
	}
}

// linkEnded fails the reads still waiting on a link that ended.
func (p *peerLink) linkEnded(err error) {
	if err == nil {
		err = errors.New("connection closed")
	}
	p.reads.Fail(err)
}
