package meta

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// crashDisk records every write and sync of an operation so that the
// test can build the disk as a crash at any point would leave it: all
// writes before the last completed sync are durable; of the writes after
// it, any subset may have landed, each possibly torn at a 512-byte sector
// boundary (sectors are atomic, 4 KiB blocks are not).
type crashDisk struct {
	cur []byte
	ops []crashOp
}

type crashOp struct {
	sync bool
	off  int64
	data []byte
}

func (c *crashDisk) ReadAt(p []byte, off int64) (int, error) { return copy(p, c.cur[off:]), nil }
func (c *crashDisk) WriteAt(p []byte, off int64) (int, error) {
	c.ops = append(c.ops, crashOp{off: off, data: bytes.Clone(p)})
	return copy(c.cur[off:], p), nil
}
func (c *crashDisk) Sync() error  { c.ops = append(c.ops, crashOp{sync: true}); return nil }
func (c *crashDisk) Close() error { return nil }

// images returns disk images for crashes after each op, n random ones per
// crash point, starting from base.
func (c *crashDisk) images(base []byte, n int, r *rand.Rand) [][]byte {
	var out [][]byte
	for k := 0; k <= len(c.ops); k++ {
		lastSync := -1
		for i := 0; i < k; i++ {
			if c.ops[i].sync {
				lastSync = i
			}
		}
		for j := 0; j < n; j++ {
			img := bytes.Clone(base)
			for i := 0; i <= lastSync; i++ {
				if !c.ops[i].sync {
					copy(img[c.ops[i].off:], c.ops[i].data)
				}
			}
			for i := lastSync + 1; i < k; i++ {
				op := c.ops[i]
				if op.sync {
					continue
				}
				switch r.IntN(3) {
				case 0: // did not land
				case 1:
					copy(img[op.off:], op.data)
				case 2: // torn: a random subset of its sectors
					for s := 0; s < len(op.data); s += 512 {
						if r.IntN(2) == 0 {
							copy(img[op.off+int64(s):], op.data[s:min(s+512, len(op.data))])
						}
					}
				}
			}
			out = append(out, img)
		}
	}
	return out
}

const crashSize = 2 << 20

// fresh returns a device on a crash disk holding img.
func fresh(t *testing.T, img []byte) (*Device, *crashDisk) {
	c := &crashDisk{cur: bytes.Clone(img)}
	d, err := newDeviceOn(c, "crash", Internal, crashSize)
	if err != nil {
		t.Fatal(err)
	}
	return d, c
}

// existing builds an image with valid meta data, some bitmap bits and
// UUIDs, as a base for the operations.
func existing(t *testing.T) ([]byte, *SuperBlock, []byte) {
	d, c := fresh(t, make([]byte, crashSize))
	s, err := d.Create(true)
	if err != nil {
		t.Fatal(err)
	}
	s.UUID = [4]uint64{0xAAAA, 0xBBBB, 0xCCCC, 0xDDDD}
	s.LaSizeSect = d.Layout.MaxUsableSect
	s.Flags |= FlagConsistent | FlagWasUpToDate
	d.WriteSuper(s)
	bm, _ := d.ReadBitmap(s.LaSizeSect)
	bm.SetRange(10, 500)
	bm.SetRange(400, 3)
	d.WriteBitmap(bm)
	area, _ := d.BitmapArea(s.LaSizeSect)
	return bytes.Clone(c.cur), s, area
}

func TestCrashCreate(t *testing.T) {
	base, old, oldBM := existing(t)
	d, c := fresh(t, base)
	if _, err := d.Create(true); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i, img := range c.images(base, 8, r) {
		d, _ := fresh(t, img)
		s, err := d.Read()
		switch {
		case errors.Is(err, ErrNoMetaData):
		case err != nil:
			t.Fatalf("image %d: %v", i, err)
		case s.UUID == old.UUID:
			// The old meta data must still have its own bitmap.
			if bm, _ := d.BitmapArea(s.LaSizeSect); !bytes.Equal(bm, oldBM) {
				t.Fatalf("image %d: old super block over a changed bitmap", i)
			}
		case s.UUID[0] == JustCreated:
			bm, _ := d.BitmapArea(d.Layout.MaxUsableSect)
			if !bytes.Equal(bm, make([]byte, len(bm))) {
				t.Fatalf("image %d: new meta data over a bitmap that is not zero", i)
			}
			al, _ := d.ReadAL(s)
			if _, n, err := ReplayAL(al, 1, 8); err != nil || n != 0 {
				t.Fatalf("image %d: new meta data with activity log %v %d", i, err, n)
			}
		default:
			t.Fatalf("image %d: unexpected super block %+v", i, s)
		}
	}
}

