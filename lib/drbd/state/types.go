// Package state is the DRBD 8.4 state model of one volume, as pure logic:
// roles, connection and disk states, the implied changes (sanitize), the
// transition checks with DRBD's refusal codes and texts, the generation-UUID
// handshake decision and the after-split-brain policies.
//
// Nothing here does I/O or reads a clock. A caller feeds events (a user
// request, a network or disk fact) to a Machine and gets back the new state,
// a Result and a list of Actions to carry out (send the state to the peer,
// run a handler, rotate UUIDs, write the bitmap, ...).
//
// The rules follow the DRBD 8.4.7 kernel module (drbd_state.c,
// drbd_receiver.c, drbd_nl.c); names and texts are DRBD's own so that logs
// and messages read as admins know them.
package state

import "fmt"

// Role is a node's role. The zero value is RoleUnknown (the peer's role
// when not connected).
type Role uint8

// Roles, in DRBD's enum order.
const (
	RoleUnknown Role = iota
	Primary
	Secondary
)

var roleNames = [...]string{"Unknown", "Primary", "Secondary"}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return "TOO_LARGE"
}

// Conn is the connection state. The order matters: everything below
// WFReportParams has no socket, everything above Connected is a sync or
// verify in some phase.
type Conn uint8

// Connection states, in DRBD's enum order.
const (
	StandAlone Conn = iota
	Disconnecting
	Unconnected
	Timeout
	BrokenPipe
	NetworkFailure
	ProtocolError
	TearDown
	WFConnection
	WFReportParams
	Connected
	StartingSyncS
	StartingSyncT
	WFBitMapS
	WFBitMapT
	WFSyncUUID
	SyncSource
	SyncTarget
	VerifyS
	VerifyT
	PausedSyncS
	PausedSyncT
	Ahead
	Behind
	connEnd
)

var connNames = [...]string{
	"StandAlone", "Disconnecting", "Unconnected", "Timeout", "BrokenPipe",
	"NetworkFailure", "ProtocolError", "TearDown", "WFConnection",
	"WFReportParams", "Connected", "StartingSyncS", "StartingSyncT",
	"WFBitMapS", "WFBitMapT", "WFSyncUUID", "SyncSource", "SyncTarget",
	"VerifyS", "VerifyT", "PausedSyncS", "PausedSyncT", "Ahead", "Behind",
}

func (c Conn) String() string {
	if int(c) < len(connNames) {
		return connNames[c]
	}
	return "TOO_LARGE"
}

// Disk is a disk state (local or peer), ordered from worst to best.
type Disk uint8

// Disk states, in DRBD's enum order.
const (
	Diskless Disk = iota
	Attaching
	Failed
	Negotiating
	Inconsistent
	Outdated
	DUnknown
	Consistent
	UpToDate
	diskEnd
)

var diskNames = [...]string{
	"Diskless", "Attaching", "Failed", "Negotiating", "Inconsistent",
	"Outdated", "DUnknown", "Consistent", "UpToDate",
}

func (d Disk) String() string {
	if int(d) < len(diskNames) {
		return diskNames[d]
	}
	return "TOO_LARGE"
}

// ParseRole, ParseConn and ParseDisk read DRBD's names back.
func ParseRole(s string) (Role, error) {
	for i, n := range roleNames {
		if n == s {
			return Role(i), nil
		}
	}
	return 0, fmt.Errorf("unknown role %q (Primary, Secondary, Unknown)", s)
}

// ParseConn reads a connection state name such as "WFConnection".
func ParseConn(s string) (Conn, error) {
	for i, n := range connNames {
		if n == s {
			return Conn(i), nil
		}
	}
	return 0, fmt.Errorf("unknown connection state %q", s)
}

// ParseDisk reads a disk state name such as "UpToDate".
func ParseDisk(s string) (Disk, error) {
	for i, n := range diskNames {
		if n == s {
			return Disk(i), nil
		}
	}
	return 0, fmt.Errorf("unknown disk state %q", s)
}

