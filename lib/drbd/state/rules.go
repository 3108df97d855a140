package state

// Fencing is the disk { fencing } policy.
type Fencing uint8

// Fencing policies, in DRBD's order (the checks compare with >=).
const (
	FenceDontCare Fencing = iota
	FenceResourceOnly
	FenceResourceAndStonith
)

// Config is the part of a resource's configuration the state rules read.
type Config struct {
	TwoPrimaries bool    // net { allow-two-primaries; }
	Fencing      Fencing // disk { fencing }
	// SuspendOnNoData is options { on-no-data-accessible suspend-io; }.
	SuspendOnNoData bool
	VerifyAlg       string // net { verify-alg }; "" = none
	// ProtoVersion is the agreed protocol version (86..101); 0 means 101.
	ProtoVersion int
}

func (c Config) proto() int {
	if c.ProtoVersion == 0 {
		return 101
	}
	return c.ProtoVersion
}

// Env holds the facts about the device, outside its State, that the rules
// look at.
type Env struct {
	HasNetConf bool // a net configuration exists (connect was given)
	OpenCount  int  // openers of the device (a mounted file system counts)
	// StateSent is true while the connection handshake is in progress:
	// only connection-state changes are allowed then.
	StateSent bool
	// OtherVolumePeerPrimary: the peer is Primary on another volume of
	// the same resource.
	OtherVolumePeerPrimary bool
}

// hasLdev is get_ldev(): a local disk of at least Inconsistent.
func hasLdev(s State) bool { return s.Disk >= Inconsistent }

// fencing is the policy in force: only read from an attached disk's
// configuration, DontCare otherwise.
func fencing(cfg Config, os State) Fencing {
	if hasLdev(os) {
		return cfg.Fencing
	}
	return FenceDontCare
}

// Warning is one of the notes sanitize prints.
type Warning uint8

// Warnings of Sanitize.
const (
	NoWarning Warning = iota
	AbortedOnlineVerify
	AbortedResync
	ConnectionLostNegotiating
	ImplicitlyUpgradedDisk
	ImplicitlyUpgradedPDsk
)

var warningTexts = [...]string{"", "Online-verify aborted.", "Resync aborted.",
	"Connection lost while negotiating, no data!", "Implicitly upgraded disk", "Implicitly upgraded pdsk"}

func (w Warning) String() string { return warningTexts[w] }

// Negotiation is what sanitize needs when the connection breaks while the
// local disk is Negotiating: the disk states that were waiting for the
// handshake, and whether the data is still the one the handshake began
// with (ed_uuid == current UUID).
type Negotiation struct {
	Disk, PDsk Disk
	SameData   bool
}

