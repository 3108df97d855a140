package state

import "fmt"

// UUIDs are a volume's generation identifiers. Bit 0 of each is the
// "was Primary" flag and is ignored when they are compared.
type UUIDs struct {
	Current uint64
	Bitmap  uint64
	History [2]uint64 // History[0] is the younger one
}

// JustCreated is the current UUID written by create-md.
const JustCreated uint64 = 4

// NewBitmapOffset is what a sync source adds to its bitmap UUID when a
// resync starts (UUID_NEW_BM_OFFSET).
const NewBitmapOffset uint64 = 0x0001000000000000

func (u UUIDs) String() string {
	return fmt.Sprintf("%016X:%016X:%016X:%016X", u.Current, u.Bitmap, u.History[0], u.History[1])
}

func clr(v uint64) uint64 { return v &^ 1 }

// NewCurrent is drbd_uuid_new_current: the current UUID moves into the
// bitmap slot (the old bitmap UUID, if any, into the history) and a new
// current UUID is set; the Primary bit follows role.
func (u UUIDs) NewCurrent(random uint64, primary bool) UUIDs {
	if u.Bitmap != 0 {
		u = u.pushHistory(u.Bitmap)
	}
	u.Bitmap = u.Current
	u.Current = clr(random)
	if primary {
		u.Current |= 1
	}
	return u
}

func (u UUIDs) pushHistory(v uint64) UUIDs {
	u.History[1] = u.History[0]
	u.History[0] = v
	return u
}

// StartSyncSource is what the sync source does as a resync begins: the
// bitmap UUID moves into the history and a new one (the old + offset, or
// random when it was 0 or JustCreated) is set. The result's Bitmap is the
// sync UUID sent to the target.
func (u UUIDs) StartSyncSource(random uint64) UUIDs {
	old := u.Bitmap
	n := old + NewBitmapOffset
	if old == 0 || old == JustCreated {
		n = random
	}
	if old != 0 {
		u = u.pushHistory(old)
	}
	u.Bitmap = n
	return u
}

// ReceiveSyncUUID is the target's side: current := the sync UUID, bitmap 0.
func (u UUIDs) ReceiveSyncUUID(sync uint64) UUIDs {
	u.Current = sync
	u.Bitmap = 0
	return u
}

// ResyncFinished applies the end of a resync on one side. On the target
// (target true) it first takes over the peer's UUIDs with its own old
// current as the bitmap UUID; then on both sides the bitmap UUID goes to
// the history and the bitmap UUID becomes 0.
func (u UUIDs) ResyncFinished(target bool, peer UUIDs) UUIDs {
	if target {
		old := u.Current
		u.History = peer.History
		u.Bitmap = old
		u.Current = peer.Current
	}
	if u.Bitmap != 0 {
		u = u.pushHistory(u.Bitmap)
		u.Bitmap = 0
	}
	return u
}

// SetPrimary sets or clears the "was Primary" bit of the current UUID.
func (u UUIDs) SetPrimary(p bool) UUIDs {
	u.Current = clr(u.Current)
	if p {
		u.Current |= 1
	}
	return u
}

// Policy is an after-split-brain or rr-conflict policy.
type Policy uint8

// Policies, with their drbd.conf names.
const (
	ASBDisconnect Policy = iota
	ASBDiscardYoungerPrimary
	ASBDiscardOlderPrimary
	ASBDiscardZeroChanges
	ASBDiscardLeastChanges
	ASBDiscardLocal
	ASBDiscardRemote
	ASBConsensus
	ASBDiscardSecondary
	ASBCallPriLostAfterSB
	ASBViolently
)

var policyNames = [...]string{"disconnect", "discard-younger-primary", "discard-older-primary",
	"discard-zero-changes", "discard-least-changes", "discard-local", "discard-remote",
	"consensus", "discard-secondary", "call-pri-lost-after-sb", "violently-as0p"}

func (p Policy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return "TOO_LARGE"
}

