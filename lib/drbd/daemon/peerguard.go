package daemon

import (
	"fmt"

	"github.com/linux-ha-go/ha/lib/drbd/repl"
	"github.com/linux-ha-go/ha/lib/drbd/state"
)

// peerMayWrite tells whether a data packet from the peer may touch the
// local disk now: P_DATA only once the sync handshake connected the
// nodes and the peer said it is Primary; P_RS_DATA_REPLY only while this
// node is the sync target. (P_DATA_REPLY answers this node's own read
// requests and never touches the disk: peerread.go.) Anything else is a protocol error: the connection is
// dropped and the disk is not written.
func (v *Volume) peerMayWrite(cmd repl.Cmd) error {
	r := v.r
	r.mu.Lock()
	defer r.mu.Unlock()
	s := v.m.S
	ok := false
	switch cmd {
	case repl.PData:
		ok = s.Conn >= state.Connected && v.peerState.Role == state.Primary
	case repl.PRSDataReply:
		ok = s.Conn == state.SyncTarget || s.Conn == state.PausedSyncT
	}
	if ok {
		return nil
	}
	return fmt.Errorf("drbd: protocol error: %s from a %s peer in state %s; dropping the connection, nothing written", cmd, v.peerState.Role, s.Conn)
}

// peerRange checks that a block the peer sends or asks for lies inside
// the device, as DRBD's receiver checks it against the capacity: whole
// sectors, at most DRBD's largest request, not beyond the end (where
// the internal meta data would be). Anything else is a protocol error:
// the connection is dropped, nothing is read or written.
func (v *Volume) peerRange(cmd repl.Cmd, sector uint64, n int) error {
	v.r.mu.Lock()
	size := v.size
	v.r.mu.Unlock()
	if n < 0 || n%512 != 0 || n > repl.MaxBlock || sector > uint64(size)/512 || int64(sector)*512+int64(n) > size {
		return fmt.Errorf("drbd: protocol error: %s for sector %d, %d bytes, outside the device (%d sectors); dropping the connection, nothing read or written", cmd, sector, n, size/512)
	}
	return nil
}