// Sanitize applies the changes a state implies (DRBD's sanitize_state):
// no connection means peer Unknown/DUnknown, a sync fixes the disk states,
// a failed disk aborts a sync, pause flags turn a sync into a paused one.
func Sanitize(cfg Config, os, ns State, neg *Negotiation) (State, Warning) {
	warn := NoWarning
	fp := fencing(cfg, os)

	if ns.Conn < Connected {
		ns.PeerIsp = false
		ns.Peer = RoleUnknown
		if ns.PDsk > DUnknown || ns.PDsk < Inconsistent {
			ns.PDsk = DUnknown
		}
	}
	if ns.Conn == StandAlone && ns.Disk == Diskless && ns.Role == Secondary {
		ns.AftrIsp = false
	}
	if ns.Conn > Connected && (ns.Disk <= Failed || ns.PDsk <= Failed) {
		if ns.Conn == VerifyS || ns.Conn == VerifyT {
			warn = AbortedOnlineVerify
		} else {
			warn = AbortedResync
		}
		ns.Conn = Connected
	}
	if ns.Conn < Connected && ns.Disk == Negotiating && hasLdevNeg(os) {
		if neg != nil && neg.SameData {
			ns.Disk, ns.PDsk = neg.Disk, neg.PDsk
		} else {
			warn = ConnectionLostNegotiating
			ns.Disk, ns.PDsk = Diskless, DUnknown
		}
	}
	// Consistent and Outdated vanish when we get connected.
	if ns.Conn >= Connected && ns.Conn < Ahead {
		if ns.Disk == Consistent || ns.Disk == Outdated {
			ns.Disk = UpToDate
		}
		if ns.PDsk == Consistent || ns.PDsk == Outdated {
			ns.PDsk = UpToDate
		}
	}

	diskMin, diskMax, pdskMin, pdskMax := Diskless, UpToDate, Inconsistent, DUnknown
	switch ns.Conn {
	case WFBitMapT, PausedSyncT, StartingSyncT, WFSyncUUID, Behind:
		diskMin, diskMax, pdskMin, pdskMax = Inconsistent, Outdated, UpToDate, UpToDate
	case VerifyS, VerifyT:
		diskMin, diskMax, pdskMin, pdskMax = UpToDate, UpToDate, UpToDate, UpToDate
	case Connected:
		diskMin, diskMax, pdskMin, pdskMax = Diskless, UpToDate, Diskless, UpToDate
	case WFBitMapS, PausedSyncS, StartingSyncS, Ahead:
		diskMin, diskMax, pdskMin, pdskMax = UpToDate, UpToDate, Inconsistent, Consistent
	case SyncTarget:
		diskMin, diskMax, pdskMin, pdskMax = Inconsistent, Inconsistent, UpToDate, UpToDate
	case SyncSource:
		diskMin, diskMax, pdskMin, pdskMax = UpToDate, UpToDate, Inconsistent, Inconsistent
	}
	if ns.Disk > diskMax {
		ns.Disk = diskMax
	}
	if ns.Disk < diskMin {
		warn = ImplicitlyUpgradedDisk
		ns.Disk = diskMin
	}
	if ns.PDsk > pdskMax {
		ns.PDsk = pdskMax
	}
	if ns.PDsk < pdskMin {
		warn = ImplicitlyUpgradedPDsk
		ns.PDsk = pdskMin
	}

	if fp == FenceResourceAndStonith &&
		(ns.Role == Primary && ns.Conn < Connected && ns.PDsk > Outdated) &&
		!(os.Role == Primary && os.Conn < Connected && os.PDsk > Outdated) {
		ns.SuspFen = true
	}
	if cfg.SuspendOnNoData &&
		(ns.Role == Primary && ns.Disk < UpToDate && ns.PDsk < UpToDate) &&
		!(os.Role == Primary && os.Disk < UpToDate && os.PDsk < UpToDate) {
		ns.SuspNod = true
	}
	if ns.AftrIsp || ns.PeerIsp || ns.UserIsp {
		if ns.Conn == SyncSource {
			ns.Conn = PausedSyncS
		}
		if ns.Conn == SyncTarget {
			ns.Conn = PausedSyncT
		}
	} else {
		if ns.Conn == PausedSyncS {
			ns.Conn = SyncSource
		}
		if ns.Conn == PausedSyncT {
			ns.Conn = SyncTarget
		}
	}
	return ns, warn
}

// hasLdevNeg is get_ldev_if_state(D_NEGOTIATING).
func hasLdevNeg(s State) bool { return s.Disk >= Negotiating }

// ValidState checks a state on its own (DRBD's is_valid_state); the first
// rule that matches gives the refusal.
func ValidState(cfg Config, env Env, os, ns State) Result {
	fp := fencing(cfg, os)
	rv := Success
	if env.HasNetConf && !cfg.TwoPrimaries && ns.Role == Primary {
		if ns.Peer == Primary {
			rv = TwoPrimaries
		} else if env.OtherVolumePeerPrimary {
			rv = OtherVolPeerPrimary
		}
	}
	switch {
	case rv <= 0:
	case ns.Role == Secondary && env.OpenCount > 0:
		rv = DeviceInUse
	case ns.Role == Primary && ns.Conn < Connected && ns.Disk < UpToDate:
		rv = NoUpToDateDisk
	case fp >= FenceResourceOnly && ns.Role == Primary && ns.Conn < Connected && ns.PDsk >= DUnknown:
		rv = PrimaryNop
	case ns.Role == Primary && ns.Disk <= Inconsistent && ns.PDsk <= Inconsistent:
		rv = NoUpToDateDisk
	case ns.Conn > Connected && ns.Disk < Inconsistent:
		rv = NoLocalDisk
	case ns.Conn > Connected && ns.PDsk < Inconsistent:
		rv = NoRemoteDisk
	case ns.Conn > Connected && ns.Disk < UpToDate && ns.PDsk < UpToDate:
		rv = NoUpToDateDisk
	case (ns.Conn == Connected || ns.Conn == WFBitMapS || ns.Conn == SyncSource || ns.Conn == PausedSyncS) && ns.Disk == Outdated:
		rv = ConnectedOutdates
	case (ns.Conn == VerifyS || ns.Conn == VerifyT) && cfg.VerifyAlg == "":
		rv = NoVerifyAlg
	case (ns.Conn == VerifyS || ns.Conn == VerifyT) && cfg.proto() < 88:
		rv = NotSupported
	case ns.Role == Primary && ns.Disk < UpToDate && ns.PDsk < UpToDate:
		rv = NoUpToDateDisk
	case (ns.Conn == StartingSyncS || ns.Conn == StartingSyncT) && ns.PDsk == DUnknown:
		rv = NeedConnection
	case ns.Conn >= Connected && ns.PDsk == DUnknown:
		rv = ConnectedOutdates
	}
	return rv
}

