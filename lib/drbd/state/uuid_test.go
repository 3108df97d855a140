package state

import (
	"fmt"
	"strings"
	"testing"
)

func u(c, b, h0, h1 uint64) UUIDs { return UUIDs{Current: c, Bitmap: b, History: [2]uint64{h0, h1}} }

// TestCompareRules has one case (or more) for every rule of
// drbd_uuid_compare.
func TestCompareRules(t *testing.T) {
	const A, B, C, D, E = 0xA00, 0xB00, 0xC00, 0xD00, 0xE00
	cases := []struct {
		name       string
		self, peer UUIDs
		selfCrash  bool
		peerFlags  uint64
		selfRole   Role
		peerRole   Role
		resolve    bool
		proto      int
		hg, rule   int
		fixSelf    *UUIDs
		fixPeer    *UUIDs
	}{
		{name: "both just created", self: u(4, 0, 0, 0), peer: u(4, 0, 0, 0), hg: 0, rule: 10},
		{name: "self just created", self: u(4, 0, 0, 0), peer: u(A, 0, 0, 0), hg: -2, rule: 20},
		{name: "self zero", self: u(0, 0, 0, 0), peer: u(A, 0, 0, 0), hg: -2, rule: 20},
		{name: "peer just created", self: u(A|1, 0, 0, 0), peer: u(4, 0, 0, 0), hg: 2, rule: 30},
		{name: "missed resync-finished, corrected myself", self: u(A, B, C, 0), peer: u(A, 0, B, C), hg: 1, rule: 34,
			fixSelf: &UUIDs{Current: A, Bitmap: 0, History: [2]uint64{B, C}}},
		{name: "peer failed to write sync uuid", self: u(A, B, 0, 0), peer: u(A, 0, D, 0), hg: 1, rule: 36},
		{name: "peer missed resync-finished, corrected peer", self: u(A, 0, B, C), peer: u(A, B, C, 0), hg: -1, rule: 35,
			fixPeer: &UUIDs{Current: A, Bitmap: 0, History: [2]uint64{B, C}}},
		{name: "failed to write sync uuid", self: u(A, 0, D, 0), peer: u(A, B, 0, 0), hg: -1, rule: 37},
		{name: "equal, no crash", self: u(A, 0, B, 0), peer: u(A|1, 0, B, 0), hg: 0, rule: 40},
		{name: "equal, I crashed as primary", self: u(A, 0, 0, 0), peer: u(A, 0, 0, 0), selfCrash: true, hg: 1, rule: 40},
		{name: "equal, peer crashed as primary", self: u(A, 0, 0, 0), peer: u(A, 0, 0, 0), peerFlags: PeerFlagCrashedPrimary, hg: -1, rule: 40},
		{name: "equal, both crashed, I resolve", self: u(A, 0, 0, 0), peer: u(A, 0, 0, 0), selfCrash: true, peerFlags: PeerFlagCrashedPrimary, resolve: true, hg: -1, rule: 40},
		{name: "equal, both crashed, peer resolves", self: u(A, 0, 0, 0), peer: u(A, 0, 0, 0), selfCrash: true, peerFlags: PeerFlagCrashedPrimary, hg: 1, rule: 40},
		{name: "equal, crashed, I am primary now", self: u(A, 0, 0, 0), peer: u(A, 0, 0, 0), selfCrash: true, selfRole: Primary, peerRole: Secondary, hg: 1, rule: 41},
		{name: "equal, crashed, peer primary now", self: u(A, 0, 0, 0), peer: u(A, 0, 0, 0), peerFlags: PeerFlagCrashedPrimary, selfRole: Secondary, peerRole: Primary, hg: -1, rule: 41},
		{name: "equal, crashed, both primary", self: u(A, 0, 0, 0), peer: u(A, 0, 0, 0), selfCrash: true, selfRole: Primary, peerRole: Primary, hg: -100, rule: 41},
		{name: "peer was primary alone", self: u(A, 0, 0, 0), peer: u(B|1, A|1, 0, 0), hg: -1, rule: 50},
		{name: "lost sync uuid (proto 96+)", self: u(A, 0, 0, 0), peer: u(B, A+NewBitmapOffset, A, C), hg: -1, rule: 51,
			fixPeer: &UUIDs{Current: B, Bitmap: A, History: [2]uint64{C, C}}},
		{name: "self current in peer history", self: u(A, 0, 0, 0), peer: u(B, C, D, A), hg: -2, rule: 60},
		{name: "I was primary alone", self: u(B|1, A, 0, 0), peer: u(A, 0, 0, 0), hg: 1, rule: 70},
		{name: "my sync uuid lost (proto 96+)", self: u(B, A+NewBitmapOffset, A, C), peer: u(A, 0, 0, 0), hg: 1, rule: 71,
			fixSelf: &UUIDs{Current: B, Bitmap: A, History: [2]uint64{C, C}}},
		{name: "peer current in my history", self: u(B, C, D, A), peer: u(A, 0, 0, 0), hg: 2, rule: 80},
		{name: "split brain, same bitmap uuid", self: u(B|1, A, C, 0), peer: u(D|1, A, C, 0), hg: 100, rule: 90},
		{name: "split brain, older common ancestor", self: u(B, D, C, 0), peer: u(E, A, 0, C), hg: -100, rule: 100},
		// As in DRBD 8.4.7, empty history slots (0) match each other: only
		// sets with filled, distinct histories are "unrelated".
		{name: "empty histories count as common", self: u(A, B, 0, 0), peer: u(C, D, E, 0), hg: -100, rule: 100},
		{name: "unrelated data", self: u(A, B, C, 0x1100), peer: u(D, E, 0x1200, 0x1300), hg: -1000, rule: 100},
		{name: "old protocol cannot fix rule 34", self: u(A, B, 0, 0), peer: u(A, 0, 0, 0), proto: 90, hg: -1091, rule: 34},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := &Handshake{Self: c.self, Peer: c.peer, SelfCrashedPrimary: c.selfCrash, PeerFlags: c.peerFlags,
				SelfRole: c.selfRole, PeerRole: c.peerRole, ResolveConflicts: c.resolve, ProtoVersion: c.proto}
			if h.SelfRole == RoleUnknown {
				h.SelfRole = Secondary
			}
			if h.PeerRole == RoleUnknown {
				h.PeerRole = Secondary
			}
			d := &Decision{Self: c.self, Peer: c.peer}
			hg, rule := CompareUUIDs(h, d)
			if hg != c.hg || rule != c.rule {
				t.Fatalf("got %d by rule %d, want %d by rule %d", hg, rule, c.hg, c.rule)
			}
			if c.fixSelf != nil && d.Self != *c.fixSelf {
				t.Errorf("self corrected to %s, want %s", d.Self, *c.fixSelf)
			}
			if c.fixPeer != nil && d.Peer != *c.fixPeer {
				t.Errorf("peer corrected to %s, want %s", d.Peer, *c.fixPeer)
			}
		})
	}
}

