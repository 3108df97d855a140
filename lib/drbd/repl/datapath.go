package repl

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Backend is the local disk the receiving side writes to and the sync
// source reads from.
type Backend interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Flush() error
}

// Protocol letters (net { protocol }).
const (
	ProtoA = 1
	ProtoB = 2
	ProtoC = 3
)

// ErrClosed is returned for writes still waiting when the connection
// goes away.
var ErrClosed = errors.New("drbd: connection lost")

// Sender is the Primary's side of replication: it sends each write as
// P_DATA on the data socket and completes it as the protocol says (A:
// when sent, B: on P_RECV_ACK, C: on P_WRITE_ACK), and turns a flush
// into a barrier that the peer acknowledges once its disk is flushed.
// Acks arrive on the meta socket; run Acks in its own goroutine. A
// completion runs on the goroutine that sees it (the sender's for
// protocol A, Acks' otherwise), so the writer is answered with no
// further hand-off.
type Sender struct {
	data, meta *Conn
	proto      int

	mu      sync.Mutex
	seq     uint32
	nextID  uint64
	barrier uint32
	inEpoch uint32
	waiting map[uint64]pending // block id -> completion
	bwait   map[uint32]pending // barrier nr -> completion
	err     error
	hdr     []byte

	// OnResyncAck, if set, is called for each P_RS_WRITE_ACK: the peer
	// (the sync target) wrote that resync block, so the source clears
	// its bits.
	OnResyncAck func(sector uint64, size uint32)
	// OnInSync, if set, is called for each P_RS_IS_IN_SYNC: the sync
	// source found the block's checksum equal (csums-alg), nothing moves.
	OnInSync func(sector uint64, size uint32)
	// OnLost, if set, is called once when the connection fails, with
	// every write sent since the last acknowledged barrier (DRBD's
	// transfer log): the peer acknowledged some of them, but none is
	// known to be on its stable storage, so the owner marks them out of
	// sync before the waiting writes complete.
	OnLost func([]Extent)
	// MaxEpoch closes an epoch with a barrier after this many writes
	// (net { max-epoch-size }, default 2048), which bounds the transfer
	// log.
	MaxEpoch uint32

	// OnNegAck, if set, is called for each P_NEG_ACK: the peer failed
	// to write that block, so the owner marks it out of sync (the
	// write itself may have completed already, under protocols A and
	// B, as DRBD's got_NegAck allows for).
	OnNegAck func(sector uint64, size uint32)
	// OnNegDReply, if set, is called for each P_NEG_DREPLY: the peer
	// could not serve a P_DATA_REQUEST (see Reads.NegReply).
	OnNegDReply func(a BlockAck)
	// OnNegRSDReply, if set, is called for each P_NEG_RS_DREPLY: the
	// sync source could not read a block the target asked for.
	OnNegRSDReply func(sector uint64, size uint32)

	cur    []Extent // writes of the open epoch
	closed []epoch  // epochs closed by a barrier not acknowledged yet
	spare  [][]Extent
}

// Extent is a write's byte range.
type Extent struct {
	Off int64
	Len int
}

type epoch struct {
	nr     uint32
	writes []Extent
}

// pending is a write or barrier waiting for the peer.
type pending struct {
	done func(error)
	sent time.Time
}

// NewSender returns a Sender for the protocol (ProtoA/B/C).
func NewSender(data, meta *Conn, proto int) *Sender {
	return &Sender{data: data, meta: meta, proto: proto, waiting: map[uint64]pending{}, bwait: map[uint32]pending{}, barrier: 1}
}