// ValidSoftTransition checks a transition a user asked for (DRBD's
// is_valid_soft_transition); here the last matching rule wins, as in DRBD.
func ValidSoftTransition(env Env, os, ns State) Result {
	rv := Success
	if (ns.Conn == StartingSyncT || ns.Conn == StartingSyncS) && os.Conn > Connected {
		rv = ResyncRunning
	}
	if ns.Conn == Disconnecting && os.Conn == StandAlone {
		rv = AlreadyStandalone
	}
	if ns.Disk > Attaching && os.Disk == Diskless {
		rv = IsDiskless
	}
	if ns.Conn == WFConnection && os.Conn < Unconnected {
		rv = NoNetConfig
	}
	if ns.Disk == Outdated && os.Disk < Outdated && os.Disk != Attaching {
		rv = LowerThanOutdated
	}
	if ns.Conn == Disconnecting && os.Conn == Unconnected {
		rv = InTransientState
	}
	if env.StateSent && !((ns.Conn == WFReportParams && os.Conn == WFConnection) ||
		(ns.Conn >= Connected && os.Conn == WFReportParams)) {
		rv = InTransientState
	}
	if os.Role != Primary && ns.Role == Primary && ns.PDsk == UpToDate &&
		ns.Disk != UpToDate && ns.Disk != Diskless &&
		(ns.Conn <= WFSyncUUID || ns.Conn != os.Conn) {
		rv = InTransientState
	}
	if (ns.Conn == VerifyS || ns.Conn == VerifyT) && os.Conn < Connected {
		rv = NeedConnection
	}
	if (ns.Conn == VerifyS || ns.Conn == VerifyT) && ns.Conn != os.Conn && os.Conn > Connected {
		rv = ResyncRunning
	}
	if (ns.Conn == StartingSyncS || ns.Conn == StartingSyncT) && os.Conn < Connected {
		rv = NeedConnection
	}
	if (ns.Conn == SyncTarget || ns.Conn == SyncSource) && os.Conn < WFReportParams {
		rv = NeedConnection
	}
	if ns.Conn == Disconnecting && ns.PDsk == Outdated && os.Conn < Connected && os.PDsk > Outdated {
		rv = OutdateWithoutConn
	}
	return rv
}

// ValidConnTransition limits connection-state changes, even forced ones.
func ValidConnTransition(oc, nc Conn) Result {
	switch {
	case oc == nc:
		return NothingToDo
	case oc == StandAlone && nc == Disconnecting:
		return AlreadyStandalone
	case oc == StandAlone && nc != Unconnected:
		return NeedConnection
	case oc < WFReportParams && nc >= Connected:
		return NeedConnection
	case oc >= Timeout && oc <= TearDown && nc != Unconnected && nc != Disconnecting:
		return InTransientState
	case oc == Disconnecting && nc != StandAlone:
		return InTransientState
	}
	return Success
}

// ValidTransition is DRBD's is_valid_transition: the checks that even a
// hard (forced) change must pass.
func ValidTransition(os, ns State) Result {
	rv := ValidConnTransition(os.Conn, ns.Conn)
	if ns.Disk == Failed && os.Disk == Diskless {
		rv = IsDiskless
	}
	return rv
}

// Change computes the outcome of asking for state ns while in os, as
// DRBD's _drbd_set_state does: sanitize, then the transition checks, then
// (unless hard) the state and soft-transition checks. It returns the
// sanitized new state (equal to os when refused), the result and the
// sanitize warning.
func Change(cfg Config, env Env, os, ns State, hard bool, neg *Negotiation) (State, Result, Warning) {
	ns, warn := Sanitize(cfg, os, ns, neg)
	if ns == os {
		return os, NothingToDo, NoWarning
	}
	rv := ValidTransition(os, ns)
	if !rv.OK() {
		return os, rv, NoWarning
	}
	rv = Success // the state does change, whatever the connection part did
	if !hard {
		rv = ValidState(cfg, env, os, ns)
		if !rv.OK() {
			// If the old state was illegal as well, let this happen.
			if ValidState(cfg, env, os, os) == rv {
				rv = ValidSoftTransition(env, os, ns)
			}
		} else {
			rv = ValidSoftTransition(env, os, ns)
		}
	}
	if !rv.OK() {
		return os, rv, NoWarning
	}
	return ns, rv, warn
}
