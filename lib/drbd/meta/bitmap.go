package meta

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Bitmap is the in-memory out-of-sync bitmap: one bit per 4 KiB block of
// the device, stored as little-endian 64-bit words as DRBD keeps it on
// disk. It counts its set bits and remembers which 4 KiB pages changed,
// so only those need writing. Not safe for concurrent use.
type Bitmap struct {
	words []uint64
	nbits uint64
	set   uint64
	dirty []uint64 // one bit per 4 KiB page of the on-disk bitmap
}

const wordsPerPage = BlockSize / 8

// NewBitmap returns an all-clear bitmap for nbits blocks.
func NewBitmap(nbits uint64) *Bitmap {
	nw := (nbits + 63) / 64
	np := (nw + wordsPerPage - 1) / wordsPerPage
	return &Bitmap{words: make([]uint64, nw), nbits: nbits, dirty: make([]uint64, (np+63)/64)}
}

// BitsForSectors is the number of bitmap bits for a device of n sectors.
func BitsForSectors(n uint64) uint64 { return (n + 7) / 8 }

// Len is the number of bits (blocks).
func (b *Bitmap) Len() uint64 { return b.nbits }

// Count is the number of set bits (out-of-sync blocks).
func (b *Bitmap) Count() uint64 { return b.set }

func (b *Bitmap) markDirty(w uint64) {
	p := w / wordsPerPage
	b.dirty[p/64] |= 1 << (p % 64)
}

// Test reports whether bit i is set.
func (b *Bitmap) Test(i uint64) bool {
	if i >= b.nbits {
		return false
	}
	return b.words[i/64]&(1<<(i%64)) != 0
}

// Set sets bit i; it reports whether the bit was clear before.
func (b *Bitmap) Set(i uint64) bool {
	if i >= b.nbits {
		return false
	}
	w, m := i/64, uint64(1)<<(i%64)
	if b.words[w]&m != 0 {
		return false
	}
	b.words[w] |= m
	b.set++
	b.markDirty(w)
	return true
}

// Clear clears bit i; it reports whether the bit was set before.
func (b *Bitmap) Clear(i uint64) bool {
	if i >= b.nbits {
		return false
	}
	w, m := i/64, uint64(1)<<(i%64)
	if b.words[w]&m == 0 {
		return false
	}
	b.words[w] &^= m
	b.set--
	b.markDirty(w)
	return true
}

// rangeMask applies f to the words covering [start, start+n), with the
// mask of the bits in range for each word.
func (b *Bitmap) rangeMask(start, n uint64, f func(w uint64, mask uint64)) {
	if start >= b.nbits {
		return
	}
	end := min(start+n, b.nbits)
	for start < end {
		w := start / 64
		lo := start % 64
		hi := uint64(64)
		if (w+1)*64 > end {
			hi = end - w*64
		}
		var mask uint64
		if hi-lo == 64 {
			mask = ^uint64(0)
		} else {
			mask = ((uint64(1) << (hi - lo)) - 1) << lo
		}
		f(w, mask)
		start = w*64 + hi
	}
}

// SetRange sets n bits from start and returns how many were clear.
func (b *Bitmap) SetRange(start, n uint64) uint64 {
	var changed uint64
	b.rangeMask(start, n, func(w, mask uint64) {
		c := uint64(bits.OnesCount64(mask &^ b.words[w]))
		if c > 0 {
			b.words[w] |= mask
			changed += c
			b.markDirty(w)
		}
	})
	b.set += changed
	return changed
}

// ClearRange clears n bits from start and returns how many were set.
func (b *Bitmap) ClearRange(start, n uint64) uint64 {
	var changed uint64
	b.rangeMask(start, n, func(w, mask uint64) {
		c := uint64(bits.OnesCount64(mask & b.words[w]))
		if c > 0 {
			b.words[w] &^= mask
			changed += c
			b.markDirty(w)
		}
	})
	b.set -= changed
	return changed
}

// SetAll sets every bit (a full sync).
func (b *Bitmap) SetAll() { b.SetRange(0, b.nbits) }

// ClearAll clears every bit.
func (b *Bitmap) ClearAll() { b.ClearRange(0, b.nbits) }

// NextSet returns the first set bit at or after i, or Len() if none.
func (b *Bitmap) NextSet(i uint64) uint64 {
	for i < b.nbits {
		w := b.words[i/64] >> (i % 64)
		if w != 0 {
			i += uint64(bits.TrailingZeros64(w))
			return min(i, b.nbits)
		}
		i = (i/64 + 1) * 64
	}
	return b.nbits
}

// NextClear returns the first clear bit at or after i, or Len() if none.
func (b *Bitmap) NextClear(i uint64) uint64 {
	for i < b.nbits {
		w := ^b.words[i/64] >> (i % 64)
		if w != 0 {
			i += uint64(bits.TrailingZeros64(w))
			return min(i, b.nbits)
		}
		i = (i/64 + 1) * 64
	}
	return b.nbits
}

// Runs calls fn for every run of set bits, in order, with its first bit
// and length; it stops when fn returns false. Resync walks these.
func (b *Bitmap) Runs(fn func(start, n uint64) bool) {
	for i := b.NextSet(0); i < b.nbits; {
		e := b.NextClear(i)
		if !fn(i, e-i) {
			return
		}
		i = b.NextSet(e)
	}
}

// DirtyPages calls fn with the index of each 4 KiB bitmap page changed
// since the last MarkClean.
func (b *Bitmap) DirtyPages(fn func(page uint64)) {
	for i, d := range b.dirty {
		for d != 0 {
			t := uint64(bits.TrailingZeros64(d))
			fn(uint64(i)*64 + t)
			d &^= 1 << t
		}
	}
}

// MarkClean forgets the dirty pages (after they were written).
func (b *Bitmap) MarkClean() { clear(b.dirty) }

// Page encodes 4 KiB bitmap page p into dst (len ≥ 4096), zero-padded
// beyond the last word.
func (b *Bitmap) Page(p uint64, dst []byte) {
	clear(dst[:BlockSize])
	w0 := p * wordsPerPage
	for k := uint64(0); k < wordsPerPage && w0+k < uint64(len(b.words)); k++ {
		binary.LittleEndian.PutUint64(dst[8*k:], b.words[w0+k])
	}
}

// Bytes encodes the whole bitmap, size bytes long (≥ the bitmap, zero
// padded), as it is stored on disk.
func (b *Bitmap) Bytes(size uint64) []byte {
	out := make([]byte, max(size, uint64(len(b.words))*8))
	for k, w := range b.words {
		binary.LittleEndian.PutUint64(out[8*k:], w)
	}
	return out
}

// LoadBitmap decodes an on-disk bitmap for nbits blocks. Bits beyond
// nbits are ignored.
func LoadBitmap(data []byte, nbits uint64) (*Bitmap, error) {
	b := NewBitmap(nbits)
	if uint64(len(data)) < uint64(len(b.words))*8 {
		return nil, fmt.Errorf("bitmap: %d bytes for %d bits", len(data), nbits)
	}
	for k := range b.words {
		b.words[k] = binary.LittleEndian.Uint64(data[8*k:])
	}
	if r := nbits % 64; r != 0 {
		b.words[len(b.words)-1] &= (1 << r) - 1
	}
	for _, w := range b.words {
		b.set += uint64(bits.OnesCount64(w))
	}
	return b, nil
}