// ParsePolicy reads a policy name as drbd.conf writes it. rr-conflict's
// "violently" and "call-pri-lost" are accepted as well.
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "violently":
		return ASBViolently, nil
	case "call-pri-lost":
		return ASBCallPriLostAfterSB, nil
	}
	for i, n := range policyNames {
		if n == s {
			return Policy(i), nil
		}
	}
	return 0, fmt.Errorf("unknown after-split-brain policy %q", s)
}

// Peer flag bits of the UUID packet's flags word (p_uuid[UI_FLAGS]).
const (
	PeerFlagDiscardMyData  = 1
	PeerFlagCrashedPrimary = 2
	PeerFlagInconsistent   = 4
	PeerFlagSkipInitSync   = 8 // new-current-uuid --clear-bitmap on a fresh pair
)

// Handshake is everything drbd_sync_handshake looks at, from one node's
// point of view.
type Handshake struct {
	Self, Peer UUIDs
	// Bits set in each side's bitmap (comm_bm_set, and the peer's UI_SIZE).
	SelfBits, PeerBits uint64
	// SelfCrashedPrimary is the CRASHED_PRIMARY flag of the local meta
	// data; PeerFlags is the flags word the peer sent (PeerFlag*).
	SelfCrashedPrimary bool
	PeerFlags          uint64

	SelfRole, PeerRole Role
	// SelfDisk is the local disk state the handshake decides about (the
	// state held back while Negotiating); SelfDiskNow is the current one.
	SelfDisk, SelfDiskNow Disk
	PeerDisk              Disk

	// ResolveConflicts is this side's RESOLVE_CONFLICTS flag: true on
	// exactly one of the two nodes; it breaks ties.
	ResolveConflicts bool
	DiscardMyData    bool // connect --discard-my-data on this node

	AfterSB0, AfterSB1, AfterSB2 Policy
	RRConflict                   Policy // disconnect, violently or call-pri-lost
	AlwaysASBP                   bool
	Tentative                    bool // connect --tentative: dry run

	// ProtoVersion is the agreed protocol version (0 = 101).
	ProtoVersion int
	// NoWSameFeature: the peer lacks the DRBD_FF_WSAME feature flag that
	// rule 41 needs.
	NoWSameFeature bool
	// CanDemote tells whether a demotion to Secondary would succeed now
	// (the device is not held open); call-pri-lost-after-sb uses it.
	CanDemote bool
}

// Decision is the result of the sync handshake.
type Decision struct {
	Compare int // drbd_uuid_compare's result
	Rule    int // the rule that decided it
	HG      int // the final value: >0 source, <0 target, |2| full, ±100 split brain
	// Conn is the next connection state: WFBitMapS, WFBitMapT or
	// Connected; Drop means the connection is dropped (Conn is then
	// meaningless and the caller disconnects).
	Conn     Conn
	Drop     bool
	FullSync bool
	// Demote: this node gave up the Primary role (call-pri-lost-after-sb).
	Demote bool
	// Self and Peer are the UUID sets after the corrections the
	// comparison made (missed resync-finished, lost sync UUID).
	Self, Peer UUIDs
	Handlers   []string // handlers to run, in order
	Log        []string // kernel-style log lines, in order
}

func (d *Decision) logf(format string, a ...any) { d.Log = append(d.Log, fmt.Sprintf(format, a...)) }

