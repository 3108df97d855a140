package state

import (
	"testing"

	"pgregory.net/rapid"
)

func genEvent(t *rapid.T) Event {
	switch rapid.IntRange(0, 21).Draw(t, "kind") {
	case 20:
		return SuspendIO{}
	case 21:
		return ResumeIO{}
	case 19:
		return NewCurrentUUID{ClearBitmap: rapid.Bool().Draw(t, "cb")}
	case 0:
		return Attach{Consistent: rapid.Bool().Draw(t, "c"), WasUpToDate: rapid.Bool().Draw(t, "w"), PeerOutdated: rapid.Bool().Draw(t, "po")}
	case 1:
		return Detach{Force: rapid.Bool().Draw(t, "f")}
	case 2:
		return Connect{DiscardMyData: rapid.Bool().Draw(t, "d")}
	case 3:
		return Disconnect{Force: rapid.Bool().Draw(t, "f")}
	case 4:
		return Promote{Force: rapid.Bool().Draw(t, "f")}
	case 5:
		return Demote{}
	case 6:
		return Invalidate{}
	case 7:
		return InvalidateRemote{}
	case 8:
		return Verify{}
	case 9:
		return PauseSync{}
	case 10:
		return ResumeSync{}
	case 11:
		return Outdate{}
	case 12:
		return FenceResult{Code: rapid.IntRange(0, 8).Draw(t, "code"), Ignored: rapid.Bool().Draw(t, "ignored"), ForPromotion: rapid.Bool().Draw(t, "promo")}
	case 13:
		return Established{}
	case 14:
		return PeerParams{
			UUIDs: UUIDs{Current: rapid.SampledFrom([]uint64{0, 4, 8, 9, 12}).Draw(t, "pc"),
				Bitmap: rapid.SampledFrom([]uint64{0, 4, 8}).Draw(t, "pb")},
			Bits: rapid.Uint64Range(0, 3).Draw(t, "bits"),
			Role: rapid.SampledFrom([]Role{Primary, Secondary}).Draw(t, "pr"),
			Disk: Disk(rapid.IntRange(int(Diskless), int(UpToDate)).Draw(t, "pd")),
		}
	case 15:
		return PeerState{Role: rapid.SampledFrom([]Role{Primary, Secondary}).Draw(t, "pr"),
			Disk: Disk(rapid.IntRange(int(Diskless), int(UpToDate)).Draw(t, "pd"))}
	case 16:
		return NetFailure{Conn: Conn(rapid.IntRange(int(Timeout), int(TearDown)).Draw(t, "nc"))}
	case 17:
		return BitmapDone{}
	default:
		return DiskIOError{}
	}
}

func isRequest(ev Event) bool {
	switch ev.(type) {
	case Promote, Demote, Invalidate, InvalidateRemote, Verify, PauseSync, ResumeSync, Outdate, NewCurrentUUID, Attach, Connect, SuspendIO, ResumeIO:
		return true
	}
	return false
}

// TestMachineInvariants drives one machine with random events and checks
// what must hold after every step.
func TestMachineInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := Config{
			TwoPrimaries:    rapid.Bool().Draw(t, "two"),
			Fencing:         Fencing(rapid.IntRange(0, 2).Draw(t, "fencing")),
			VerifyAlg:       rapid.SampledFrom([]string{"", "md5"}).Draw(t, "valg"),
			SuspendOnNoData: rapid.Bool().Draw(t, "suspnod"),
		}
		var n uint64
		m := NewMachine(cfg, Policies{}, func() uint64 { n++; return n << 8 })
		m.Env.OpenCount = rapid.IntRange(0, 1).Draw(t, "open")
		for i := 0; i < 40; i++ {
			ev := genEvent(t)
			before := m.S
			rv, _, _ := m.Step(ev)
			s := m.S
			if (rv < OutdateWithoutConn && !rv.IsFailure()) || rv > CWNoNeed {
				t.Fatalf("%T: result %d out of DRBD's range", ev, rv)
			}
			if isRequest(ev) && !rv.OK() && rv != InTransientState && s != before {
				t.Fatalf("%T refused with %s but the state changed: %s -> %s", ev, rv, before, s)
			}
			if got, _ := Sanitize(cfg, s, s, nil); got != s {
				t.Fatalf("after %T: state %s is not sanitized (%s)", ev, s, got)
			}
			if s.Conn < Connected && (s.Peer != RoleUnknown || (s.PDsk != DUnknown && s.PDsk != Inconsistent && s.PDsk != Outdated)) {
				t.Fatalf("after %T: not connected but peer known: %s", ev, s)
			}
			if isRequest(ev) && rv.OK() && s != before {
				if v := ValidState(cfg, m.Env, before, s); !v.OK() && v != ValidState(cfg, m.Env, before, before) {
					t.Fatalf("%T accepted into invalid state %s (%s)", ev, s, v)
				}
			}
			if _, ok := ev.(ResumeIO); ok && s.Suspended() {
				t.Fatalf("IO still frozen after resume-io: %s", s)
			}
			if _, ok := ev.(SuspendIO); ok && !s.Susp {
				t.Fatalf("IO not frozen after suspend-io (%s): %s", rv, s)
			}
			// A Primary with a disk (the fencing policy is read from the
			// disk's configuration) that loses its peer with
			// resource-and-stonith freezes IO, unless the peer is known
			// to be Outdated.
			if cfg.Fencing == FenceResourceAndStonith && hasLdev(before) && before.Role == Primary && s.Role == Primary &&
				before.Conn >= Connected && s.Conn < Connected && s.PDsk > Outdated && !s.SuspFen {
				t.Fatalf("after %T: the peer was lost but IO is not frozen: %s -> %s", ev, before, s)
			}
			if _, ok := ev.(Promote); ok && rv.OK() && s.Role == Primary && before.Role != Primary {
				if s.Disk != UpToDate && s.PDsk != UpToDate {
					t.Fatalf("promoted without access to UpToDate data: %s", s)
				}
				if s.Disk >= Inconsistent && m.UUID.Current&1 == 0 {
					t.Fatalf("promoted but the current UUID lacks the primary bit: %s", m.UUID)
				}
			}
			if !cfg.TwoPrimaries && m.Env.HasNetConf && isRequest(ev) && rv.OK() && s.Role == Primary && s.Peer == Primary && !(before.Role == Primary && before.Peer == Primary) {
				t.Fatalf("two primaries without allow-two-primaries: %s", s)
			}
		}
	})
}