// TestRecover0p covers every after-sb-0pri policy against every
// combination of "was primary" bits, change counts and the tie breaker.
func TestRecover0p(t *testing.T) {
	// expected result for (policy, selfBit, peerBit, chSelf, chPeer, resolve)
	want := func(p Policy, sb, pb uint64, cs, cp uint64, resolve bool) int {
		tie := 1
		if resolve {
			tie = -1
		}
		least := func() int {
			switch {
			case cs < cp:
				return -1
			case cs > cp:
				return 1
			}
			return tie
		}
		zero := func(fallback bool) int {
			switch {
			case cs == 0 && cp == 0:
				return tie
			case cp == 0:
				return 1
			case cs == 0:
				return -1
			}
			if fallback {
				return least()
			}
			return -100
		}
		switch p {
		case ASBDisconnect, ASBConsensus, ASBDiscardSecondary, ASBCallPriLostAfterSB, ASBViolently:
			return -100
		case ASBDiscardLocal:
			return -1
		case ASBDiscardRemote:
			return 1
		case ASBDiscardYoungerPrimary:
			if sb != pb {
				if sb == 0 {
					return -1
				}
				return 1
			}
			return zero(true)
		case ASBDiscardOlderPrimary:
			if sb != pb {
				if sb == 0 {
					return 1
				}
				return -1
			}
			return zero(true)
		case ASBDiscardZeroChanges:
			return zero(false)
		case ASBDiscardLeastChanges:
			return least()
		}
		panic(p)
	}
	n := 0
	for p := ASBDisconnect; p <= ASBViolently; p++ {
		for _, sb := range []uint64{0, 1} {
			for _, pb := range []uint64{0, 1} {
				for _, cs := range []uint64{0, 5, 9} {
					for _, cp := range []uint64{0, 5, 9} {
						for _, r := range []bool{false, true} {
							h := &Handshake{Self: u(0xA00, 0xB00|sb, 0, 0), Peer: u(0xC00, 0xB00|pb, 0, 0),
								SelfBits: cs, PeerBits: cp, ResolveConflicts: r, AfterSB0: p}
							got := recover0p(h, &Decision{})
							if w := want(p, sb, pb, cs, cp, r); got != w {
								t.Errorf("%s self-bit %d peer-bit %d changes %d/%d resolve %v: got %d, want %d", p, sb, pb, cs, cp, r, got, w)
							}
							n++
						}
					}
				}
			}
		}
	}
	if n != 11*2*2*3*3*2 {
		t.Fatalf("ran %d cases", n)
	}
}