// State is the state of one volume as DRBD 8.4 keeps it.
type State struct {
	Role Role
	Peer Role
	Conn Conn
	Disk Disk
	PDsk Disk

	Susp    bool // IO suspended by the user (suspend-io)
	SuspNod bool // IO suspended: no data accessible (on-no-data-accessible suspend-io)
	SuspFen bool // IO suspended while the fence-peer handler runs
	AftrIsp bool // resync paused by a resync-after dependency
	PeerIsp bool // resync paused by the peer
	UserIsp bool // resync paused by the user (pause-sync)
}

// Initial is the state of a freshly created minor: StandAlone, Diskless,
// Secondary, peer unknown.
func Initial() State {
	return State{Role: Secondary, Peer: RoleUnknown, Conn: StandAlone, Disk: Diskless, PDsk: DUnknown}
}

// Suspended reports whether application IO is frozen for any reason.
func (s State) Suspended() bool { return s.Susp || s.SuspNod || s.SuspFen }

// Flags returns the six flag characters of the kernel's state print:
// r/s, a, p, u, F, N.
func (s State) Flags() string {
	b := []byte("r-----")
	if s.Suspended() {
		b[0] = 's'
	}
	if s.AftrIsp {
		b[1] = 'a'
	}
	if s.PeerIsp {
		b[2] = 'p'
	}
	if s.UserIsp {
		b[3] = 'u'
	}
	if s.SuspFen {
		b[4] = 'F'
	}
	if s.SuspNod {
		b[5] = 'N'
	}
	return string(b)
}

// String prints the state as the kernel does in "State change failed"
// messages: { cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate r----- }
func (s State) String() string {
	return fmt.Sprintf("{ cs:%s ro:%s/%s ds:%s/%s %s }", s.Conn, s.Role, s.Peer, s.Disk, s.PDsk, s.Flags())
}

// ChangeLog describes the difference between two states in the kernel's
// words, e.g. "role( Secondary -> Primary ) disk( Inconsistent -> UpToDate ) ".
// It is empty when nothing a person would see changed.
func ChangeLog(os, ns State) string {
	var b []byte
	if os.Role != ns.Role {
		b = fmt.Appendf(b, "role( %s -> %s ) ", os.Role, ns.Role)
	}
	if os.Peer != ns.Peer {
		b = fmt.Appendf(b, "peer( %s -> %s ) ", os.Peer, ns.Peer)
	}
	if os.Conn != ns.Conn {
		b = fmt.Appendf(b, "conn( %s -> %s ) ", os.Conn, ns.Conn)
	}
	if os.Disk != ns.Disk {
		b = fmt.Appendf(b, "disk( %s -> %s ) ", os.Disk, ns.Disk)
	}
	if os.PDsk != ns.PDsk {
		b = fmt.Appendf(b, "pdsk( %s -> %s ) ", os.PDsk, ns.PDsk)
	}
	bit := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	if os.AftrIsp != ns.AftrIsp {
		b = fmt.Appendf(b, "aftr_isp( %d -> %d ) ", bit(os.AftrIsp), bit(ns.AftrIsp))
	}
	if os.PeerIsp != ns.PeerIsp {
		b = fmt.Appendf(b, "peer_isp( %d -> %d ) ", bit(os.PeerIsp), bit(ns.PeerIsp))
	}
	if os.UserIsp != ns.UserIsp {
		b = fmt.Appendf(b, "user_isp( %d -> %d ) ", bit(os.UserIsp), bit(ns.UserIsp))
	}
	if os.Susp != ns.Susp {
		b = fmt.Appendf(b, "susp( %d -> %d ) ", bit(os.Susp), bit(ns.Susp))
	}
	if os.SuspNod != ns.SuspNod {
		b = fmt.Appendf(b, "susp_nod( %d -> %d ) ", bit(os.SuspNod), bit(ns.SuspNod))
	}
	if os.SuspFen != ns.SuspFen {
		b = fmt.Appendf(b, "susp_fen( %d -> %d ) ", bit(os.SuspFen), bit(ns.SuspFen))
	}
	return string(b)
}

// Result is the outcome of a state change request: DRBD's enum
// drbd_state_rv. Values below 1 are refusals.
type Result int