// TestHandshakeAgreement: two nodes looking at the same pair of UUID sets
// from both ends come to opposite conclusions (one source, one target,
// both full or both bitmap-based) whenever neither drops the connection.
func TestHandshakeAgreement(t *testing.T) {
	pols0 := []Policy{ASBDisconnect, ASBDiscardYoungerPrimary, ASBDiscardOlderPrimary, ASBDiscardZeroChanges, ASBDiscardLeastChanges}
	rapid.Check(t, func(t *rapid.T) {
		// Build the two UUID sets by a history both nodes lived through:
		// promotions while apart (new current UUIDs) and complete resyncs.
		var n uint64
		fresh := func() uint64 { n++; return n << 8 }
		a := UUIDs{Current: JustCreated}
		b := a
		sync := func(src, dst *UUIDs) {
			*src = src.StartSyncSource(fresh())
			*dst = dst.ReceiveSyncUUID(src.Bitmap)
			s0, d0 := *src, *dst
			*dst = dst.ResyncFinished(true, s0)
			*src = src.ResyncFinished(false, d0)
		}
		steps := rapid.SliceOfN(rapid.IntRange(0, 3), 0, 6).Draw(t, "steps")
		for _, st := range steps {
			switch st {
			case 0:
				a = a.NewCurrent(fresh(), rapid.Bool().Draw(t, "pa"))
			case 1:
				b = b.NewCurrent(fresh(), rapid.Bool().Draw(t, "pb"))
			case 2:
				sync(&a, &b)
			case 3:
				sync(&b, &a)
			}
		}
		disk := func(l string) Disk {
			return rapid.SampledFrom([]Disk{Inconsistent, Outdated, Consistent, UpToDate}).Draw(t, l)
		}
		da, db := disk("da"), disk("db")
		p0 := rapid.SampledFrom(pols0).Draw(t, "p0")
		ba, bb := rapid.Uint64Range(0, 2).Draw(t, "ba"), rapid.Uint64Range(0, 2).Draw(t, "bb")
		ha := Handshake{Self: a, Peer: b, SelfBits: ba, PeerBits: bb, SelfRole: Secondary, PeerRole: Secondary,
			SelfDisk: da, SelfDiskNow: da, PeerDisk: db, ResolveConflicts: true, AfterSB0: p0}
		hb := Handshake{Self: b, Peer: a, SelfBits: bb, PeerBits: ba, SelfRole: Secondary, PeerRole: Secondary,
			SelfDisk: db, SelfDiskNow: db, PeerDisk: da, ResolveConflicts: false, AfterSB0: p0}
		xa, xb := SyncHandshake(ha), SyncHandshake(hb)
		// Rules that repair a side's UUIDs see different inputs on the
		// two ends by design.
		switch xa.Rule {
		case 34, 35, 36, 37, 51, 71:
			return
		}
		switch xb.Rule {
		case 34, 35, 36, 37, 51, 71:
			return
		}
		if xa.Compare != -xb.Compare && !(xa.Compare == 100 && xb.Compare == 100) && !(xa.Compare == -100 && xb.Compare == -100) && !(xa.Compare == -1000 && xb.Compare == -1000) {
			t.Fatalf("compare not antisymmetric: %d (rule %d) vs %d (rule %d)\n a=%s\n b=%s", xa.Compare, xa.Rule, xb.Compare, xb.Rule, a, b)
		}
		if xa.Drop || xb.Drop {
			return
		}
		if xa.HG != -xb.HG || xa.FullSync != xb.FullSync {
			t.Fatalf("disagree: a hg=%d full=%v, b hg=%d full=%v\n a=%s %s\n b=%s %s\n%v\n%v", xa.HG, xa.FullSync, xb.HG, xb.FullSync, a, da, b, db, xa.Log, xb.Log)
		}
	})
}