// CompareUUIDs is drbd_uuid_compare. It returns the result and the rule
// number, and the two UUID sets with the corrections the rules 34, 35, 51
// and 71 make.
func CompareUUIDs(h *Handshake, d *Decision) (hg, rule int) {
	s, p := &d.Self, &d.Peer
	proto := h.ProtoVersion
	if proto == 0 {
		proto = 101
	}
	self, peer := clr(s.Current), clr(p.Current)

	if self == JustCreated && peer == JustCreated {
		return 0, 10
	}
	if (self == JustCreated || self == 0) && peer != JustCreated {
		return -2, 20
	}
	if self != JustCreated && (peer == JustCreated || peer == 0) {
		return 2, 30
	}
	if self == peer {
		if p.Bitmap == 0 && s.Bitmap != 0 {
			if proto < 91 {
				return -1091, 34
			}
			if clr(s.Bitmap) == clr(p.History[0]) && clr(s.History[0]) == clr(p.History[1]) {
				d.logf("was SyncSource, missed the resync finished event, corrected myself:")
				*s = s.pushHistory(s.Bitmap)
				// drbd_uuid_move_history then sets history[0] = bitmap.
				s.Bitmap = 0
				return 1, 34
			}
			d.logf("was SyncSource (peer failed to write sync_uuid)")
			return 1, 36
		}
		if s.Bitmap == 0 && p.Bitmap != 0 {
			if proto < 91 {
				return -1091, 35
			}
			if clr(s.History[0]) == clr(p.Bitmap) && clr(s.History[1]) == clr(p.History[0]) {
				d.logf("was SyncTarget, peer missed the resync finished event, corrected peer:")
				p.History[1] = p.History[0]
				p.History[0] = p.Bitmap
				p.Bitmap = 0
				return -1, 35
			}
			d.logf("was SyncTarget (failed to write sync_uuid)")
			return -1, 37
		}
		rct := 0
		if h.SelfCrashedPrimary {
			rct = 1
		}
		rct += int(h.PeerFlags & PeerFlagCrashedPrimary)
		if rct == 0 {
			return 0, 40
		}
		if h.SelfRole == Primary || h.PeerRole == Primary {
			if h.NoWSameFeature {
				d.logf("Equivalent unrotated UUIDs, but current primary present.")
				return -(0x10000 | 101 | (0x10 << 8)), 41
			}
			if h.SelfRole == Primary && h.PeerRole == Primary {
				d.logf("Equivalent unrotated UUIDs, but both are primary. Can not resolve this.")
				return -100, 41
			}
			if h.SelfRole == Primary {
				return 1, 41
			}
			return -1, 41
		}
		switch rct {
		case 1:
			return 1, 40
		case 2:
			return -1, 40
		default:
			if h.ResolveConflicts {
				return -1, 40
			}
			return 1, 40
		}
	}

	if self == clr(p.Bitmap) {
		return -1, 50
	}
	if peer0 := clr(p.History[0]); self == peer0 {
		var lost bool
		if proto < 96 {
			lost = clr(s.History[0]) == clr(p.History[1])
		} else {
			lost = peer0+NewBitmapOffset == clr(p.Bitmap)
		}
		if lost {
			if proto < 91 {
				return -1091, 51
			}
			p.Bitmap = p.History[0]
			p.History[0] = p.History[1]
			d.logf("Lost last syncUUID packet, corrected:")
			return -1, 51
		}
	}
	for _, v := range p.History {
		if self == clr(v) {
			return -2, 60
		}
	}
	if clr(s.Bitmap) == peer {
		return 1, 70
	}
	if self0 := clr(s.History[0]); self0 == peer {
		var lost bool
		if proto < 96 {
			lost = clr(s.History[1]) == clr(p.History[0])
		} else {
			lost = self0+NewBitmapOffset == clr(s.Bitmap)
		}
		if lost {
			if proto < 91 {
				return -1091, 71
			}
			s.Bitmap = s.History[0]
			s.History[0] = s.History[1]
			d.logf("Last syncUUID did not get through, corrected:")
			return 1, 71
		}
	}
	for _, v := range s.History {
		if clr(v) == peer {
			return 2, 80
		}
	}
	if sb := clr(s.Bitmap); sb == clr(p.Bitmap) && sb != 0 {
		return 100, 90
	}
	for _, a := range s.History {
		for _, b := range p.History {
			if clr(a) == clr(b) {
				return -100, 100
			}
		}
	}
	return -1000, 100
}

