package meta

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestCrashRelocate: a crash at any point of moving internal meta data
// to the end of a grown disk leaves exactly one valid copy with the old
// UUIDs and every out-of-sync bit: the new one at the new end, or the old
// one where the old size puts it.
func TestCrashRelocate(t *testing.T) {
	const newSize = crashSize + 3<<20
	base, old, oldBM := existing(t)
	img := append(bytes.Clone(base), make([]byte, newSize-crashSize)...)
	c := &crashDisk{cur: bytes.Clone(img)}
	d, err := newDeviceOn(c, "crash", Internal, crashSize)
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Read()
	if err != nil {
		t.Fatal(err)
	}
	bm, _ := d.ReadBitmap(s.LaSizeSect)
	oldLayout := d.Layout
	if !d.Moves(newSize) {
		t.Fatal("a disk grown by 3 MiB must move its meta data")
	}
	nb, err := d.Relocate(newSize, s, bm)
	if err != nil {
		t.Fatal(err)
	}
	if nb.Count() != bm.Count() || nb.Len() <= bm.Len() {
		t.Fatalf("new bitmap: %d of %d bits, old %d of %d", nb.Count(), nb.Len(), bm.Count(), bm.Len())
	}
	if d.Size != newSize || d.Layout.MDOffset <= oldLayout.MDOffset {
		t.Fatalf("device after the move: size %d, layout %+v", d.Size, d.Layout)
	}
	r := rand.New(rand.NewPCG(9, 10))
	var sawOld, sawNew int
	for i, im := range c.images(img, 8, r) {
		dn, _ := newDeviceOn(&crashDisk{cur: im}, "crash", Internal, newSize)
		s, err := dn.Read()
		if err == nil {
			sawNew++
			if s.UUID != old.UUID || s.LaSizeSect != old.LaSizeSect {
				t.Fatalf("image %d: new super block %+v", i, s)
			}
			area, _ := dn.BitmapArea(s.LaSizeSect)
			if !bytes.Equal(area[:len(oldBM)], oldBM) {
				t.Fatalf("image %d: the moved bitmap lost bits", i)
			}
			al, _ := dn.ReadAL(s)
			if _, _, err := ReplayAL(al, 1, 8); err != nil {
				t.Fatalf("image %d: the moved activity log: %v", i, err)
			}
			continue
		}
		if !errors.Is(err, ErrNoMetaData) {
			t.Fatalf("image %d: %v", i, err)
		}
		sawOld++
		do, _ := newDeviceOn(&crashDisk{cur: im}, "crash", Internal, crashSize)
		s, err = do.Read()
		if err != nil {
			t.Fatalf("image %d: neither the new nor the old meta data: %v", i, err)
		}
		if s.UUID != old.UUID {
			t.Fatalf("image %d: old super block %+v", i, s)
		}
		if area, _ := do.BitmapArea(s.LaSizeSect); !bytes.Equal(area, oldBM) {
			t.Fatalf("image %d: the old bitmap changed before the move completed", i)
		}
	}
	if sawOld == 0 || sawNew == 0 {
		t.Fatalf("crash images: %d old, %d new; want both", sawOld, sawNew)
	}
	// After the move the old area is zero: no stale super block.
	if z := c.cur[oldLayout.BMOffset : oldLayout.MDOffset+BlockSize]; !bytes.Equal(z, make([]byte, len(z))) {
		t.Fatal("the old meta data area was not zeroed")
	}
}

func TestRelocateTooLittle(t *testing.T) {
	base, _, _ := existing(t)
	const newSize = crashSize + 16<<10
	c := &crashDisk{cur: append(bytes.Clone(base), make([]byte, newSize-crashSize)...)}
	d, _ := newDeviceOn(c, "crash", Internal, crashSize)
	s, _ := d.Read()
	bm, _ := d.ReadBitmap(s.LaSizeSect)
	_, err := d.Relocate(newSize, s, bm)
	var e *GrowTooSmallError
	if !errors.As(err, &e) || e.Need == 0 {
		t.Fatalf("grow by 16 KiB: %v", err)
	}
	if len(c.ops) != 0 {
		t.Fatalf("a refused move wrote %d times", len(c.ops))
	}
	if _, err := d.Relocate(crashSize-4096, s, bm); err == nil {
		t.Fatal("a shrunk disk was accepted")
	}
}

func TestBitmapResized(t *testing.T) {
	b := NewBitmap(100)
	b.SetRange(60, 40)
	g := b.Resized(1000)
	if g.Len() != 1000 || g.Count() != 40 || g.Test(100) || !g.Test(99) {
		t.Fatalf("grown: %d of %d", g.Count(), g.Len())
	}
	s := b.Resized(70)
	if s.Count() != 10 || s.Test(70) {
		t.Fatalf("shrunk: %d of %d", s.Count(), s.Len())
	}
	n := 0
	g.DirtyPages(func(uint64) { n++ })
	if n == 0 {
		t.Fatal("a resized bitmap must be written whole")
	}
}

// TestInternalLayout: with the default activity log, the layout a move
// computes is create-md's; a larger log moves the bitmap down by its
// extra size.
func TestInternalLayout(t *testing.T) {
	for _, size := range []uint64{1 << 20, 4<<20 + 512, 12 << 20, 1 << 40} {
		want, _ := NewLayout(Internal, size)
		got, err := internalLayout(size, DefaultALStripe*DefaultALSize4k*8)
		if err != nil || got != want {
			t.Errorf("%d bytes: %+v, want %+v (%v)", size, got, want, err)
		}
		big, _ := internalLayout(size, 4*DefaultALSize4k*8)
		if big.MDOffset != want.MDOffset || big.BMOffset != want.BMOffset-3*DefaultALSize4k*8*SectorSize {
			t.Errorf("%d bytes with 4 stripes: %+v", size, big)
		}
	}
}
