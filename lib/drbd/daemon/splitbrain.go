package daemon

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/state"
)

// splitBrain is what a volume remembers of an unresolved split brain,
// for status: when, and how much each side changed since the nodes
// parted (the blocks set in each bitmap).
type splitBrain struct {
	at                 time.Time
	selfBits, peerBits uint64
	selfPri, peerPri   bool
	// rrConflict: an after-sb policy chose this node as the sync target,
	// but it is Primary and rr-conflict disconnect dropped the
	// connection.
	rrConflict bool
}

// unresolvedSB is the sync handshake's line for a split brain no policy
// resolved (drbd_sync_handshake's words).
const unresolvedSB = "Split-Brain detected but unresolved, dropping connection!"

// rrConflictLine is the handshake's line when a Primary would become
// sync target (rr-conflict disconnect).
const rrConflictLine = "I shall become SyncTarget, but I am primary!"

// noteSplitBrain follows the sync handshake's log: it remembers an
// unresolved split brain, and forgets it once connected again. r.mu is
// held.
func (v *Volume) noteSplitBrain(log []string) {
	sb := false
	for _, l := range log {
		if strings.HasPrefix(l, "Split-Brain detected") {
			sb = true
		}
		if l == unresolvedSB || (sb && l == rrConflictLine) {
			v.splitBrain = &splitBrain{at: time.Now(), selfBits: v.bits(), peerBits: v.peerBits,
				selfPri: v.m.S.Role == state.Primary, peerPri: v.peerState.Role == state.Primary,
				rrConflict: l == rrConflictLine}
			return
		}
	}
	if v.m.S.Conn >= state.Connected {
		v.splitBrain = nil
	}
}

// splitBrainText is the part of `godrbdadm status` that says a split
// brain stopped the connection: what happened, what each choice of
// victim loses, and the commands that recover.
func (r *Resource) splitBrainText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	self, peer := r.d.Node, "peer"
	if r.cfg.Local != nil && r.cfg.Local.Node != "" {
		self = strings.Fields(r.cfg.Local.Node)[0]
	}
	if r.cfg.Peer != nil && r.cfg.Peer.Node != "" {
		peer = strings.Fields(r.cfg.Peer.Node)[0]
	}
	var b strings.Builder
	for _, vnr := range slices.Sorted(maps.Keys(r.vols)) {
		v := r.vols[vnr]
		sb := v.splitBrain
		if sb == nil || v.m.S.Conn != state.StandAlone {
			continue
		}
		vol := ""
		if len(r.vols) > 1 || vnr != 0 {
			vol = fmt.Sprintf(" volume:%d", vnr)
		}
		at := sb.at.UTC().Format(time.RFC3339)
		if sb.rrConflict {
			fmt.Fprintf(&b, "  split-brain:%s detected %s, resolved against this node, but it is Primary (rr-conflict): the connection was dropped\n", vol, at)
			fmt.Fprintf(&b, "    %s (this node) changed %d KiB since; %s changed %d KiB\n", self, sb.selfBits*4, peer, sb.peerBits*4)
			fmt.Fprintf(&b, "    to take %s's data (%s's %d KiB of changes are lost): on %s: godrbdadm secondary %s; godrbdadm connect %s\n",
				peer, self, sb.selfBits*4, self, r.name, r.name)
			continue
		}
		fmt.Fprintf(&b, "  split-brain:%s detected %s, unresolved: both nodes changed data while apart; the connection was dropped\n", vol, at)
		fmt.Fprintf(&b, "    %s (this node) changed %d KiB since; %s changed %d KiB\n", self, sb.selfBits*4, peer, sb.peerBits*4)
		recover := func(victim string, victimPri bool, survivor string) string {
			cmds := "godrbdadm disconnect " + r.name + "; "
			if victimPri {
				cmds += "godrbdadm secondary " + r.name + "; "
			}
			return fmt.Sprintf("on %s: %sgodrbdadm connect --discard-my-data %s; then on %s, if StandAlone: godrbdadm connect %s",
				victim, cmds, r.name, survivor, r.name)
		}
		fmt.Fprintf(&b, "    to keep %s's data (%s's %d KiB of changes are lost): %s\n", self, peer, sb.peerBits*4, recover(peer, sb.peerPri, self))
		fmt.Fprintf(&b, "    to keep %s's data (%s's %d KiB of changes are lost): %s\n", peer, self, sb.selfBits*4, recover(self, sb.selfPri, peer))
	}
	return b.String()
}