// recover0p is drbd_asb_recover_0p.
func recover0p(h *Handshake, d *Decision) int {
	self := h.Self.Bitmap & 1
	peer := h.Peer.Bitmap & 1
	chSelf, chPeer := h.SelfBits, h.PeerBits
	tie := func() int {
		if h.ResolveConflicts {
			return -1
		}
		return 1
	}
	p := h.AfterSB0
	switch p {
	case ASBConsensus, ASBDiscardSecondary, ASBCallPriLostAfterSB, ASBViolently:
		d.logf("Configuration error.")
		return -100
	case ASBDisconnect:
		return -100
	case ASBDiscardLocal:
		return -1
	case ASBDiscardRemote:
		return 1
	}
	if p == ASBDiscardYoungerPrimary {
		if self == 0 && peer == 1 {
			return -1
		}
		if self == 1 && peer == 0 {
			return 1
		}
	}
	if p == ASBDiscardYoungerPrimary || p == ASBDiscardOlderPrimary {
		if self == 0 && peer == 1 {
			return 1
		}
		if self == 1 && peer == 0 {
			return -1
		}
		d.logf("Discard younger/older primary did not find a decision\nUsing discard-least-changes instead")
	}
	// discard-zero-changes, and the fall-through of the ones above.
	if chPeer == 0 && chSelf == 0 {
		return tie()
	}
	if chPeer == 0 {
		return 1
	}
	if chSelf == 0 {
		return -1
	}
	if p == ASBDiscardZeroChanges {
		return -100
	}
	// discard-least-changes
	switch {
	case chSelf < chPeer:
		return -1
	case chSelf > chPeer:
		return 1
	}
	return tie()
}

// givePrimary is the call-pri-lost-after-sb path of the 1pri/2pri
// recovery for a Primary that lost: demote, or run pri-lost-after-sb.
func givePrimary(h *Handshake, d *Decision, hg int) int {
	if h.CanDemote {
		d.Demote = true
		d.logf("Successfully gave up primary role.")
		return hg
	}
	d.Handlers = append(d.Handlers, "pri-lost-after-sb")
	return -100
}

// recover1p is drbd_asb_recover_1p.
func recover1p(h *Handshake, d *Decision) int {
	switch h.AfterSB1 {
	case ASBDiscardYoungerPrimary, ASBDiscardOlderPrimary, ASBDiscardLeastChanges,
		ASBDiscardLocal, ASBDiscardRemote, ASBDiscardZeroChanges:
		d.logf("Configuration error.")
		return -100
	case ASBConsensus:
		hg := recover0p(h, d)
		if hg == -1 && h.SelfRole == Secondary {
			return hg
		}
		if hg == 1 && h.SelfRole == Primary {
			return hg
		}
		return -100
	case ASBViolently:
		return recover0p(h, d)
	case ASBDiscardSecondary:
		if h.SelfRole == Primary {
			return 1
		}
		return -1
	case ASBCallPriLostAfterSB:
		hg := recover0p(h, d)
		if hg == -1 && h.SelfRole == Primary {
			return givePrimary(h, d, hg)
		}
		return hg
	}
	return -100
}

