package repl

import (
	"errors"
	"fmt"

	"github.com/linux-ha-go/ha/lib/drbd/state"
)

// ErrIncompatibleSettings is returned when the peer's net options do not
// match ours; DRBD then goes StandAlone.
var ErrIncompatibleSettings = errors.New("drbd: incompatible settings")

// convertAfterSB maps the peer's after-sb policy to ours: its
// discard-remote is our discard-local and back (convert_after_sb).
func convertAfterSB(p uint32) uint32 {
	switch state.Policy(p) {
	case state.ASBDiscardRemote:
		return uint32(state.ASBDiscardLocal)
	case state.ASBDiscardLocal:
		return uint32(state.ASBDiscardRemote)
	}
	return p
}

// CheckProtocol compares the peer's P_PROTOCOL with ours as DRBD's
// receive_protocol does and returns the first mismatch, worded like the
// kernel: "incompatible after-sb-0pri settings".
func CheckProtocol(mine, peer Protocol) error {
	bad := func(what string) error {
		return fmt.Errorf("%w: incompatible %s settings", ErrIncompatibleSettings, what)
	}
	switch {
	case peer.Protocol != mine.Protocol:
		return bad("protocol")
	case convertAfterSB(peer.AfterSB0) != mine.AfterSB0:
		return bad("after-sb-0pri")
	case convertAfterSB(peer.AfterSB1) != mine.AfterSB1:
		return bad("after-sb-1pri")
	case convertAfterSB(peer.AfterSB2) != mine.AfterSB2:
		return bad("after-sb-2pri")
	case peer.ConnFlags&CFDiscardMyData != 0 && mine.ConnFlags&CFDiscardMyData != 0:
		return bad("discard-my-data")
	case peer.TwoPrimaries != mine.TwoPrimaries:
		return bad("allow-two-primaries")
	case peer.IntegrityAlg != mine.IntegrityAlg:
		return bad("data-integrity-alg")
	}
	return nil
}
