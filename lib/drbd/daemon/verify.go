package daemon

import (
	"bytes"
	"fmt"
	"hash"
	"hash/crc32"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/iobuf"
	"github.com/linux-ha-go/ha/lib/drbd/repl"
	"github.com/linux-ha-go/ha/lib/drbd/state"
)

// Online verify: the VerifyS side asks the peer for a digest of every
// 4 KiB block (P_OV_REQUEST), the peer answers with it (P_OV_REPLY),
// and blocks whose digests differ are marked out of sync; they move at
// the next resync (disconnect and connect), as in DRBD.

// verifyHash maps net { verify-alg } to a digest.
func verifyHash(alg string) (func() hash.Hash, error) {
	switch alg {
	case "crc32c":
		return func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }, nil
	case "crc32":
		return func() hash.Hash { return crc32.NewIEEE() }, nil
	}
	if h, err := repl.HMACFunc(alg); err == nil { // md5, sha1, sha256, sha512
		return h, nil
	}
	return nil, fmt.Errorf("verify-alg %q is not supported (use crc32c, sha1, sha256, sha512 or md5)", alg)
}

func (v *Volume) digest(blk []byte) ([]byte, error) {
	newHash, err := verifyHash(v.m.Cfg.VerifyAlg)
	if err != nil {
		return nil, err
	}
	h := newHash()
	h.Write(blk)
	return h.Sum(nil), nil
}

// startVerify sends a request for every block (r.mu held).
func (v *Volume) startVerify() {
	p := v.link()
	if p == nil || v.bm == nil || v.m.S.Conn != state.VerifyS {
		return
	}
	v.sendState() // the peer becomes VerifyT
	n := v.xferBits()
	v.ovLeft, v.ovFound, v.ovStart = n, 0, time.Now()
	if n == 0 {
		v.verifyDone()
		return
	}
	go func() {
		if err := v.verifyLoop(p, n); err != nil {
			p.close()
		}
	}()
}

// verifyReply compares the peer's digest with ours.
func (v *Volume) verifyReply(q repl.BlockReq, theirs []byte) {
	blk := iobuf.Aligned(int(q.BlkSize))
	v.ioMu.Lock()
	err := v.readLocal(blk, int64(q.Sector)*512)
	v.ioMu.Unlock()
	var mine []byte
	if err == nil {
		mine, err = v.digest(blk)
	}
	r := v.r
	v.rsAnswered(q.BlkSize)
	r.mu.Lock()
	defer r.mu.Unlock()
	if v.m.S.Conn != state.VerifyS || v.bm == nil {
		return
	}
	if err != nil || !bytes.Equal(mine, theirs) {
		v.bm.SetRange(q.Sector/8, uint64(q.BlkSize)/4096)
		v.ovFound += uint64(q.BlkSize) / 4096
		r.d.Log.Warn(fmt.Sprintf("%s/%d drbd%d: Out of sync: start=%d, size=%d (sectors)", r.name, v.vnr, v.minor, q.Sector, q.BlkSize/512))
	}
	if v.ovLeft > 0 {
		v.ovLeft--
	}
	if v.ovLeft == 0 {
		v.verifyDone()
	}
}

// verifyDone ends the verify run (r.mu held).
func (v *Volume) verifyDone() {
	r := v.r
	secs := max(time.Since(v.ovStart).Seconds(), 0.001)
	r.d.Log.Info(fmt.Sprintf("%s/%d drbd%d: Online verify done (total %.0f sec; paused 0 sec; %.0f K/sec)", r.name, v.vnr, v.minor, secs, float64(v.size/1024)/secs))
	if v.ovFound > 0 {
		r.d.Log.Warn(fmt.Sprintf("%s/%d drbd%d: Online verify found %d 4k block out of sync!", r.name, v.vnr, v.minor, v.ovFound))
		v.writeBitmap()
		v.handler("out-of-sync")
	}
	v.step(state.ResyncDone{PeerUUIDs: v.peerUUIDs})
	v.sendState() // the peer leaves VerifyT
}

// answerVerify is the VerifyT side: digest the block and reply (its
// range checked by peerRange).
func (p *peerLink) answerVerify(v *Volume, q repl.BlockReq, rep []byte) ([]byte, error) {
	blk := iobuf.Aligned(int(q.BlkSize))
	err := v.readLocal(blk, int64(q.Sector)*512)
	var d []byte
	if err == nil {
		d, err = v.digest(blk)
	}
	if err != nil {
		d = nil // an empty digest never matches
	}
	rep = q.Append(rep[:0])
	return rep, p.data.Send(repl.POVReply, rep, d)
}