// recover2p is drbd_asb_recover_2p.
func recover2p(h *Handshake, d *Decision) int {
	switch h.AfterSB2 {
	case ASBViolently:
		return recover0p(h, d)
	case ASBDisconnect:
		return -100
	case ASBCallPriLostAfterSB:
		hg := recover0p(h, d)
		if hg == -1 {
			return givePrimary(h, d, hg)
		}
		return hg
	}
	d.logf("Configuration error.")
	return -100
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// SyncHandshake is drbd_sync_handshake: compare the UUIDs, apply the
// disk states, the after-split-brain policies, --discard-my-data and
// rr-conflict, and decide the next connection state.
func SyncHandshake(h Handshake) Decision {
	d := Decision{Self: h.Self, Peer: h.Peer}
	mydisk := h.SelfDisk
	d.logf("drbd_sync_handshake:")
	d.logf("self %s bits:%d flags:%X", h.Self, h.SelfBits, 0)
	d.logf("peer %s bits:%d flags:%X", h.Peer, h.PeerBits, h.PeerFlags)
	hg, rule := CompareUUIDs(&h, &d)
	d.Compare, d.Rule = hg, rule
	d.logf("uuid_compare()=%d by rule %d", hg, rule)
	drop := func() Decision {
		d.HG, d.Drop = hg, true
		return d
	}
	if hg == -1000 {
		d.logf("Unrelated data, aborting!")
		return drop()
	}
	if hg < -0x10000 {
		v := -hg
		d.logf("To resolve this both sides have to support at least protocol %d and feature flags 0x%x", v&0xff, (v>>8)&0xff)
		return drop()
	}
	if hg < -1000 {
		d.logf("To resolve this both sides have to support at least protocol %d", -hg-1000)
		return drop()
	}
	if (mydisk == Inconsistent && h.PeerDisk > Inconsistent) || (h.PeerDisk == Inconsistent && mydisk > Inconsistent) {
		f := hg == -100 || abs(hg) == 2
		if mydisk > Inconsistent {
			hg = 1
		} else {
			hg = -1
		}
		if f {
			hg *= 2
		}
		side := "target"
		if hg > 0 {
			side = "source"
		}
		d.logf("Becoming sync %s due to disk states.", side)
	}
	if abs(hg) == 100 {
		d.Handlers = append(d.Handlers, "initial-split-brain")
	}
	if hg == 100 || (hg == -100 && h.AlwaysASBP) {
		pcount := 0
		if h.SelfRole == Primary {
			pcount++
		}
		if h.PeerRole == Primary {
			pcount++
		}
		forced := hg == -100
		switch pcount {
		case 0:
			hg = recover0p(&h, &d)
		case 1:
			hg = recover1p(&h, &d)
		case 2:
			hg = recover2p(&h, &d)
		}
		if abs(hg) < 100 {
			from := "this"
			if hg < 0 {
				from = "peer"
			}
			d.logf("Split-Brain detected, %d primaries, automatically solved. Sync from %s node", pcount, from)
			if forced {
				d.logf("Doing a full sync, since UUIDs where ambiguous.")
				hg *= 2
			}
		}
	}
	if hg == -100 {
		peerDiscards := h.PeerFlags&PeerFlagDiscardMyData != 0
		if h.DiscardMyData && !peerDiscards {
			hg = -1
		}
		if !h.DiscardMyData && peerDiscards {
			hg = 1
		}
		if abs(hg) < 100 {
			from := "this"
			if hg < 0 {
				from = "peer"
			}
			d.logf("Split-Brain detected, manually solved. Sync from %s node", from)
		}
	}
	if hg == -100 {
		d.logf("Split-Brain detected but unresolved, dropping connection!")
		d.Handlers = append(d.Handlers, "split-brain")
		return drop()
	}
	if hg > 0 && mydisk <= Inconsistent {
		d.logf("I shall become SyncSource, but I am inconsistent!")
		return drop()
	}
	if hg < 0 && h.SelfRole == Primary && h.SelfDiskNow >= Consistent && !d.Demote {
		switch h.RRConflict {
		case ASBCallPriLostAfterSB:
			d.Handlers = append(d.Handlers, "pri-lost")
			fallthrough
		case ASBDisconnect:
			d.logf("I shall become SyncTarget, but I am primary!")
			return drop()
		case ASBViolently:
			d.logf("Becoming SyncTarget, violating the stable-data assumption")
		}
	}
	if h.Tentative {
		if hg == 0 {
			d.logf("dry-run connect: No resync, would become Connected immediately.")
		} else {
			c, kind := SyncSource, "bit-map based"
			if hg < 0 {
				c = SyncTarget
			}
			if abs(hg) >= 2 {
				kind = "full"
			}
			d.logf("dry-run connect: Would become %s, doing a %s resync.", c, kind)
		}
		return drop()
	}
	d.HG = hg
	if abs(hg) >= 2 {
		d.FullSync = true
		d.logf("Writing the whole bitmap, full sync required after drbd_sync_handshake.")
	}
	switch {
	case hg > 0:
		d.Conn = WFBitMapS
	case hg < 0:
		d.Conn = WFBitMapT
	default:
		d.Conn = Connected
	}
	return d
}
