package meta

import (
	"fmt"
	"math/bits"
	"os"
)

// Growing a backing disk (online resize).
//
// Internal meta data sits at the end of the backing disk, so a disk that
// grew has its meta data in the middle until it is moved. Relocate moves
// it crash-safely:
//
//  1. the activity log and the bitmap are written at their new places
//     (the new area lies wholly above the old meta data, which stays
//     untouched) and synced;
//  2. the super block is written at the new end (one atomic sector) and
//     synced: from here on, the meta data found at the end of the disk is
//     the new one;
//  3. the old area (now data) is zeroed and synced.
//
// A crash before 2 leaves no valid super block at the end of the disk and
// the old meta data whole: OpenAt with the disk's last known size (the
// size the meta data was placed for, which godrbd records) finds it.

// DeviceSize returns the size in bytes of a block device or a regular
// file.
func DeviceSize(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := deviceSize(f)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

// OpenAt is Open for a device treated as size bytes long (at most its real
// size): internal meta data of a disk that grew but whose meta data was
// not moved yet lives at the end of the old size.
func OpenAt(path string, idx Index, write bool, size uint64) (*Device, error) {
	d, err := Open(path, idx, write)
	if err != nil {
		return nil, err
	}
	if size == 0 || size > d.Size {
		d.Close()
		return nil, fmt.Errorf("%s: %d bytes, not %d", path, d.Size, size)
	}
	l, err := NewLayout(idx, size)
	if err != nil {
		d.Close()
		return nil, err
	}
	d.Size, d.Layout = size, l
	return d, nil
}

// GrowTooSmallError refuses a move whose new meta-data area would overlap
// the old one: the disk must grow by at least Need more bytes.
type GrowTooSmallError struct {
	Grown, Need uint64
}

func (e *GrowTooSmallError) Error() string {
	return fmt.Sprintf("the backing disk grew by %d bytes, too little to move the internal meta data safely (it needs %d bytes more)", e.Grown, e.Need)
}

// Resized returns a copy of b with nbits bits; bits beyond the old length
// are clear. Every page of the copy is dirty.
func (b *Bitmap) Resized(nbits uint64) *Bitmap {
	n := NewBitmap(nbits)
	copy(n.words, b.words)
	if r := nbits % 64; r != 0 && len(n.words) > 0 {
		n.words[len(n.words)-1] &= (1 << r) - 1
	}
	for _, w := range n.words {
		n.set += uint64(bits.OnesCount64(w))
	}
	for i := range n.dirty {
		n.dirty[i] = ^uint64(0)
	}
	return n
}

// internalLayout is the layout of internal meta data with an activity
// log of alSect sectors (al-stripes × al-stripe-size) on a disk of size
// bytes, as drbdmeta places it.
func internalLayout(size uint64, alSect int64) (Layout, error) {
	l, err := NewLayout(Internal, size)
	if err != nil {
		return l, err
	}
	md := align(BitmapBytes(size>>9)>>9, 8) + ALOffsetSect07 + uint64(alSect)
	s := SuperBlock{MDSizeSect: uint32(md), ALOffset: int32(-alSect), BMOffset: int32(-int64(md) + ALOffsetSect07)}
	return layoutOf(Internal, size, l.MDOffset, &s), nil
}

// Moves reports whether internal meta data must move for a disk of
// newSize bytes.
func (d *Device) Moves(newSize uint64) bool {
	if d.Layout.Index != Internal || newSize == d.Size {
		return false
	}
	l, err := internalLayout(newSize, -int64(d.Layout.ALOffSect))
	return err != nil || l.MDOffset != d.Layout.MDOffset || l.MDSizeSect != d.Layout.MDSizeSect
}

// Relocate moves internal meta data to the end of a backing disk that grew
// to newSize bytes (see the comment above): s is the super block as it is
// to be written (its UUIDs, flags and la-size), bm the bitmap. It returns
// the bitmap for the new layout (bits beyond the old length clear), and on
// success d describes the new place. s is updated with the new offsets.
func (d *Device) Relocate(newSize uint64, s *SuperBlock, bm *Bitmap) (*Bitmap, error) {
	if d.Layout.Index != Internal {
		return bm, nil
	}
	if newSize < d.Size {
		return nil, fmt.Errorf("%s: the backing disk shrank from %d to %d bytes", d.Path, d.Size, newSize)
	}
	if !d.Moves(newSize) {
		return bm, nil
	}
	nl, err := internalLayout(newSize, s.ALSizeSect())
	if err != nil {
		return nil, err
	}
	old := d.Layout
	oldLow := min(old.ALOffset, old.BMOffset)
	oldHigh := old.MDOffset + BlockSize
	newLow := min(nl.ALOffset, nl.BMOffset)
	if newLow < oldHigh {
		return nil, &GrowTooSmallError{Grown: newSize - d.Size, Need: oldHigh - newLow}
	}
	al, err := d.ReadAL(s)
	if err != nil {
		return nil, err
	}
	nb := bm.Resized(BitsForSectors(nl.MaxUsableSect))
	// 1. activity log and bitmap at the new place.
	if err := d.writeAt(al, nl.ALOffset); err != nil {
		return nil, err
	}
	if err := d.writeAt(nb.Bytes(BitmapBytes(newSize>>9)), nl.BMOffset); err != nil {
		return nil, err
	}
	if err := d.sync(); err != nil {
		return nil, err
	}
	// 2. the super block at the new end.
	ns := *s
	ns.MDSizeSect, ns.ALOffset, ns.BMOffset = nl.MDSizeSect, nl.ALOffSect, nl.BMOffSect
	if err := d.writeAt(ns.Encode(), nl.MDOffset); err != nil {
		return nil, err
	}
	if err := d.sync(); err != nil {
		return nil, err
	}
	*s = ns
	d.Size, d.Layout = newSize, nl
	nb.MarkClean()
	// 3. the old area is data now: zero it, so that no stale super block
	// stays behind and both nodes' grown areas read the same.
	zero := make([]byte, 1<<20)
	for off := oldLow; off < oldHigh; off += uint64(len(zero)) {
		n := min(uint64(len(zero)), oldHigh-off)
		if err := d.writeAt(zero[:n], off); err != nil {
			return nb, err
		}
	}
	return nb, d.sync()
}
