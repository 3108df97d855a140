package daemon

import (
	"bytes"
	"fmt"

	"github.com/linux-ha-go/ha/lib/drbd/iobuf"
	"github.com/linux-ha-go/ha/lib/drbd/repl"
	"github.com/linux-ha-go/ha/lib/drbd/state"
)

// Checksum-based resync (net { csums-alg }), as DRBD 8.4: the sync
// target reads each block it asks for and sends its digest in a
// P_CSUM_RS_REQUEST; the source digests its own copy and answers
// P_RS_IS_IN_SYNC (on the meta socket) when they are equal, else the
// data as for a P_RS_DATA_REQUEST. Equal blocks do not move; both sides
// count them (rs_same_csum).

// csumReq is the target's digest of a requested block, nil when
// csums-alg is unset or the block cannot be read (then the data is
// requested as without csums-alg).
func csumReq(v *Volume, alg string) func(q repl.BlockReq) []byte {
	if alg == "" {
		return func(repl.BlockReq) []byte { return nil }
	}
	newHash, err := verifyHash(alg)
	if err != nil {
		return func(repl.BlockReq) []byte { return nil }
	}
	var blk []byte
	return func(q repl.BlockReq) []byte {
		if cap(blk) < int(q.BlkSize) {
			blk = iobuf.Aligned(int(q.BlkSize))
		}
		blk = blk[:q.BlkSize]
		v.ioMu.Lock()
		err := v.readLocal(blk, int64(q.Sector)*512)
		v.ioMu.Unlock()
		if err != nil {
			return nil
		}
		h := newHash()
		h.Write(blk)
		return h.Sum(nil)
	}
}

// sameCsum is the source's side of a P_CSUM_RS_REQUEST: when its own
// block has the digest the target sent (with this node's csums-alg), it
// marks the block in sync and answers P_RS_IS_IN_SYNC; false means the
// data must be sent.
func (p *peerLink) sameCsum(v *Volume, q repl.BlockReq, theirs []byte) (bool, error) {
	p.r.mu.Lock()
	alg, _ := opt(p.r.cfg.Net, "csums-alg")
	p.r.mu.Unlock()
	newHash, err := verifyHash(alg)
	if alg == "" || err != nil || len(theirs) == 0 {
		return false, nil
	}
	blk := iobuf.Aligned(int(q.BlkSize))
	v.ioMu.Lock()
	rerr := v.readLocal(blk, int64(q.Sector)*512)
	v.ioMu.Unlock()
	if rerr != nil {
		return false, nil
	}
	h := newHash()
	h.Write(blk)
	if !bytes.Equal(h.Sum(nil), theirs) {
		return false, nil
	}
	v.rsSameCsum.Add(uint64(q.BlkSize) / 4096)
	p.resyncAcked(q.Sector, q.BlkSize)
	ack := repl.BlockAck{Sector: q.Sector, BlockID: q.BlockID, BlkSize: q.BlkSize}.Append(nil)
	return true, p.meta.Send(repl.PRSIsInSync, ack)
}

// inSync is the target's side of a P_RS_IS_IN_SYNC: the block is equal
// on both nodes; it leaves the bitmap without moving.
func (p *peerLink) inSync(sector uint64, size uint32) {
	r := p.r
	r.mu.Lock()
	defer r.mu.Unlock()
	v := p.v
	if v.peer != p {
		return
	}
	v.rsAnswered(size)
	v.rsEnd(p, sector, size)
	if v.bm == nil {
		return
	}
	v.rsSameCsum.Add(uint64(size) / 4096)
	v.clearInSync(sector, size)
	if v.bm.Count() == 0 && (v.m.S.Conn == state.SyncTarget || v.m.S.Conn == state.PausedSyncT) {
		v.resyncDone()
	}
}

// logSameCsum is drbd_resync_finished's report of a csums-alg resync
// (r.mu held).
func (v *Volume) logSameCsum() {
	if _, ok := opt(v.r.cfg.Net, "csums-alg"); !ok || v.rsTotal == 0 {
		return
	}
	s, t := v.rsSameCsum.Load()-v.rsSameBase, v.rsTotal
	s = min(s, t)
	v.r.d.Log.Info(fmt.Sprintf("%s/%d drbd%d: %d %% had equal checksums, eliminated: %dK; transferred %dK total %dK",
		v.r.name, v.vnr, v.minor, s*100/t, s*4, (t-s)*4, t*4))
}
