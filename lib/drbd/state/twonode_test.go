package state

import (
	"testing"

	"pgregory.net/rapid"
)

// pair is two machines joined by an in-memory link that delivers state
// reports at once.
type pair struct {
	m    [2]*Machine
	bits [2]uint64
}

func (p *pair) report(i int) PeerState {
	m := p.m[i]
	return PeerState{Role: m.S.Role, Disk: m.S.Disk, Conn: m.S.Conn, UUIDs: m.UUID, Bits: p.bits[i],
		Flags: peerFlags(m), SelfBits: p.bits[1-i], ResolveConflicts: i == 0}
}

func (p *pair) link() {
	for i := range p.m {
		p.m[i].Step(Established{})
	}
	if p.m[0].S.Conn != WFReportParams || p.m[1].S.Conn != WFReportParams {
		// Only one side listening: the connection cannot form.
		for i := range p.m {
			if p.m[i].S.Conn == WFReportParams {
				p.m[i].Step(NetFailure{Conn: NetworkFailure})
			}
		}
		return
	}
	ps := [2]PeerParams{}
	for i := range p.m {
		r := p.report(i)
		ps[i] = PeerParams{UUIDs: r.UUIDs, Bits: r.Bits, SelfBits: p.bits[1-i], Flags: r.Flags, Role: r.Role, Disk: r.Disk, ResolveConflicts: i == 0}
	}
	p.m[0].Step(ps[1])
	p.m[1].Step(ps[0])
	p.settle()
}

// settle delivers state reports both ways until nothing changes, or
// breaks the link when one side dropped it.
func (p *pair) settle() {
	for round := 0; round < 6; round++ {
		a, b := p.m[0].S.Conn >= Connected, p.m[1].S.Conn >= Connected
		if a != b {
			for i := range p.m {
				if p.m[i].S.Conn >= WFReportParams {
					p.m[i].Step(NetFailure{Conn: NetworkFailure})
				}
			}
			return
		}
		if !a {
			return
		}
		before := [2]State{p.m[0].S, p.m[1].S}
		p.m[1].Step(p.report(0))
		p.m[0].Step(p.report(1))
		if before[0] == p.m[0].S && before[1] == p.m[1].S {
			return
		}
	}
}

func (p *pair) breakLink() {
	for i := range p.m {
		if p.m[i].S.Conn >= WFReportParams {
			p.m[i].Step(NetFailure{Conn: NetworkFailure})
		}
	}
}

func sourceSide(c Conn) bool {
	return c == WFBitMapS || c == SyncSource || c == PausedSyncS || c == StartingSyncS
}
func targetSide(c Conn) bool {
	return c == WFBitMapT || c == WFSyncUUID || c == SyncTarget || c == PausedSyncT || c == StartingSyncT
}

// TestTwoNodes drives two nodes with random administrator commands and
// link events; whenever both are connected and settled they must agree
// on each other's role and on the sync direction, and never be two
// Primaries without allow-two-primaries.
func TestTwoNodes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		two := rapid.Bool().Draw(t, "two-primaries")
		pol := Policies{
			AfterSB0: rapid.SampledFrom([]Policy{ASBDisconnect, ASBDiscardLeastChanges, ASBDiscardYoungerPrimary}).Draw(t, "sb0"),
			AfterSB1: rapid.SampledFrom([]Policy{ASBDisconnect, ASBDiscardSecondary, ASBConsensus}).Draw(t, "sb1"),
		}
		var n uint64
		rnd := func() uint64 { n++; return n << 12 }
		p := &pair{}
		for i := range p.m {
			p.m[i] = NewMachine(Config{TwoPrimaries: two}, pol, rnd)
			p.m[i].Step(Attach{Consistent: false})
			p.m[i].Step(Connect{})
		}
		for range rapid.IntRange(1, 30).Draw(t, "steps") {
			i := rapid.IntRange(0, 1).Draw(t, "node")
			m := p.m[i]
			switch rapid.IntRange(0, 12).Draw(t, "cmd") {
			case 12:
				m.Step(NewCurrentUUID{ClearBitmap: rapid.Bool().Draw(t, "cb")})
				p.settle()
			case 0:
				p.link()
			case 1:
				p.breakLink()
			case 2:
				m.Step(Promote{Force: rapid.Bool().Draw(t, "force")})
				p.settle()
			case 3:
				m.Step(Demote{})
				p.settle()
			case 4:
				if m.S.Conn == StandAlone {
					m.Step(Connect{DiscardMyData: rapid.Bool().Draw(t, "dmd")})
				} else {
					m.Step(Disconnect{})
					p.settle()
				}
			case 5:
				for j := range p.m {
					p.m[j].Step(BitmapDone{})
				}
				for j := range p.m {
					if p.m[j].S.Conn == SyncSource || p.m[j].S.Conn == PausedSyncS {
						p.m[1-j].Step(SyncUUID{UUID: p.m[j].UUID.Bitmap})
					}
				}
				p.settle()
			case 6:
				u0, u1 := p.m[0].UUID, p.m[1].UUID
				if (sourceSide(p.m[0].S.Conn) && targetSide(p.m[1].S.Conn)) || (sourceSide(p.m[1].S.Conn) && targetSide(p.m[0].S.Conn)) {
					p.m[0].Step(ResyncDone{PeerUUIDs: u1})
					p.m[1].Step(ResyncDone{PeerUUIDs: u0})
					p.bits = [2]uint64{}
					a, b := p.m[0], p.m[1]
					if a.S.Conn == Connected && b.S.Conn == Connected &&
						(clr(a.UUID.Current) != clr(b.UUID.Current) || a.UUID.Bitmap != 0 || b.UUID.Bitmap != 0 ||
							a.S.Disk != UpToDate || b.S.Disk != UpToDate) {
						t.Fatalf("after the resync: %s %s / %s %s", a.S, a.UUID, b.S, b.UUID)
					}
					p.settle()
				}
			case 7:
				p.bits[i] += rapid.Uint64Range(1, 50).Draw(t, "bits")
			case 8:
				m.Step(Invalidate{})
				p.settle()
			case 9:
				m.Step(PauseSync{})
				p.settle()
			case 10:
				m.Step(ResumeSync{})
				p.settle()
			case 11:
				m.Step(FenceResult{Code: 4, ForPromotion: m.PendingFence()})
			}
			a, b := p.m[0].S, p.m[1].S
			if a.Conn >= Connected && b.Conn >= Connected {
				if a.Peer != b.Role || b.Peer != a.Role {
					t.Fatalf("roles disagree: %s / %s", a, b)
				}
				if !two && a.Role == Primary && b.Role == Primary {
					t.Fatalf("two primaries: %s / %s", a, b)
				}
				if (sourceSide(a.Conn) && !targetSide(b.Conn) && b.Conn != Connected) ||
					(sourceSide(b.Conn) && !targetSide(a.Conn) && a.Conn != Connected) ||
					(sourceSide(a.Conn) && sourceSide(b.Conn)) || (targetSide(a.Conn) && targetSide(b.Conn)) {
					t.Fatalf("sync direction: %s / %s", a, b)
				}
			}
		}
	})
}