// State change results, with DRBD's numbers.
const (
	CWNoNeed              Result = 4
	CWSuccess             Result = 3
	NothingToDo           Result = 2
	Success               Result = 1
	UnknownError          Result = 0
	TwoPrimaries          Result = -1
	NoUpToDateDisk        Result = -2
	NoLocalDisk           Result = -4
	NoRemoteDisk          Result = -5
	ConnectedOutdates     Result = -6
	PrimaryNop            Result = -7
	ResyncRunning         Result = -8
	AlreadyStandalone     Result = -9
	CWFailedByPeer        Result = -10
	IsDiskless            Result = -11
	DeviceInUse           Result = -12
	NoNetConfig           Result = -13
	NoVerifyAlg           Result = -14
	NeedConnection        Result = -15
	LowerThanOutdated     Result = -16
	NotSupported          Result = -17
	InTransientState      Result = -18
	ConcurrentStateChange Result = -19
	OtherVolPeerPrimary   Result = -20
	OutdateWithoutConn    Result = -21

	// ERR_* codes, negated.
	NeedStandAlone Result = -151 // ERR_CONNECTED
)

var resultTexts = map[Result]string{
	TwoPrimaries:          "Multiple primaries not allowed by config",
	NoUpToDateDisk:        "Need access to UpToDate data",
	NoLocalDisk:           "Can not resync without local disk",
	NoRemoteDisk:          "Can not resync without remote disk",
	ConnectedOutdates:     "Refusing to be Outdated while Connected",
	PrimaryNop:            "Refusing to be Primary while peer is not outdated",
	ResyncRunning:         "Can not start OV/resync since it is already active",
	AlreadyStandalone:     "Can not disconnect a StandAlone device",
	CWFailedByPeer:        "State change was refused by peer node",
	IsDiskless:            "Device is diskless, the requested operation requires a disk",
	DeviceInUse:           "Device is held open by someone",
	NoNetConfig:           "Have no net/connection configuration",
	NoVerifyAlg:           "Need a verify algorithm to start online verify",
	NeedConnection:        "Need a connection to start verify or resync",
	NotSupported:          "Peer does not support protocol",
	LowerThanOutdated:     "Disk state is lower than outdated",
	InTransientState:      "In transient state, retry after next state change",
	ConcurrentStateChange: "Concurrent state changes detected and aborted",
	OutdateWithoutConn:    "Need a connection for a graceful disconnect/outdate peer",
	OtherVolPeerPrimary:   "Other vol primary on peer not allowed by config",
	NeedStandAlone:        "Need to be StandAlone",
}

// OK reports whether the result is a success (SS_SUCCESS or better).
func (r Result) OK() bool { return r >= Success }

// Text is DRBD's text for a refusal ("Need access to UpToDate data").
func (r Result) Text() string {
	if t, ok := resultTexts[r]; ok {
		return t
	}
	switch r {
	case Success, CWSuccess:
		return "Success"
	case NothingToDo, CWNoNeed:
		return "Nothing to do"
	case UnknownError:
		return "Unknown error"
	}
	if r > 0 {
		return "TOO_LARGE"
	}
	return "TOO_SMALL"
}

// String is "(-2) Need access to UpToDate data", the form drbdsetup prints
// after "State change failed: ".
func (r Result) String() string {
	if r.IsFailure() {
		return fmt.Sprintf("(%d) %s", -int(r), r.Text())
	}
	return fmt.Sprintf("(%d) %s", int(r), r.Text())
}

// IsFailure reports whether r is one of DRBD's ERR_* codes (refusals
// before any state change, printed "Failure: (151) ..."), which Result
// carries negated, at -100 and below.
func (r Result) IsFailure() bool { return r <= -100 }

// Error makes a refusal usable as an error, worded as drbdsetup does.
func (r Result) Error() string {
	if r.IsFailure() {
		return "Failure: " + r.String()
	}
	return "State change failed: " + r.String()
}

// ExitCode is the drbdsetup exit code: for a failed state change 17 for
// -2, 5 for -16, 16 for -4, otherwise 11; 10 for an ERR_* failure; 0 on
// success.
func (r Result) ExitCode() int {
	switch {
	case r.OK():
		return 0
	case r.IsFailure():
		return 10
	case r == NoUpToDateDisk:
		return 17
	case r == LowerThanOutdated:
		return 5
	case r == NoLocalDisk:
		return 16
	}
	return 11
}
