package state

import (
	"fmt"
	"strings"
)

// ActionKind names something the caller must do after a state change.
type ActionKind string

// Actions.
const (
	ActSendState    ActionKind = "send-state"     // tell the peer our state
	ActSendUUIDs    ActionKind = "send-uuids"     // send our generation UUIDs
	ActSendSyncUUID ActionKind = "send-sync-uuid" // send the new sync UUID (UUIDs already rotated)
	ActSendBitmap   ActionKind = "send-bitmap"    // exchange bitmaps (WFBitMapS/T)
	ActSetBitmap    ActionKind = "set-all-bits"   // set every bitmap bit (full sync) and write it
	ActClearBitmap  ActionKind = "clear-all-bits" // clear every bitmap bit and write it
	ActWriteBitmap  ActionKind = "write-bitmap"   // write out changed bitmap pages
	ActStartResync  ActionKind = "start-resync"   // begin resync requests (target) or serving (source)
	ActStartVerify  ActionKind = "start-verify"
	ActWriteMeta    ActionKind = "write-meta" // write UUIDs and flags to the super block
	ActHandler      ActionKind = "handler"    // run the handler named in Arg
	ActDropNet      ActionKind = "drop-connection"
	ActCloseDisk    ActionKind = "close-disk"
)

// Action is one thing to do; Arg names a handler where one is needed.
type Action struct {
	Kind ActionKind
	Arg  string
}

func (a Action) String() string {
	if a.Arg != "" {
		return string(a.Kind) + "(" + a.Arg + ")"
	}
	return string(a.Kind)
}

// Event is an input to a Machine: a request of the administrator or a fact
// about the disk or the network.
type Event interface{ event() }

// Requests of the administrator (drbdsetup commands).
type (
	// Attach binds the backing disk whose meta data carries these flags.
	Attach struct {
		Consistent, WasUpToDate, PeerOutdated bool
		// PrimaryInd: the node was Primary when the meta data was last
		// written; attaching then marks it a crashed Primary.
		PrimaryInd bool
	}
	Detach     struct{ Force bool }
	Connect    struct{ DiscardMyData bool }
	Disconnect struct{ Force bool }
	// Promote is drbdsetup primary [--force]; Demote is drbdsetup secondary.
	Promote          struct{ Force bool }
	Demote           struct{}
	Invalidate       struct{}
	InvalidateRemote struct{}
	Verify           struct{}
	PauseSync        struct{}
	ResumeSync       struct{}
	Outdate          struct{}
	// NewCurrentUUID is drbdsetup new-current-uuid [--clear-bitmap].
	NewCurrentUUID struct{ ClearBitmap bool }
	// SuspendIO is drbdsetup suspend-io: application IO freezes until
	// ResumeIO. ResumeIO is drbdsetup resume-io: it also ends a freeze
	// of on-no-data-accessible suspend-io or of fencing
	// resource-and-stonith (a fence-peer handler that failed leaves IO
	// frozen until then).
	SuspendIO struct{}
	ResumeIO  struct{}
	// FenceResult reports the fence-peer handler's exit code, after a
	// connection loss or, ForPromotion, for the promotion that asked for
	// it (PendingFence). Ignored: the peer connected while the handler
	// ran, so the code is about an outage that is over (DRBD's
	// connect_cnt check).
	FenceResult struct {
		Code         int
		Ignored      bool
		ForPromotion bool
	}
)

// Facts reported by the network and disk code.
type (
	// Established: the TCP connection is up (WFConnection → WFReportParams).
	Established struct{}
	// PeerParams is the peer's handshake: its UUIDs, bitmap weight, flags,
	// role and disk. The machine runs the sync handshake on it.
	PeerParams struct {
		UUIDs            UUIDs  // the peer's generation UUIDs (P_UUIDS)
		Bits             uint64 // set bits in the peer's bitmap
		SelfBits         uint64 // set bits in our own bitmap
		Flags            uint64 // the peer's UUID flags (PeerFlag*)
		Role             Role   // the peer's role (P_STATE)
		Disk             Disk   // the peer's disk state (P_STATE)
		ResolveConflicts bool   // this node holds RESOLVE_CONFLICTS
	}
	// PeerState is a later state report of the peer, with its UUIDs as it
	// last sent them. A report that shows the peer starting a sync, or
	// newly UpToDate while both were Inconsistent (primary --force), makes
	// this node run the sync handshake again, as DRBD's receive_state does.
	PeerState struct {
		Role             Role
		Disk             Disk
		Conn             Conn
		UUIDs            UUIDs
		Bits             uint64 // set bits in the peer's bitmap
		Flags            uint64 // the peer's UUID flags (PeerFlag*)
		SelfBits         uint64 // set bits in our own bitmap
		ResolveConflicts bool   // this node holds RESOLVE_CONFLICTS
	}
	// NetFailure: the connection broke; Conn is Timeout, BrokenPipe,
	// NetworkFailure, ProtocolError or TearDown.
	NetFailure  struct{ Conn Conn }
	BitmapDone  struct{}              // the bitmap exchange finished
	SyncUUID    struct{ UUID uint64 } // the target got the sync UUID
	ResyncDone  struct{ PeerUUIDs UUIDs }
	DiskIOError struct{}
)