// TestRecover1p2p covers the one- and two-primary policies, for each role
// and each outcome of the 0pri policy underneath.
func TestRecover1p2p(t *testing.T) {
	type tc struct {
		p1, p2    Policy
		pcount    int
		role      Role
		p0Result  int // what after-sb-0pri gives (via discard-local/remote/disconnect)
		canDemote bool
		want      int
		handlers  string
		demote    bool
	}
	p0 := map[int]Policy{-1: ASBDiscardLocal, 1: ASBDiscardRemote, -100: ASBDisconnect}
	var cases []tc
	for _, r := range []Role{Primary, Secondary} {
		for _, z := range []int{-1, 1, -100} {
			for _, cd := range []bool{false, true} {
				// 1pri
				cases = append(cases,
					tc{p1: ASBDisconnect, pcount: 1, role: r, p0Result: z, canDemote: cd, want: -100},
					tc{p1: ASBViolently, pcount: 1, role: r, p0Result: z, canDemote: cd, want: z},
					tc{p1: ASBDiscardSecondary, pcount: 1, role: r, p0Result: z, canDemote: cd, want: map[Role]int{Primary: 1, Secondary: -1}[r]},
				)
				cons := -100
				if (z == -1 && r == Secondary) || (z == 1 && r == Primary) {
					cons = z
				}
				cases = append(cases, tc{p1: ASBConsensus, pcount: 1, role: r, p0Result: z, canDemote: cd, want: cons})
				call := tc{p1: ASBCallPriLostAfterSB, pcount: 1, role: r, p0Result: z, canDemote: cd, want: z}
				if z == -1 && r == Primary {
					if cd {
						call.demote = true
					} else {
						call.want, call.handlers = -100, "pri-lost-after-sb"
					}
				}
				cases = append(cases, call)
				for _, bad := range []Policy{ASBDiscardYoungerPrimary, ASBDiscardOlderPrimary, ASBDiscardLeastChanges, ASBDiscardLocal, ASBDiscardRemote, ASBDiscardZeroChanges} {
					cases = append(cases, tc{p1: bad, pcount: 1, role: r, p0Result: z, canDemote: cd, want: -100})
				}
			}
		}
	}
	for _, z := range []int{-1, 1, -100} {
		for _, cd := range []bool{false, true} {
			cases = append(cases,
				tc{p2: ASBDisconnect, pcount: 2, role: Primary, p0Result: z, canDemote: cd, want: -100},
				tc{p2: ASBViolently, pcount: 2, role: Primary, p0Result: z, canDemote: cd, want: z})
			call := tc{p2: ASBCallPriLostAfterSB, pcount: 2, role: Primary, p0Result: z, canDemote: cd, want: z}
			if z == -1 {
				if cd {
					call.demote = true
				} else {
					call.want, call.handlers = -100, "pri-lost-after-sb"
				}
			}
			cases = append(cases, call)
			for _, bad := range []Policy{ASBDiscardYoungerPrimary, ASBDiscardOlderPrimary, ASBDiscardLeastChanges, ASBDiscardLocal, ASBDiscardRemote, ASBConsensus, ASBDiscardSecondary, ASBDiscardZeroChanges} {
				cases = append(cases, tc{p2: bad, pcount: 2, role: Primary, p0Result: z, canDemote: cd, want: -100})
			}
		}
	}
	for _, c := range cases {
		h := &Handshake{SelfRole: c.role, AfterSB0: p0[c.p0Result], AfterSB1: c.p1, AfterSB2: c.p2, CanDemote: c.canDemote}
		d := &Decision{}
		var got int
		if c.pcount == 1 {
			got = recover1p(h, d)
		} else {
			got = recover2p(h, d)
		}
		name := fmt.Sprintf("%dpri 1p=%s 2p=%s role=%s 0p=%d canDemote=%v", c.pcount, c.p1, c.p2, c.role, c.p0Result, c.canDemote)
		if got != c.want || strings.Join(d.Handlers, ",") != c.handlers || d.Demote != c.demote {
			t.Errorf("%s: got %d handlers %v demote %v; want %d %q %v", name, got, d.Handlers, d.Demote, c.want, c.handlers, c.demote)
		}
	}
	if len(cases) < 100 {
		t.Fatalf("only %d cases", len(cases))
	}
}

