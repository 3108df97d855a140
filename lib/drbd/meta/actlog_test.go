package meta

import (
	"bytes"
	"os/exec"
	"testing"

	"pgregory.net/rapid"
)

func TestALTransactionRoundTrip(t *testing.T) {
	tr := ALTransaction{TrNumber: 7, Type: ALTrUpdate, Updates: []ALUpdate{{1, 100}, {5, 7}}, ContextSize: 61, ContextStart: 0}
	for i := range tr.Context {
		tr.Context[i] = LCFree
	}
	tr.Context[3] = 42
	b := tr.Encode()
	got, ok := DecodeALTransaction(b)
	if !ok || got.TrNumber != 7 || len(got.Updates) != 2 || got.Updates[1] != (ALUpdate{5, 7}) || got.Context[3] != 42 {
		t.Fatalf("%v %+v", ok, got.Updates)
	}
	b[500] ^= 1
	if _, ok := DecodeALTransaction(b); ok {
		t.Fatal("corrupt block accepted")
	}
	// create-md's initial blocks are valid "initialized" transactions.
	init := InitialAL(1, 8)
	if tr, ok := DecodeALTransaction(init[4096:]); !ok || tr.Type != ALTrInitialized {
		t.Fatal("initial AL block invalid")
	}
	if hot, n, err := ReplayAL(init, 1, 8); err != nil || n != 0 || len(hot) != 0 {
		t.Fatalf("replay of a fresh AL: %v %d %v", hot, n, err)
	}
}

// TestALReplayModel: whatever sequence of writes, replaying the on-disk
// ring gives exactly the in-memory hot set, including after the ring
// wrapped and the context rolled.
func TestALReplayModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nr := rapid.IntRange(1, 2000).Draw(t, "nr")
		a := NewActivityLog(nr, 1, 8, rapid.Uint32().Draw(t, "tr0"))
		area := InitialAL(1, 8)
		for range rapid.IntRange(1, 80).Draw(t, "writes") {
			ext := rapid.Uint32Range(0, 3000).Draw(t, "ext")
			need, _, err := a.Begin(ext)
			if err != nil {
				t.Fatal(err)
			}
			// A sequential writer brings the next extents in with it.
			for i := range rapid.IntRange(0, 8).Draw(t, "prefetch") {
				a.Prefetch(ext + 1 + uint32(i))
			}
			if need || a.Pending() {
				blk, off := a.Transaction()
				copy(area[off:], blk)
			}
			a.End(ext)
		}
		hot, _, err := ReplayAL(area, 1, 8)
		if err != nil {
			t.Fatal(err)
		}
		// Replay only sees the last 8 transactions; with more slots than
		// 8 × 919 context entries cover, older slots may be missing.
		want := a.Hot()
		if nr <= 8*ALContextPerTransaction && !equalU32(hot, want) {
			t.Fatalf("replay %v, want %v", hot, want)
		}
	})
}

// TestALPrefetch: a prefetched extent joins the pending transaction
// without a write holding it; prefetch never evicts an extent a write
// holds or the pending transaction changes, and an extent it brought in
// is evicted first, before any a write used later.
func TestALPrefetch(t *testing.T) {
	a := NewActivityLog(3, 1, 8, 0)
	if need, _, _ := a.Begin(10); !need {
		t.Fatal("cold extent needs no transaction")
	}
	if ok, ev := a.Prefetch(11); !ok || ev != LCFree {
		t.Fatalf("prefetch into a free slot: %v %d", ok, ev)
	}
	if ok, _ := a.Prefetch(10); !ok {
		t.Fatal("prefetch of an extent already pending refused")
	}
	if ok, ev := a.Prefetch(12); !ok || ev != LCFree {
		t.Fatalf("prefetch into the last free slot: %v %d", ok, ev)
	}
	// Every slot is pending now: nothing may be evicted.
	if ok, _ := a.Prefetch(13); ok {
		t.Fatal("prefetch evicted a pending slot")
	}
	blk, _ := a.Transaction()
	tr, ok := DecodeALTransaction(blk)
	if !ok || len(tr.Updates) != 3 {
		t.Fatalf("transaction: %v %+v", ok, tr.Updates)
	}
	if got := a.Hot(); !equalU32(got, []uint32{10, 11, 12}) {
		t.Fatalf("hot %v", got)
	}
	// 10 is held by its write; 11 and 12 by nothing. A write to 12 makes
	// it the most recent: the next prefetch evicts 11.
	if need, _, _ := a.Begin(12); need {
		t.Fatal("hot extent needs a transaction")
	}
	a.End(12)
	if ok, ev := a.Prefetch(13); !ok || ev != 11 {
		t.Fatalf("prefetch evicted %d (ok %v), want 11", ev, ok)
	}
	a.Transaction()
	if ok, ev := a.Prefetch(14); !ok || ev != 12 {
		t.Fatalf("prefetch evicted %d (ok %v), want the idle 12", ev, ok)
	}
	a.Transaction()
	// Writes hold every slot: prefetch refuses.
	a.Begin(13)
	a.Begin(14)
	if ok, _ := a.Prefetch(15); ok {
		t.Fatal("prefetch evicted an extent a write holds")
	}
	if got := a.Hot(); !equalU32(got, []uint32{10, 13, 14}) {
		t.Fatalf("hot %v", got)
	}
}