func (Attach) event()           {}
func (Detach) event()           {}
func (Connect) event()          {}
func (Disconnect) event()       {}
func (Promote) event()          {}
func (Demote) event()           {}
func (Invalidate) event()       {}
func (InvalidateRemote) event() {}
func (Verify) event()           {}
func (PauseSync) event()        {}
func (ResumeSync) event()       {}
func (Outdate) event()          {}
func (FenceResult) event()      {}
func (SuspendIO) event()        {}
func (ResumeIO) event()         {}
func (NewCurrentUUID) event()   {}
func (Established) event()      {}
func (PeerParams) event()       {}
func (PeerState) event()        {}
func (NetFailure) event()       {}
func (BitmapDone) event()       {}
func (SyncUUID) event()         {}
func (ResyncDone) event()       {}
func (DiskIOError) event()      {}

// Policies is the net section's split-brain configuration.
type Policies struct {
	AfterSB0, AfterSB1, AfterSB2 Policy
	RRConflict                   Policy
	AlwaysASBP                   bool
}

// Machine is the state of one volume with the rules applied to events. It
// is not safe for concurrent use: one goroutine owns it.
type Machine struct {
	Cfg  Config
	Pol  Policies
	Env  Env
	S    State
	UUID UUIDs
	// CrashedPrimary mirrors the meta-data flag.
	CrashedPrimary bool
	// DiscardMyData is set by connect --discard-my-data until the next
	// handshake.
	DiscardMyData bool
	// SkipInitialSync is set for the UUIDs sent after new-current-uuid
	// --clear-bitmap on a just-created connected pair.
	SkipInitialSync bool
	// Rand returns fresh random UUIDs. Required.
	Rand func() uint64

	neg          *Negotiation
	peerUUIDs    UUIDs
	pendingForce bool // a Primary --force waits for the fence-peer result
	// newCurUUID is DRBD's NEW_CUR_UUID: a Primary lost its peer's data
	// while IO was frozen; the new current UUID waits until IO resumes
	// (fence-peer outdated the peer, or resume-io) or the peer comes
	// back (Established).
	newCurUUID  bool
	pendingPrim bool
	log         []string
	acts        []Action
}

// NewMachine returns a machine for a fresh minor.
func NewMachine(cfg Config, pol Policies, rand func() uint64) *Machine {
	return &Machine{Cfg: cfg, Pol: pol, S: Initial(), UUID: UUIDs{Current: JustCreated}, Rand: rand}
}

func (m *Machine) logf(format string, a ...any) { m.log = append(m.log, fmt.Sprintf(format, a...)) }
func (m *Machine) act(k ActionKind, arg string) { m.acts = append(m.acts, Action{k, arg}) }

// set requests ns. On success it applies it, logs the change and queues
// the after-state-change actions.
func (m *Machine) set(ns State, hard, verbose bool) Result {
	os := m.S
	got, rv, warn := Change(m.Cfg, m.Env, os, ns, hard, m.neg)
	if !rv.OK() {
		if verbose && rv != InTransientState {
			m.logf("State change failed: %s", rv.Text())
			m.logf(" state = %s", os)
			ws, _ := Sanitize(m.Cfg, os, ns, m.neg)
			m.logf("wanted = %s", ws)
		}
		return rv
	}
	if rv == NothingToDo {
		return rv
	}
	if warn != NoWarning {
		m.logf("%s", warn)
	}
	if l := strings.TrimSpace(ChangeLog(os, got)); l != "" {
		m.logf("%s", l)
	}
	m.S = got
	m.after(os, got)
	return rv
}

