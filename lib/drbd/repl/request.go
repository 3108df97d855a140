package repl

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// MaxReadRequest is the largest P_DATA_REQUEST Reads sends: DRBD's
// max_bio_size, the most a peer serves in one reply.
const MaxReadRequest = 1 << 20

// ErrPeerRead is the error of a read the peer answered with
// P_NEG_DREPLY (it could not read its disk).
var ErrPeerRead = errors.New("drbd: the peer could not read the block (NegDReply)")

// Reads is the requesting side of DRBD's read path to the peer: a node
// without UpToDate data of its own (a Diskless Primary, a SyncTarget
// Primary for blocks still out of sync) asks the peer for the blocks
// with P_DATA_REQUEST on the data socket; the peer answers with
// P_DATA_REPLY on the data socket or P_NEG_DREPLY on the meta socket.
// The caller's receive loop hands those to Reply and NegReply; Fail ends
// every waiting read when the connection goes. The peer serves the
// requests in the order of the data socket, after the writes sent before
// them, so a read sees every write that completed before it was issued.
type Reads struct {
	mu      sync.Mutex
	next    uint64
	pending map[uint64]*readReq
	err     error
}

type readReq struct {
	sector uint64
	buf    []byte
	done   chan error
}

// Read fills buf with the peer's data at byte offset off; off and
// len(buf) are multiples of 512. Requests of at most MaxReadRequest
// bytes are all sent before the first reply is awaited. It returns when
// every reply arrived, the connection failed, or ctx ended.
func (r *Reads) Read(ctx context.Context, c *Conn, buf []byte, off int64) error {
	if off%512 != 0 || len(buf)%512 != 0 {
		return fmt.Errorf("drbd: read of %d bytes at %d is not sector aligned", len(buf), off)
	}
	var ids []uint64
	var reqs []*readReq
	defer func() {
		r.mu.Lock()
		for _, id := range ids {
			delete(r.pending, id)
		}
		r.mu.Unlock()
	}()
	var b []byte
	for o := 0; o < len(buf); o += MaxReadRequest {
		q := &readReq{sector: uint64(off+int64(o)) / 512, buf: buf[o:min(o+MaxReadRequest, len(buf))], done: make(chan error, 1)}
		r.mu.Lock()
		if r.err != nil {
			err := r.err
			r.mu.Unlock()
			return err
		}
		if r.pending == nil {
			r.pending = map[uint64]*readReq{}
		}
		r.next++
		id := r.next
		r.pending[id] = q
		r.mu.Unlock()
		ids = append(ids, id)
		reqs = append(reqs, q)
		b = BlockReq{Sector: q.sector, BlockID: id, BlkSize: uint32(len(q.buf))}.Append(b[:0])
		if err := c.Send(PDataRequest, b); err != nil {
			return fmt.Errorf("%w: %v", ErrClosed, err)
		}
	}
	var first error
	for _, q := range reqs {
		select {
		case err := <-q.done:
			if err != nil && first == nil {
				first = err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return first
}

// Reply delivers a P_DATA_REPLY's payload to the read waiting for it. A
// reply to a read that gave up meanwhile is dropped; one whose size or
// sector does not match its request is a protocol error.
func (r *Reads) Reply(payload []byte) error {
	d, block, err := DecodeData(payload)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.pending[d.BlockID]
	if q == nil {
		return nil
	}
	delete(r.pending, d.BlockID)
	if d.Sector != q.sector || len(block) != len(q.buf) {
		err := fmt.Errorf("drbd: protocol error: DataReply for sector %d with %d bytes, requested sector %d, %d bytes", d.Sector, len(block), q.sector, len(q.buf))
		q.done <- err
		return err
	}
	// Copied under mu: once Read has removed its requests the buffer is
	// the caller's again and no reply may touch it.
	copy(q.buf, block)
	q.done <- nil
	return nil
}

// NegReply fails the read a P_NEG_DREPLY names.
func (r *Reads) NegReply(a BlockAck) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if q := r.pending[a.BlockID]; q != nil {
		delete(r.pending, a.BlockID)
		q.done <- fmt.Errorf("%w: sector %d", ErrPeerRead, a.Sector)
	}
}

// Fail ends every waiting read, and every later one, with err wrapped in
// ErrClosed: the connection is gone.
func (r *Reads) Fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = fmt.Errorf("%w: %v", ErrClosed, err)
	}
	for id, q := range r.pending {
		delete(r.pending, id)
		q.done <- r.err
	}
}

// Pending is the number of reads waiting for the peer.
func (r *Reads) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}