// Submit replicates one write of data at byte offset off (a multiple of
// 512) and calls done exactly once when the protocol's completion point
// is reached or the connection fails: for protocol A before Submit
// returns, otherwise from Acks. data must stay unchanged until then.
func (s *Sender) Submit(off int64, data []byte, fua bool, done func(error)) {
	if off%512 != 0 {
		done(fmt.Errorf("drbd: write at %d is not sector aligned", off))
		return
	}
	flags := uint32(0)
	if fua {
		flags |= DPFUA
	}
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		done(err)
		return
	}
	s.seq++
	s.nextID++
	id := s.nextID
	switch s.proto {
	case ProtoB:
		flags |= DPSendReceiveAck
	case ProtoC:
		flags |= DPSendWriteAck
	}
	if s.proto != ProtoA {
		s.waiting[id] = pending{done: done, sent: time.Now()}
	}
	s.inEpoch++
	s.cur = append(s.cur, Extent{off, len(data)})
	h := DataHeader{Sector: uint64(off) / 512, BlockID: id, SeqNum: s.seq, DPFlags: flags}
	s.hdr = h.Append(s.hdr[:0])
	err := s.data.Send(PData, s.hdr, data)
	if err == nil && s.inEpoch >= s.maxEpoch() {
		err = s.barrierLocked(pending{})
	}
	s.mu.Unlock()
	if err != nil {
		s.fail(err) // completes this write too, when it waits for an ack
		if s.proto == ProtoA {
			done(s.Err())
		}
		return
	}
	if s.proto == ProtoA {
		done(nil)
	}
}