func equalU32(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestApplyALAgainstDrbdmeta writes AL transactions as a crashed Primary
// would leave them, then compares drbdmeta apply-al with ours, byte for
// byte over the whole meta data area.
func TestApplyALAgainstDrbdmeta(t *testing.T) {
	const size = 1 << 30
	dev := loopDevice(t, size)
	d, err := Open(dev, Internal, true)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s, err := d.Create(true)
	if err != nil {
		t.Fatal(err)
	}
	s.LaSizeSect = d.Layout.MaxUsableSect
	s.Flags |= FlagPrimaryInd | FlagConsistent | FlagWasUpToDate
	if err := d.MarkUnclean(s); err != nil {
		t.Fatal(err)
	}
	bm, _ := d.ReadBitmap(s.LaSizeSect)
	bm.SetRange(5000, 300) // some bits already set, inside extent 4
	if err := d.WriteBitmap(bm); err != nil {
		t.Fatal(err)
	}
	a := NewActivityLog(61, s.ALStripes, s.ALStripeSize4k, 0)
	// 20 transactions: the ring of 8 wraps; 70 extents > 61 slots: evictions.
	for i := 0; i < 70; i++ {
		ext := uint32((i * 37) % 250)
		need, _, err := a.Begin(ext)
		if err != nil {
			t.Fatal(err)
		}
		if need {
			blk, off := a.Transaction()
			if err := d.WriteALBlock(blk, off); err != nil {
				t.Fatal(err)
			}
		}
		a.End(ext)
	}
	l := d.Layout
	before := readArea(t, dev, l)

	real := exec.Command("drbdmeta", "--force", "0", "v08", dev, "internal", "apply-al")
	out, err := real.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("Marked additional")) {
		t.Fatalf("drbdmeta apply-al: %v\n%s", err, out)
	}
	want := readArea(t, dev, l)

	writeAt(t, dev, before, l.BMOffset)
	added, err := d.ApplyAL()
	if err != nil {
		t.Fatal(err)
	}
	got := readArea(t, dev, l)
	if !bytes.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("after apply-al, byte %d (device offset %d) differs: ours %02x drbdmeta %02x", i, l.BMOffset+uint64(i), got[i], want[i])
			}
		}
	}
	if added == 0 || len(a.Hot()) != 61 {
		t.Fatalf("added %d bits, %d hot extents", added, len(a.Hot()))
	}
	s2, _ := d.Read()
	if !s2.Clean() {
		t.Fatal("meta data still unclean after apply-al")
	}
}

// FuzzReplayAL: arbitrary activity-log areas never crash the replay, and
// a decoded transaction re-encodes to a valid block.
func FuzzReplayAL(f *testing.F) {
	a := NewActivityLog(10, 1, 2, 0)
	area := InitialAL(1, 2)
	for i := uint32(0); i < 5; i++ {
		a.Begin(i)
		blk, off := a.Transaction()
		copy(area[off:], blk)
	}
	f.Add(area)
	f.Add(InitialAL(1, 2))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 2*BlockSize {
			b = append(b, make([]byte, 2*BlockSize-len(b))...)
		}
		ReplayAL(b, 1, 2)
		ReplayAL(b, 2, 1)
		if tr, ok := DecodeALTransaction(b); ok && len(tr.Updates) <= ALUpdatesPerTransaction {
			if _, ok := DecodeALTransaction(tr.Encode()); !ok {
				t.Fatal("re-encoded transaction invalid")
			}
		}
		bm := make([]byte, 4096)
		hot, _, _ := ReplayAL(b, 1, 2)
		ApplyALToBitmap(bm, hot)
	})
}