// TestSyncHandshakeMessages checks the decisions and the exact log texts
// of the handshake's main outcomes.
func TestSyncHandshakeMessages(t *testing.T) {
	base := Handshake{SelfRole: Secondary, PeerRole: Secondary, SelfDisk: UpToDate, SelfDiskNow: UpToDate, PeerDisk: UpToDate, CanDemote: true}
	sb := base
	sb.Self, sb.Peer = u(0xB01, 0xA00, 0, 0), u(0xC00, 0xA00, 0, 0)
	cases := []struct {
		name string
		mod  func(h *Handshake)
		hg   int
		conn Conn
		drop bool
		full bool
		msg  string
		hdl  string
	}{
		{"unresolved split brain", func(h *Handshake) {}, 100, 0, true, false, "Split-Brain detected but unresolved, dropping connection!", "initial-split-brain,split-brain"},
		{"auto-solved 0pri", func(h *Handshake) { h.AfterSB0 = ASBDiscardLocal }, -1, WFBitMapT, false, false,
			"Split-Brain detected, 0 primaries, automatically solved. Sync from peer node", "initial-split-brain"},
		{"auto-solved 1pri", func(h *Handshake) { h.SelfRole = Primary; h.AfterSB1 = ASBDiscardSecondary }, 1, WFBitMapS, false, false,
			"Split-Brain detected, 1 primaries, automatically solved. Sync from this node", "initial-split-brain"},
		{"manual: discard my data", func(h *Handshake) { h.DiscardMyData = true }, -1, WFBitMapT, false, false,
			"Split-Brain detected, manually solved. Sync from peer node", "initial-split-brain"},
		{"manual: peer discards", func(h *Handshake) { h.PeerFlags = PeerFlagDiscardMyData }, 1, WFBitMapS, false, false,
			"Split-Brain detected, manually solved. Sync from this node", "initial-split-brain"},
		{"both discard: unresolved", func(h *Handshake) { h.DiscardMyData = true; h.PeerFlags = PeerFlagDiscardMyData }, 100, 0, true, false,
			"Split-Brain detected but unresolved, dropping connection!", "initial-split-brain,split-brain"},
		{"ancestor split brain with always-asbp: full", func(h *Handshake) {
			h.Self, h.Peer = u(0xB00, 0xD00, 0xC00, 0), u(0xE00, 0xA00, 0, 0xC00)
			h.AlwaysASBP, h.AfterSB0 = true, ASBDiscardRemote
		}, 2, WFBitMapS, false, true, "Doing a full sync, since UUIDs where ambiguous.", "initial-split-brain"},
		{"unrelated", func(h *Handshake) { h.Self, h.Peer = u(0xA00, 0, 0x1A00, 0x1B00), u(0xB00, 0, 0x2A00, 0x2B00) }, -1000, 0, true, false, "Unrelated data, aborting!", ""},
		{"inconsistent source", func(h *Handshake) {
			h.Self, h.Peer = u(0xB00, 0xA00, 0, 0), u(0xA00, 0, 0, 0)
			h.SelfDisk, h.PeerDisk = Inconsistent, Inconsistent
		}, 1, 0, true, false, "I shall become SyncSource, but I am inconsistent!", ""},
		{"primary would become target", func(h *Handshake) {
			h.Self, h.Peer = u(0xA01, 0, 0, 0), u(0xB00, 0xA00, 0, 0)
			h.SelfRole = Primary
		}, -1, 0, true, false, "I shall become SyncTarget, but I am primary!", ""},
		{"primary becomes target violently", func(h *Handshake) {
			h.Self, h.Peer = u(0xA01, 0, 0, 0), u(0xB00, 0xA00, 0, 0)
			h.SelfRole, h.RRConflict = Primary, ASBViolently
		}, -1, WFBitMapT, false, false, "Becoming SyncTarget, violating the stable-data assumption", ""},
		{"rr-conflict call-pri-lost", func(h *Handshake) {
			h.Self, h.Peer = u(0xA01, 0, 0, 0), u(0xB00, 0xA00, 0, 0)
			h.SelfRole, h.RRConflict = Primary, ASBCallPriLostAfterSB
		}, -1, 0, true, false, "I shall become SyncTarget, but I am primary!", "pri-lost"},
		{"disk states decide", func(h *Handshake) {
			h.Self, h.Peer = u(0xA00, 0, 0, 0), u(0xA00, 0, 0, 0)
			h.SelfDisk = Inconsistent
		}, -1, WFBitMapT, false, false, "Becoming sync target due to disk states.", ""},
		{"tentative", func(h *Handshake) {
			h.Self, h.Peer = u(0xB00, 0xA00, 0, 0), u(0xA00, 0, 0, 0)
			h.Tentative = true
		}, 1, 0, true, false, "dry-run connect: Would become SyncSource, doing a bit-map based resync.", ""},
		{"no sync", func(h *Handshake) { h.Self, h.Peer = u(0xA00, 0, 0, 0), u(0xA01, 0, 0, 0) }, 0, Connected, false, false, "uuid_compare()=0 by rule 40", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := sb
			c.mod(&h)
			d := SyncHandshake(h)
			if d.Drop != c.drop || (!c.drop && (d.HG != c.hg || d.Conn != c.conn || d.FullSync != c.full)) {
				t.Fatalf("got hg=%d conn=%s drop=%v full=%v; want hg=%d conn=%s drop=%v full=%v\n%s",
					d.HG, d.Conn, d.Drop, d.FullSync, c.hg, c.conn, c.drop, c.full, strings.Join(d.Log, "\n"))
			}
			found := false
			for _, l := range d.Log {
				found = found || l == c.msg
			}
			if !found {
				t.Errorf("log lacks %q:\n%s", c.msg, strings.Join(d.Log, "\n"))
			}
			if got := strings.Join(d.Handlers, ","); got != c.hdl {
				t.Errorf("handlers %q, want %q", got, c.hdl)
			}
		})
	}
}

func TestResultTexts(t *testing.T) {
	for _, c := range []struct {
		r    Result
		s    string
		exit int
	}{
		{NoUpToDateDisk, "(-2) Need access to UpToDate data", 17},
		{TwoPrimaries, "(-1) Multiple primaries not allowed by config", 11},
		{PrimaryNop, "(-7) Refusing to be Primary while peer is not outdated", 11},
		{DeviceInUse, "(-12) Device is held open by someone", 11},
		{LowerThanOutdated, "(-16) Disk state is lower than outdated", 5},
		{NoLocalDisk, "(-4) Can not resync without local disk", 16},
		{OutdateWithoutConn, "(-21) Need a connection for a graceful disconnect/outdate peer", 11},
		{Success, "(1) Success", 0},
		{NeedStandAlone, "(151) Need to be StandAlone", 10},
	} {
		if c.r.String() != c.s || c.r.ExitCode() != c.exit {
			t.Errorf("%d: %q exit %d, want %q exit %d", int(c.r), c.r.String(), c.r.ExitCode(), c.s, c.exit)
		}
	}
	if got := NoUpToDateDisk.Error(); got != "State change failed: (-2) Need access to UpToDate data" {
		t.Errorf("Error() = %q", got)
	}
}