// Write is Submit that waits: it returns when the protocol's completion
// point is reached, or when ctx ends first.
func (s *Sender) Write(ctx context.Context, off int64, data []byte, fua bool) error {
	ch := make(chan error, 1)
	s.Submit(off, data, fua, func(err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SubmitFlush closes the current epoch with a barrier; done is called
// once, from Acks, on the peer's P_BARRIER_ACK, which it sends after its
// writes of the epoch are on stable storage (or when the connection
// fails).
func (s *Sender) SubmitFlush(done func(error)) {
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		done(err)
		return
	}
	err := s.barrierLocked(pending{done: done, sent: time.Now()})
	s.mu.Unlock()
	if err != nil {
		s.fail(err)
	}
}

func (s *Sender) maxEpoch() uint32 {
	if s.MaxEpoch == 0 {
		return 2048
	}
	return s.MaxEpoch
}

// barrierLocked closes the open epoch with P_BARRIER (s.mu held); p is
// who waits for its acknowledgement (none for an epoch closed because it
// was full).
func (s *Sender) barrierLocked(p pending) error {
	nr := s.barrier
	s.barrier++
	s.inEpoch = 0
	if p.sent.IsZero() {
		p.sent = time.Now()
	}
	s.bwait[nr] = p
	s.closed = append(s.closed, epoch{nr: nr, writes: s.cur})
	s.cur = nil
	if n := len(s.spare); n > 0 {
		s.cur, s.spare = s.spare[n-1][:0], s.spare[:n-1]
	}
	s.hdr = Barrier{Barrier: nr}.Append(s.hdr[:0])
	return s.data.Send(PBarrier, s.hdr)
}

// barrierAcked forgets the epochs up to nr: their writes are on the
// peer's stable storage (s.mu held).
func (s *Sender) barrierAcked(nr uint32) {
	i := 0
	for i < len(s.closed) && int32(s.closed[i].nr-nr) <= 0 {
		if len(s.spare) < 4 {
			s.spare = append(s.spare, s.closed[i].writes[:0])
		}
		i++
	}
	s.closed = append(s.closed[:0], s.closed[i:]...)
}

// Flush is SubmitFlush that waits.
func (s *Sender) Flush(ctx context.Context) error {
	ch := make(chan error, 1)
	s.SubmitFlush(func(err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Err is the error that ended the connection, or nil.
func (s *Sender) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Oldest is how long the oldest write or barrier still waiting for the
// peer has waited (0 when none waits): the connection's owner drops a
// peer that lets it grow beyond timeout × ko-count.
func (s *Sender) Oldest() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first time.Time
	for _, p := range s.waiting {
		if first.IsZero() || p.sent.Before(first) {
			first = p.sent
		}
	}
	for _, p := range s.bwait {
		if first.IsZero() || p.sent.Before(first) {
			first = p.sent
		}
	}
	if first.IsZero() {
		return 0
	}
	return time.Since(first)
}

func (s *Sender) fail(err error) {
	s.mu.Lock()
	first := s.err == nil
	if first {
		s.err = fmt.Errorf("%w: %v", ErrClosed, err)
	}
	err = s.err
	var lost []Extent
	if first {
		for _, e := range s.closed {
			lost = append(lost, e.writes...)
		}
		lost = append(lost, s.cur...)
		s.closed, s.cur = nil, nil
	}
	var dones []func(error)
	for id, p := range s.waiting {
		dones = append(dones, p.done)
		delete(s.waiting, id)
	}
	for nr, p := range s.bwait {
		dones = append(dones, p.done)
		delete(s.bwait, nr)
	}
	s.mu.Unlock()
	if len(lost) > 0 && s.OnLost != nil {
		s.OnLost(lost)
	}
	for _, d := range dones {
		if d != nil {
			d(err)
		}
	}
}

func (s *Sender) complete(id uint64, err error) {
	s.mu.Lock()
	p, ok := s.waiting[id]
	delete(s.waiting, id)
	s.mu.Unlock()
	if ok {
		p.done(err)
	}
}

// Acks reads the meta socket and completes writes and barriers until the
// connection fails; it then fails everything still waiting.
func (s *Sender) Acks() error {
	for {
		h, p, err := s.meta.Recv()
		if err == nil {
			err = s.ack(h.Cmd, p)
		}
		if err != nil {
			s.fail(err)
			return err
		}
	}
}

// ack handles one packet of the meta socket.
func (s *Sender) ack(cmd Cmd, p []byte) error {
	switch cmd {
	case PRecvAck, PWriteAck, PNegAck, PRSWriteAck, PNegRSDReply, PRSIsInSync, PNegDReply:
		a, err := DecodeBlockAck(p)
		if err != nil {
			return err
		}
		switch {
		case cmd == PNegAck:
			if s.OnNegAck != nil {
				s.OnNegAck(a.Sector, a.BlkSize)
			}
			s.complete(a.BlockID, fmt.Errorf("drbd: peer failed to write sector %d", a.Sector))
		case cmd == PRecvAck || cmd == PWriteAck:
			s.complete(a.BlockID, nil)
		case cmd == PRSWriteAck && s.OnResyncAck != nil:
			s.OnResyncAck(a.Sector, a.BlkSize)
		case cmd == PNegRSDReply && s.OnNegRSDReply != nil:
			s.OnNegRSDReply(a.Sector, a.BlkSize)
		case cmd == PRSIsInSync && s.OnInSync != nil:
			s.OnInSync(a.Sector, a.BlkSize)
		case cmd == PNegDReply && s.OnNegDReply != nil:
			s.OnNegDReply(a)
		}
	case PBarrierAck:
		b, err := DecodeBarrierAck(p)
		if err != nil {
			return err
		}
		s.mu.Lock()
		// As DRBD's tl_release: the ack must name the oldest epoch
		// not acknowledged yet, with its number of writes; anything
		// else would release writes the peer may not have.
		if len(s.closed) == 0 || s.closed[0].nr != b.Barrier || int(b.SetSize) != len(s.closed[0].writes) {
			want, n := uint32(0), 0
			if len(s.closed) > 0 {
				want, n = s.closed[0].nr, len(s.closed[0].writes)
			}
			s.mu.Unlock()
			return fmt.Errorf("drbd: protocol error: P_BARRIER_ACK for barrier %d with %d writes, expected barrier %d with %d", b.Barrier, b.SetSize, want, n)
		}
		w, ok := s.bwait[b.Barrier]
		delete(s.bwait, b.Barrier)
		s.barrierAcked(b.Barrier)
		s.mu.Unlock()
		if ok && w.done != nil {
			w.done(nil)
		}
	case PPing:
		return s.meta.Send(PPingAck)
	case PPingAck:
	default:
		return fmt.Errorf("drbd: unexpected %s on the meta socket", cmd)
	}
	return nil
}

// Receive is the Secondary's side: it applies P_DATA to the backend and
// acknowledges per the packet's flags (P_RECV_ACK on receipt, P_WRITE_ACK
// after the write), flushes and answers each P_BARRIER with
// P_BARRIER_ACK, serves P_DATA_REQUEST / P_RS_DATA_REQUEST from the
// backend, and answers pings. onResync, if not nil, is called after each
// resync block (P_RS_DATA_REPLY) is written, so the sync target can clear
// its bits. It returns when the data socket fails.
func Receive(data, meta *Conn, b Backend, onResync func(sector uint64, size uint32)) error {
	var epochWrites uint32
	var ack, rep []byte
	var buf []byte
	for {
		h, p, err := data.Recv()
		if err != nil {
			return err
		}
		switch h.Cmd {
		case PData, PRSDataReply, PDataReply:
			d, block, err := DecodeData(p)
			if err != nil {
				return err
			}
			a := BlockAck{Sector: d.Sector, BlockID: d.BlockID, BlkSize: uint32(len(block)), SeqNum: d.SeqNum}
			if d.DPFlags&DPSendReceiveAck != 0 {
				ack = a.Append(ack[:0])
				if err := meta.Send(PRecvAck, ack); err != nil {
					return err
				}
			}
			_, werr := b.WriteAt(block, int64(d.Sector)*512)
			if werr == nil && d.DPFlags&(DPFUA|DPFlush) != 0 {
				werr = b.Flush()
			}
			if h.Cmd == PData { // an epoch counts the Primary's writes only
				epochWrites++
			}
			cmd := Cmd(0)
			switch {
			case h.Cmd == PRSDataReply && werr == nil:
				cmd = PRSWriteAck
			case werr != nil:
				cmd = PNegAck
			case d.DPFlags&DPSendWriteAck != 0:
				cmd = PWriteAck
			}
			if cmd == PRSWriteAck && onResync != nil {
				onResync(d.Sector, a.BlkSize)
			}
			if cmd != 0 {
				ack = a.Append(ack[:0])
				if err := meta.Send(cmd, ack); err != nil {
					return err
				}
			}
		case PBarrier:
			br, err := DecodeBarrier(p)
			if err != nil {
				return err
			}
			if err := b.Flush(); err != nil {
				return fmt.Errorf("drbd: flush for barrier %d: %w", br.Barrier, err)
			}
			ack = BarrierAck{Barrier: br.Barrier, SetSize: epochWrites}.Append(ack[:0])
			epochWrites = 0
			if err := meta.Send(PBarrierAck, ack); err != nil {
				return err
			}
		case PDataRequest, PRSDataRequest:
			r, err := DecodeBlockReq(p)
			if err != nil {
				return err
			}
			if r.BlkSize > 1<<20 {
				return fmt.Errorf("drbd: %s of %d bytes", h.Cmd, r.BlkSize)
			}
			if cap(buf) < int(r.BlkSize) {
				buf = make([]byte, r.BlkSize)
			}
			blk := buf[:r.BlkSize]
			reply := PDataReply
			if h.Cmd == PRSDataRequest {
				reply = PRSDataReply
			}
			if _, err := b.ReadAt(blk, int64(r.Sector)*512); err != nil {
				nack := PNegDReply
				if h.Cmd == PRSDataRequest {
					nack = PNegRSDReply
				}
				ack = BlockAck{Sector: r.Sector, BlockID: r.BlockID, BlkSize: r.BlkSize}.Append(ack[:0])
				if err := meta.Send(nack, ack); err != nil {
					return err
				}
				continue
			}
			rep = DataHeader{Sector: r.Sector, BlockID: r.BlockID}.Append(rep[:0])
			if err := data.Send(reply, rep, blk); err != nil {
				return err
			}
		case PPing:
			if err := meta.Send(PPingAck); err != nil {
				return err
			}
		case PUnplugRemote:
		default:
			return fmt.Errorf("drbd: unexpected %s on the data socket", h.Cmd)
		}
	}
}

// Run is a run of out-of-sync 4 KiB blocks.
type Run struct{ Start, N uint64 }

// RequestResync is the sync target's request loop: it asks the source
// for every block in runs (4 KiB bitmap blocks) with P_RS_DATA_REQUEST,
// in requests of at most maxReq bytes. The replies are written by
// Receive, which reports them through its onResync callback.
func RequestResync(data *Conn, runs []Run, maxReq uint32) error {
	if maxReq < 4096 {
		maxReq = 4096
	}
	per := uint64(maxReq / 4096)
	var b []byte
	var id uint64
	for _, r := range runs {
		for blk := r.Start; blk < r.Start+r.N; blk += per {
			n := min(per, r.Start+r.N-blk)
			id++
			b = BlockReq{Sector: blk * 8, BlockID: id, BlkSize: uint32(n * 4096)}.Append(b[:0])
			if err := data.Send(PRSDataRequest, b); err != nil {
				return err
			}
		}
	}
	return nil
}