// lostContactToPeerData is DRBD's lost_contact_to_peer_data.
func lostContactToPeerData(os, ns Disk) bool {
	if (os >= Inconsistent && os != DUnknown && os != Outdated) &&
		(ns < Inconsistent || ns == DUnknown || ns == Outdated) {
		return true
	}
	return os == DUnknown && (ns == Diskless || ns == Failed || ns == Outdated)
}

// after is after_state_ch: the work a state change entails.
func (m *Machine) after(os, ns State) {
	if !(os.Role == Primary && os.Disk < UpToDate && os.PDsk < UpToDate) &&
		(ns.Role == Primary && ns.Disk < UpToDate && ns.PDsk < UpToDate) {
		m.act(ActHandler, "pri-on-incon-degr")
	}
	if (os.Disk != UpToDate || os.PDsk != UpToDate) && ns.Disk == UpToDate && ns.PDsk == UpToDate {
		m.CrashedPrimary = false
	}
	if (os.Conn != SyncSource && os.Conn != PausedSyncS) && (ns.Conn == SyncSource || ns.Conn == PausedSyncS) && hasLdev(ns) {
		m.UUID = m.UUID.StartSyncSource(m.Rand())
		m.act(ActWriteMeta, "")
		m.act(ActSendSyncUUID, "")
	}
	if os.PDsk == Diskless && ns.PDsk > Diskless && ns.PDsk != DUnknown {
		m.act(ActSendUUIDs, "")
		m.act(ActSendState, "")
	}
	if os.Conn != WFBitMapS && ns.Conn == WFBitMapS {
		m.act(ActSendBitmap, "")
	}
	if lostContactToPeerData(os.PDsk, ns.PDsk) && hasLdev(ns) {
		if (ns.Role == Primary || ns.Peer == Primary) && m.UUID.Bitmap == 0 && ns.Disk >= UpToDate {
			// While IO is frozen the new UUID waits (NEW_CUR_UUID).
			m.newCurUUID = true
			if !ns.Suspended() {
				m.applyNewCurUUID()
			}
		}
	}
	// Frozen IO resumes by itself when data is in reach again: the
	// peer is back (susp_nod, susp_fen), or an attach found an
	// UpToDate disk (susp_nod).
	if ns.SuspNod && ((os.Conn < Connected && ns.Conn >= Connected) ||
		((os.Disk == Attaching || os.Disk == Negotiating) && ns.Disk == UpToDate)) {
		rs := m.S
		rs.SuspNod = false
		m.set(rs, true, true)
	}
	if m.S.SuspFen && m.S.Conn >= Connected {
		rs := m.S
		rs.SuspFen = false
		m.set(rs, true, true)
	}
	if os.Role == Primary && ns.Role == Secondary && hasLdev(ns) {
		m.act(ActWriteBitmap, "")
	}
	m.afterDisklessPeer(os, ns)
	if (os.Conn != StartingSyncT && ns.Conn == StartingSyncT) || (os.Conn != StartingSyncS && ns.Conn == StartingSyncS) {
		m.act(ActSetBitmap, "")
	}
	if os.Disk != Failed && ns.Disk == Failed {
		if ns.Conn >= Connected {
			m.act(ActSendState, "")
		}
	}
	if os.Disk != Diskless && ns.Disk == Diskless {
		if ns.Conn >= Connected {
			m.act(ActSendState, "")
		}
		m.act(ActCloseDisk, "")
	}
	if os.Conn == WFReportParams && ns.Conn >= Connected {
		m.act(ActSendState, "")
	}
	if (os.Conn < SyncSource || os.Conn > PausedSyncT) && (ns.Conn == SyncSource || ns.Conn == SyncTarget) {
		m.act(ActStartResync, "")
	}
	if os.Conn != ns.Conn && (ns.Conn == VerifyS) {
		m.act(ActStartVerify, "")
	}
	if os.Conn >= Connected && ns.Conn < Connected && ns.Conn != Disconnecting && ns.Conn != StandAlone {
		m.act(ActDropNet, "")
	}
	if os.Role != ns.Role || os.Disk != ns.Disk || os.PDsk != ns.PDsk {
		m.act(ActWriteMeta, "")
	}
	// Role and disk changes the peer must learn about.
	if ns.Conn >= Connected && os.Conn >= Connected && (os.Role != ns.Role || os.Disk != ns.Disk) {
		m.act(ActSendState, "")
	}
}