func TestCrashWipe(t *testing.T) {
	base, old, oldBM := existing(t)
	d, c := fresh(t, base)
	if err := d.Wipe(); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i, img := range c.images(base, 8, r) {
		d, _ := fresh(t, img)
		s, err := d.Read()
		if errors.Is(err, ErrNoMetaData) {
			continue
		}
		if err != nil || s.UUID != old.UUID {
			t.Fatalf("image %d: %v %+v", i, err, s)
		}
		if bm, _ := d.BitmapArea(s.LaSizeSect); !bytes.Equal(bm, oldBM) {
			t.Fatalf("image %d: surviving meta data lost its bitmap", i)
		}
		al, _ := d.ReadAL(s)
		if _, _, err := ReplayAL(al, 1, 8); err != nil {
			t.Fatalf("image %d: surviving meta data lost its activity log: %v", i, err)
		}
	}
}

// TestCrashFullSync: once FULL_SYNC is durable, no crash leaves the flag
// cleared with bits missing; and bits are never lost.
func TestCrashFullSync(t *testing.T) {
	base, old, oldBM := existing(t)
	d, c := fresh(t, base)
	s, _ := d.Read()
	bm, _ := d.ReadBitmap(s.LaSizeSect)
	if err := d.SetFullSync(s, bm); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for i, img := range c.images(base, 8, r) {
		d, _ := fresh(t, img)
		s, err := d.Read()
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		area, _ := d.BitmapArea(s.LaSizeSect)
		b, _ := LoadBitmap(area, BitsForSectors(s.LaSizeSect))
		o, _ := LoadBitmap(oldBM, BitsForSectors(s.LaSizeSect))
		lost := false
		o.Runs(func(st, n uint64) bool {
			for k := st; k < st+n; k++ {
				lost = lost || !b.Test(k)
			}
			return !lost
		})
		if lost {
			t.Fatalf("image %d: out-of-sync bits lost", i)
		}
		full := b.Count() == b.Len()
		if s.Flags&FlagFullSync == 0 && !full && s.Flags != old.Flags {
			t.Fatalf("image %d: flags %x without FULL_SYNC and %d of %d bits", i, s.Flags, b.Count(), b.Len())
		}
	}
	// After the operation itself: flag cleared, all bits set.
	d2, _ := fresh(t, c.cur)
	s2, _ := d2.Read()
	b2, _ := d2.ReadBitmap(s2.LaSizeSect)
	if s2.Flags&FlagFullSync != 0 || b2.Count() != b2.Len() {
		t.Fatalf("final: flags %x, %d of %d bits", s2.Flags, b2.Count(), b2.Len())
	}
}

// TestCrashApplyAL: a crash during apply-al never leaves the meta data
// clean (or the log reset) without the hot extents' bits in the bitmap.
func TestCrashApplyAL(t *testing.T) {
	base, _, _ := existing(t)
	d, c := fresh(t, base)
	s, _ := d.Read()
	s.Flags |= FlagPrimaryInd
	d.MarkUnclean(s)
	a := NewActivityLog(61, 1, 8, 0)
	for i := uint32(0); i < 12; i++ {
		a.Begin(i % 2) // extent 0 lies on this 2 MiB device
		a.Begin(100 + i)
		blk, off := a.Transaction()
		d.WriteALBlock(blk, off)
	}
	hot := a.Hot()
	before := bytes.Clone(c.cur)
	d, c = fresh(t, before)
	if _, err := d.ApplyAL(); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 8))
	for i, img := range c.images(before, 8, r) {
		d, _ := fresh(t, img)
		s, err := d.Read()
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		al, _ := d.ReadAL(s)
		logHot, n, _ := ReplayAL(al, 1, 8)
		area, _ := d.BitmapArea(s.LaSizeSect)
		b, _ := LoadBitmap(area, BitsForSectors(s.LaSizeSect))
		for _, e := range hot {
			first, last := uint64(e)*BitsPerALExtent, min(uint64(e+1)*BitsPerALExtent, b.Len())-1
			if first >= b.Len() {
				continue // beyond the device: apply-al skips it too
			}
			inBM := b.Test(first) && b.Test(last)
			inLog := n > 0 && containsU32(logHot, e) && !s.Clean()
			if !inBM && !inLog {
				t.Fatalf("image %d: hot extent %d neither in the bitmap nor in a log that apply-al would replay (clean=%v, %d updates)", i, e, s.Clean(), n)
			}
		}
	}
}

func containsU32(s []uint32, v uint32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