// Step feeds one event and returns the result of the request (Success or
// NothingToDo for facts), the actions to perform and the log lines, in
// the kernel's words.
func (m *Machine) Step(ev Event) (Result, []Action, []string) {
	m.log, m.acts = nil, nil
	rv := m.step(ev)
	acts := dedup(m.acts)
	return rv, acts, m.log
}

func dedup(a []Action) []Action {
	var out []Action
	seen := map[Action]bool{}
	for _, x := range a {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func (m *Machine) step(ev Event) Result {
	s := m.S
	switch e := ev.(type) {
	case Attach:
		if s.Disk != Diskless {
			return DiskConfigured
		}
		ns := s
		ns.Disk = Attaching
		if rv := m.set(ns, true, true); !rv.OK() {
			return rv
		}
		m.CrashedPrimary = e.PrimaryInd && !(s.Role == Primary && s.SuspNod)
		ns = m.S
		switch {
		case e.Consistent && e.WasUpToDate:
			ns.Disk = Consistent
		case e.Consistent:
			ns.Disk = Outdated
		default:
			ns.Disk = Inconsistent
		}
		if e.PeerOutdated {
			ns.PDsk = Outdated
		}
		if ns.Disk == Consistent && (ns.PDsk == Outdated || m.Cfg.Fencing == FenceDontCare) {
			ns.Disk = UpToDate
		}
		if m.S.Conn == Connected {
			m.neg = &Negotiation{Disk: ns.Disk, PDsk: ns.PDsk, SameData: true}
			ns = m.S
			ns.Disk = Negotiating
		}
		rv := m.set(ns, false, true)
		if !rv.OK() {
			// A failed attach falls back to Diskless (force_diskless).
			m.neg = nil
			ns = m.S
			ns.Disk = Diskless
			m.set(ns, true, true)
		}
		return rv
	case Detach:
		ns := s
		ns.Disk = Failed
		rv := m.set(ns, e.Force, true)
		if !rv.OK() {
			return rv
		}
		ns = m.S
		ns.Disk = Diskless
		m.set(ns, true, true)
		return rv
	case DiskIOError:
		if s.Disk <= Failed {
			return NothingToDo
		}
		ns := s
		ns.Disk = Failed
		m.act(ActHandler, "local-io-error")
		m.set(ns, true, true)
		ns = m.S
		ns.Disk = Diskless
		m.set(ns, true, true)
		return Success
	case Connect:
		if s.Conn != StandAlone {
			return NetConfigured
		}
		if e.DiscardMyData && s.Role == Primary {
			return DiscardImpossible
		}
		m.DiscardMyData = e.DiscardMyData
		m.Env.HasNetConf = true
		ns := s
		ns.Conn = Unconnected
		if rv := m.set(ns, true, true); !rv.OK() {
			m.Env.HasNetConf = false
			return rv
		}
		ns = m.S
		ns.Conn = WFConnection
		return m.set(ns, true, true)
	case Disconnect:
		ns := s
		ns.Conn = Disconnecting
		rv := m.set(ns, e.Force, false)
		switch rv {
		case AlreadyStandalone:
			return Success
		case PrimaryNop:
			// The state checks want to see the peer outdated.
			ns.PDsk = Outdated
			rv = m.set(ns, false, false)
			if rv == OutdateWithoutConn {
				ns.PDsk = s.PDsk
				rv = m.set(ns, false, true)
			}
		}
		if !rv.OK() {
			return rv
		}
		m.Env.HasNetConf = false
		m.Env.StateSent = false
		ns = m.S
		ns.Conn = StandAlone
		m.set(ns, true, true)
		return rv
	case Established:
		if s.Conn != WFConnection {
			return NothingToDo
		}
		// Writes frozen when the peer was lost are marked out of sync
		// (DRBD resends them instead): the new current UUID the loss
		// left pending goes into this handshake, so that those blocks
		// move by a bitmap-based resync.
		m.applyNewCurUUID()
		ns := s
		ns.Conn = WFReportParams
		rv := m.set(ns, true, true)
		m.Env.StateSent = true
		m.act(ActSendUUIDs, "")
		m.act(ActSendState, "")
		return rv
	case PeerParams:
		return m.handshake(e)
	case PeerState:
		if s.Conn < Connected {
			return NothingToDo
		}
		// The peer skipped the initial sync (new-current-uuid
		// --clear-bitmap): take its UUID, both disks are UpToDate.
		if e.Flags&PeerFlagSkipInitSync != 0 && s.Conn == Connected && s.Disk == Inconsistent &&
			clr(m.UUID.Current) == JustCreated {
			m.UUID.Current, m.UUID.Bitmap = e.UUIDs.Current, 0
			m.act(ActClearBitmap, "")
			m.act(ActWriteMeta, "")
			m.peerUUIDs = e.UUIDs
			ns := s
			ns.Disk, ns.PDsk, ns.Peer = UpToDate, UpToDate, e.Role
			return m.set(ns, false, true)
		}
		if s.Conn == Connected && (e.Conn == StartingSyncS || e.Conn == StartingSyncT) {
			return m.peerStartsSync(e)
		}
		considerResync := s.Conn == Connected && hasLdev(s) &&
			((e.Conn == WFBitMapS || e.Conn == WFBitMapT) ||
				(s.Disk == Inconsistent && e.Disk == UpToDate && clr(e.UUIDs.Current) != clr(m.peerUUIDs.Current)))
		if considerResync {
			return m.handshake(PeerParams{UUIDs: e.UUIDs, Bits: e.Bits, SelfBits: e.SelfBits, Flags: e.Flags,
				Role: e.Role, Disk: e.Disk, ResolveConflicts: e.ResolveConflicts})
		}
		m.peerUUIDs = e.UUIDs
		ns := s
		ns.Peer, ns.PDsk = e.Role, e.Disk
		// Online verify is a cluster-wide change: the peer's VerifyS makes
		// this side VerifyT, and its end ends ours.
		switch {
		case s.Conn == Connected && e.Conn == VerifyS:
			ns.Conn = VerifyT
		case s.Conn == VerifyT && e.Conn == Connected:
			ns.Conn = Connected
		}
		if ns.Conn >= StartingSyncS && ns.PDsk < Inconsistent {
			ns.PDsk = e.Disk
		}
		return m.set(ns, true, true)
	case NetFailure:
		if s.Conn < Unconnected || s.Conn == WFConnection && e.Conn != TearDown {
			return NothingToDo
		}
		m.Env.StateSent = false
		m.SkipInitialSync = false
		ns := s
		ns.Conn = e.Conn
		m.set(ns, true, true)
		// A Primary that lost its peer asks the fence-peer handler to
		// outdate it (IO stays frozen meanwhile with resource-and-stonith).
		if m.Cfg.Fencing >= FenceResourceOnly && m.S.Role == Primary && m.S.PDsk >= DUnknown {
			m.act(ActHandler, "fence-peer")
		}
		ns = m.S
		ns.Conn = Unconnected
		m.set(ns, true, true)
		ns = m.S
		ns.Conn = WFConnection
		return m.set(ns, true, true)
	case BitmapDone:
		ns := s
		switch s.Conn {
		case WFBitMapS, StartingSyncS:
			ns.Conn = SyncSource
		case WFBitMapT, StartingSyncT:
			// abw_start_sync: once the bitmap is set and written, the
			// target waits for the source's sync UUID.
			ns.Conn = WFSyncUUID
		default:
			return NothingToDo
		}
		return m.set(ns, true, true)
	case SyncUUID:
		if s.Conn != WFSyncUUID {
			return NothingToDo
		}
		m.UUID = m.UUID.ReceiveSyncUUID(e.UUID)
		m.act(ActWriteMeta, "")
		ns := s
		ns.Conn = SyncTarget
		return m.set(ns, true, true)
	case ResyncDone:
		ns := s
		switch s.Conn {
		case SyncSource, PausedSyncS:
			ns.PDsk = UpToDate
			m.UUID = m.UUID.ResyncFinished(false, e.PeerUUIDs)
		case SyncTarget, PausedSyncT:
			ns.Disk = UpToDate
			m.UUID = m.UUID.ResyncFinished(true, e.PeerUUIDs)
		case VerifyS, VerifyT:
			ns.Conn = Connected
			return m.set(ns, true, true)
		default:
			return NothingToDo
		}
		ns.Conn = Connected
		m.act(ActWriteMeta, "")
		return m.set(ns, true, true)
	case Promote:
		return m.primary(e.Force, nil)
	case FenceResult:
		if !e.ForPromotion || !m.pendingPrim {
			// The handler run after a connection loss: when the peer is
			// Outdated (or worse) now, frozen IO resumes; otherwise IO
			// stays frozen until the peer comes back or the
			// administrator resumes it.
			if s.Conn >= Connected {
				return NothingToDo
			}
			m.applyFence(e)
			if m.S.PDsk > Outdated || !m.S.SuspFen {
				return NothingToDo
			}
			ns := m.S
			ns.SuspFen = false
			rv := m.set(ns, true, true)
			if rv.OK() && !m.S.Suspended() {
				m.applyNewCurUUID()
			}
			return rv
		}
		if s.Conn < WFReportParams {
			m.applyFence(e)
		}
		f := m.S.PDsk <= Outdated
		return m.primary(m.pendingForce, &f)
	case NewCurrentUUID:
		if !hasLdev(s) {
			return IsDiskless
		}
		skip := s.Conn == Connected && m.Cfg.proto() >= 90 && m.UUID.Current == JustCreated && e.ClearBitmap
		if !skip && s.Conn != StandAlone {
			return NeedStandAlone
		}
		if skip {
			m.logf("Preparing to skip initial sync")
		}
		if m.UUID.Bitmap != 0 {
			m.UUID = m.UUID.pushHistory(m.UUID.Bitmap)
			m.UUID.Bitmap = 0
		}
		m.UUID = m.UUID.NewCurrent(m.Rand(), s.Role == Primary)
		m.act(ActWriteMeta, "")
		if e.ClearBitmap {
			m.act(ActClearBitmap, "")
		}
		if !skip {
			return Success
		}
		m.SkipInitialSync = true
		m.act(ActSendUUIDs, "")
		m.UUID.Bitmap = 0
		ns := s
		ns.Disk, ns.PDsk = UpToDate, UpToDate
		return m.set(ns, false, true)
	case Demote:
		ns := s
		ns.Role = Secondary
		rv := m.set(ns, false, true)
		if rv.OK() && hasLdev(m.S) {
			m.UUID = m.UUID.SetPrimary(false)
		}
		return rv
	case Invalidate:
		ns := s
		if s.Conn >= Connected {
			// DRBD's sanitize would silently "upgrade" a peer disk that is
			// not UpToDate here; godrbd refuses instead of inventing a
			// good copy.
			if s.Conn == Connected && s.PDsk != UpToDate {
				return m.refuse(ns, StartingSyncT, NoUpToDateDisk)
			}
			ns.Conn = StartingSyncT
			return m.set(ns, false, true)
		}
		ns.Disk = Inconsistent
		rv := m.set(ns, false, true)
		if rv.OK() {
			m.act(ActSetBitmap, "")
		}
		return rv
	case InvalidateRemote:
		ns := s
		if s.Conn >= Connected {
			if s.Conn == Connected && s.Disk != UpToDate {
				return m.refuse(ns, StartingSyncS, NoUpToDateDisk)
			}
			ns.Conn = StartingSyncS
			return m.set(ns, false, true)
		}
		ns.PDsk = Inconsistent
		rv := m.set(ns, false, true)
		if rv.OK() {
			m.act(ActSetBitmap, "")
		}
		return rv
	case Verify:
		ns := s
		ns.Conn = VerifyS
		return m.set(ns, false, true)
	case SuspendIO:
		ns := s
		ns.Susp = true
		return m.set(ns, true, true)
	case ResumeIO:
		if !s.Suspended() {
			return NothingToDo
		}
		m.applyNewCurUUID()
		ns := s
		ns.Susp, ns.SuspNod, ns.SuspFen = false, false, false
		return m.set(ns, true, true)
	case PauseSync:
		ns := s
		ns.UserIsp = true
		return m.set(ns, false, true)
	case ResumeSync:
		ns := s
		ns.UserIsp = false
		return m.set(ns, false, true)
	case Outdate:
		ns := s
		ns.Disk = Outdated
		return m.set(ns, false, true)
	case ResyncAfterGrow:
		return m.resyncAfterGrow(e)
	}
	return UnknownError
}

// primary is drbd_set_role for R_PRIMARY. fenced is the fence-peer
// handler's outcome when it has run.
func (m *Machine) primary(force bool, fenced *bool) Result {
	m.pendingPrim = false
	s := m.S
	ns := s
	ns.Role = Primary
	forced := false
	maskPDsk := false
	for try := 0; try < 3; try++ {
		got, rv, _ := Change(m.Cfg, m.Env, m.S, ns, false, m.neg)
		_ = got
		if rv == NoUpToDateDisk && force && m.S.Disk < UpToDate && m.S.Disk >= Inconsistent {
			ns.Disk = UpToDate
			forced = true
			continue
		}
		if rv == NoUpToDateDisk && m.S.Disk == Consistent && !maskPDsk {
			if fenced == nil {
				return m.askFence(force)
			}
			if *fenced {
				ns.Disk = UpToDate
			}
			fenced = new(bool) // only once
			continue
		}
		if rv == PrimaryNop && !maskPDsk {
			if fenced == nil {
				return m.askFence(force)
			}
			if !*fenced && force {
				m.logf("Forced into split brain situation!")
			}
			if *fenced || force {
				maskPDsk = true
				ns.PDsk = Outdated
			}
			continue
		}
		break
	}
	rv := m.set(ns, false, true)
	if !rv.OK() {
		return rv
	}
	if forced {
		m.logf("Forced to consider local data as UpToDate!")
	}
	if hasLdev(m.S) {
		if ((m.S.Conn < Connected || m.S.PDsk <= Failed) && m.UUID.Bitmap == 0) || forced {
			m.UUID = m.UUID.NewCurrent(m.Rand(), true)
		}
		m.UUID = m.UUID.SetPrimary(true)
		m.act(ActWriteMeta, "")
		if m.S.Conn >= WFReportParams {
			m.act(ActSendUUIDs, "")
		}
	}
	return rv
}

// refuse reports a refusal found before the generic checks, in the
// kernel's words.
func (m *Machine) refuse(ns State, c Conn, rv Result) Result {
	ns.Conn = c
	m.logf("State change failed: %s", rv.Text())
	m.logf(" state = %s", m.S)
	m.logf("wanted = %s", ns)
	return rv
}

// applyFence is conn_try_outdate_peer's reading of fence-peer's exit
// code: the state change it implies, in DRBD's words.
func (m *Machine) applyFence(e FenceResult) {
	if e.Ignored {
		m.logf("Ignoring fence-peer exit code")
		return
	}
	ns := m.S
	var what string
	switch e.Code {
	case 3:
		what = "peer is inconsistent or worse"
		ns.PDsk = Inconsistent
	case 4:
		what = "peer was fenced"
		ns.PDsk = Outdated
	case 5:
		if m.S.Disk == UpToDate {
			what = "peer is unreachable, assumed to be dead"
			ns.PDsk = Outdated
		} else {
			what = "peer unreachable, doing nothing since disk != UpToDate"
		}
	case 6:
		what = "peer is active"
		m.logf("Peer is primary, outdating myself.")
		ns.Disk = Outdated
	case 7:
		if m.Cfg.Fencing != FenceResourceAndStonith {
			m.logf("fence-peer() = 7 && fencing != Stonith !!!")
		}
		what = "peer was stonithed"
		ns.PDsk = Outdated
	default:
		m.logf("fence-peer helper broken, returned %d", e.Code)
		return
	}
	m.logf("fence-peer helper returned %d (%s)", e.Code, what)
	if ns != m.S {
		m.set(ns, false, true)
	}
}

// PendingFence says whether a promotion waits for fence-peer's result.
func (m *Machine) PendingFence() bool { return m.pendingPrim }

// applyNewCurUUID makes the new current UUID that a loss of the peer's
// data while IO was frozen left pending (NEW_CUR_UUID).
func (m *Machine) applyNewCurUUID() {
	if !m.newCurUUID {
		return
	}
	m.newCurUUID = false
	if !hasLdev(m.S) {
		return
	}
	m.UUID = m.UUID.NewCurrent(m.Rand(), m.S.Role == Primary)
	m.act(ActWriteMeta, "")
	if m.S.Conn >= Connected {
		m.act(ActSendUUIDs, "")
	}
}

// askFence parks a Primary request until the fence-peer handler reports.
func (m *Machine) askFence(force bool) Result {
	m.pendingPrim, m.pendingForce = true, force
	m.act(ActHandler, "fence-peer")
	return InTransientState
}

// handshake runs the sync handshake on the peer's parameters and moves to
// the resulting state, or drops the connection.
func (m *Machine) handshake(p PeerParams) Result {
	s := m.S
	if s.Conn != WFReportParams && s.Conn != Connected {
		return NothingToDo
	}
	m.peerUUIDs = p.UUIDs
	mydisk := s.Disk
	if mydisk == Negotiating && m.neg != nil {
		mydisk = m.neg.Disk
	}
	var dec Decision
	if hasLdev(s) || mydisk >= Inconsistent {
		dec = SyncHandshake(Handshake{
			Self: m.UUID, Peer: p.UUIDs, SelfBits: p.SelfBits, PeerBits: p.Bits,
			SelfCrashedPrimary: m.CrashedPrimary, PeerFlags: p.Flags,
			SelfRole: s.Role, PeerRole: p.Role, SelfDisk: mydisk, SelfDiskNow: s.Disk, PeerDisk: p.Disk,
			ResolveConflicts: p.ResolveConflicts, DiscardMyData: m.DiscardMyData,
			AfterSB0: m.Pol.AfterSB0, AfterSB1: m.Pol.AfterSB1, AfterSB2: m.Pol.AfterSB2,
			RRConflict: m.Pol.RRConflict, AlwaysASBP: m.Pol.AlwaysASBP,
			ProtoVersion: m.Cfg.ProtoVersion, CanDemote: m.Env.OpenCount == 0,
		})
		m.log = append(m.log, dec.Log...)
		for _, h := range dec.Handlers {
			m.act(ActHandler, h)
		}
	} else {
		dec = Decision{Conn: Connected, Self: m.UUID}
	}
	m.UUID = dec.Self
	m.Env.StateSent = false
	m.SkipInitialSync = false
	if dec.Demote {
		ns := m.S
		ns.Role = Secondary
		m.set(ns, false, true)
		m.UUID = m.UUID.SetPrimary(false)
	}
	if dec.Drop {
		m.dropConnection()
		m.neg = nil
		return Success
	}
	m.DiscardMyData = false
	if dec.FullSync {
		m.act(ActSetBitmap, "")
	}
	ns := m.S
	ns.Conn = dec.Conn
	ns.Peer = p.Role
	ns.PDsk = p.Disk
	if ns.Disk == Negotiating && m.neg != nil {
		ns.Disk = m.neg.Disk
	}
	m.neg = nil
	// Becoming connected is checked like a request (receive_state does
	// not use CS_HARD then): two Primaries without allow-two-primaries,
	// for one, drop the connection.
	hard := m.S.Conn >= Connected
	if rv := m.set(ns, hard, true); !rv.OK() {
		m.dropConnection()
		return rv
	}
	return Success
}

// dropConnection is receive_state's answer to a peer state it refuses:
// the connection goes Disconnecting (forced), then StandAlone, and the
// link is closed.
func (m *Machine) dropConnection() {
	ns := m.S
	ns.Conn = Disconnecting
	m.set(ns, true, true)
	m.Env.HasNetConf = false
	ns = m.S
	ns.Conn = StandAlone
	m.set(ns, true, true)
	m.act(ActDropNet, "")
}

// peerStartsSync handles a Connected node's state report of a peer that
// ran invalidate (it is StartingSyncT: this side becomes StartingSyncS)
// or invalidate-remote (StartingSyncS: this side becomes StartingSyncT).
// These are cluster-wide changes; DRBD 8.4 agrees on them with a state
// change request the receiving side checks like its own request
// (drbd_change_state without CS_HARD). So the change here is checked,
// not forced, and the future sync source must have UpToDate data:
// sanitize would otherwise "upgrade" whichever disk is not, and a lying
// or buggy peer could have its Inconsistent data overwrite ours, even on
// a Primary. A refusal drops the connection, as receive_state does when
// the state it derives from the peer's is refused.
func (m *Machine) peerStartsSync(e PeerState) Result {
	s := m.S
	m.peerUUIDs = e.UUIDs
	ns := s
	ns.Peer, ns.PDsk = e.Role, e.Disk
	rv := Success
	if e.Conn == StartingSyncS {
		// The peer ran invalidate-remote: it is the source.
		ns.Conn = StartingSyncT
		if e.Disk != UpToDate {
			rv = NoUpToDateDisk
		}
	} else {
		// The peer ran invalidate: this node is the source, the peer
		// needs a disk to receive the data.
		ns.Conn = StartingSyncS
		switch {
		case s.Disk != UpToDate:
			rv = NoUpToDateDisk
		case e.Disk < Inconsistent:
			rv = NoRemoteDisk
		}
	}
	if rv.OK() {
		rv = m.set(ns, false, true)
	} else {
		m.refuse(ns, ns.Conn, rv)
	}
	if !rv.OK() {
		m.dropConnection()
	}
	return rv
}
