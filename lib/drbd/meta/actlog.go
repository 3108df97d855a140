package meta

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Activity log constants (DRBD 8.4).
const (
	ALUpdatesPerTransaction        = 64
	ALContextPerTransaction        = 919
	ALExtentShift                  = 22 // 4 MiB per extent
	BitsPerALExtent                = 1 << (ALExtentShift - 12)
	LCFree                  uint32 = 0xffffffff
	alExtentsMax                   = 65534
)

// ExtentOfSector is the activity-log extent of a sector.
func ExtentOfSector(sector uint64) uint32 { return uint32(sector >> (ALExtentShift - 9)) }

// ALUpdate is one slot change of a transaction.
type ALUpdate struct {
	Slot   uint16
	Extent uint32
}

// ALTransaction is struct al_transaction_on_disk (4 KiB).
type ALTransaction struct {
	TrNumber     uint32
	Type         uint16
	Updates      []ALUpdate // at most 64
	ContextSize  uint16     // number of AL slots (al-extents)
	ContextStart uint16
	Context      [ALContextPerTransaction]uint32
}

// Encode returns the 4 KiB block with its crc32c.
func (t *ALTransaction) Encode() []byte {
	b := make([]byte, BlockSize)
	be := binary.BigEndian
	be.PutUint32(b[0:], ALMagic)
	be.PutUint32(b[4:], t.TrNumber)
	be.PutUint16(b[12:], t.Type)
	be.PutUint16(b[14:], uint16(len(t.Updates)))
	be.PutUint16(b[16:], t.ContextSize)
	be.PutUint16(b[18:], t.ContextStart)
	for i := 0; i < ALUpdatesPerTransaction; i++ {
		slot, ext := uint16(0xffff), LCFree
		if i < len(t.Updates) {
			slot, ext = t.Updates[i].Slot, t.Updates[i].Extent
		}
		be.PutUint16(b[36+2*i:], slot)
		be.PutUint32(b[164+4*i:], ext)
	}
	for i, v := range t.Context {
		be.PutUint32(b[420+4*i:], v)
	}
	be.PutUint32(b[8:], crc32cRaw(0, b))
	return b
}

// DecodeALTransaction parses a 4 KiB AL block; ok is false when the
// magic or the checksum is wrong.
func DecodeALTransaction(b []byte) (t ALTransaction, ok bool) {
	if len(b) < BlockSize {
		return t, false
	}
	be := binary.BigEndian
	t.TrNumber = be.Uint32(b[4:])
	t.Type = be.Uint16(b[12:])
	n := int(be.Uint16(b[14:]))
	t.ContextSize = be.Uint16(b[16:])
	t.ContextStart = be.Uint16(b[18:])
	for i := 0; i < ALUpdatesPerTransaction; i++ {
		slot, ext := be.Uint16(b[36+2*i:]), be.Uint32(b[164+4*i:])
		if i >= n && slot == 0xffff {
			continue
		}
		t.Updates = append(t.Updates, ALUpdate{slot, ext})
	}
	for i := range t.Context {
		t.Context[i] = be.Uint32(b[420+4*i:])
	}
	var c [BlockSize]byte
	copy(c[:], b[:BlockSize])
	clear(c[8:12])
	return t, be.Uint32(b) == ALMagic && be.Uint32(b[8:]) == crc32cRaw(0, c[:])
}

// alBlock maps a transaction number to its 4 KiB block in the striped
// ring (al_tr_number_to_on_disk_sector / _slot).
func alBlock(tr, stripes, stripeSize4k uint32) uint32 {
	mx := stripes * stripeSize4k
	t := tr % mx
	return (t%stripes)*stripeSize4k + t/stripes
}

// ActivityLog is the in-memory set of hot extents: a write to a cold
// extent first needs an AL transaction on disk, so that after a crash of
// the Primary every extent that may hold unreplicated writes is known.
// Not safe for concurrent use.
type ActivityLog struct {
	slots    []uint32 // extent per slot, LCFree when free
	refs     []int    // in-flight writes per slot
	used     []uint64 // last use, for LRU
	index    map[uint32]int
	clock    uint64
	pending  []ALUpdate
	trNumber uint32
	trCycle  int
	stripes  uint32
	stripe4k uint32
}

// ErrALBusy means every slot is in use by in-flight writes.
var ErrALBusy = errors.New("activity log: all extents busy")

// NewActivityLog returns an empty log of nr slots (al-extents) for an AL
// area of stripes × stripeSize4k blocks; trNumber continues a sequence.
func NewActivityLog(nr int, stripes, stripeSize4k uint32, trNumber uint32) *ActivityLog {
	a := &ActivityLog{slots: make([]uint32, nr), refs: make([]int, nr), used: make([]uint64, nr),
		index: map[uint32]int{}, stripes: stripes, stripe4k: stripeSize4k, trNumber: trNumber}
	for i := range a.slots {
		a.slots[i] = LCFree
	}
	return a
}

// Begin marks extent ext busy for a write. It reports whether an AL
// transaction must be written (Transaction) before the write goes to
// disk, and the extent that was evicted to make room (LCFree if none):
// its bitmap page must be written out first.
func (a *ActivityLog) Begin(ext uint32) (needTx bool, evicted uint32, err error) {
	a.clock++
	if s, ok := a.index[ext]; ok {
		a.refs[s]++
		a.used[s] = a.clock
		return len(a.pending) > 0, LCFree, nil
	}
	victim := a.victim()
	if victim < 0 {
		return false, LCFree, ErrALBusy
	}
	return true, a.take(victim, ext, 1), nil
}

// victim is the slot a cold extent may take: a free one, else the one
// idle for longest; never one a write holds or the pending transaction
// changes. -1 when there is none or the transaction is full.
func (a *ActivityLog) victim() int {
	if len(a.pending) >= ALUpdatesPerTransaction {
		return -1
	}
	victim := -1
	for s, e := range a.slots {
		if e == LCFree && !a.pendingSlot(s) {
			return s
		}
		if a.refs[s] == 0 && !a.pendingSlot(s) && (victim < 0 || a.used[s] < a.used[victim]) {
			victim = s
		}
	}
	return victim
}

// take gives slot s to ext in the pending transaction with refs writes
// holding it, and returns the extent it evicted (LCFree if none).
func (a *ActivityLog) take(s int, ext uint32, refs int) (evicted uint32) {
	evicted = a.slots[s]
	if evicted != LCFree {
		delete(a.index, evicted)
	}
	a.slots[s] = LCFree
	a.index[ext] = s
	a.refs[s] = refs
	a.used[s] = a.clock
	a.pending = append(a.pending, ALUpdate{Slot: uint16(s), Extent: ext})
	return evicted
}

// Prefetch puts extent ext into the next transaction without a write
// holding it, so that a sequential writer's next extents cost no
// transaction of their own: DRBD writes one transaction per cold extent,
// each a synchronous write and a flush. It takes only a free slot or one
// idle for longer than every other (never one a write holds, never one
// of the pending transaction), and reports whether ext is now hot or
// pending. The extent evicted for it (LCFree if none) needs its bitmap
// written first, as with Begin. A hot extent is left as it is.
func (a *ActivityLog) Prefetch(ext uint32) (ok bool, evicted uint32) {
	if _, hot := a.index[ext]; hot {
		return true, LCFree
	}
	victim := a.victim()
	if victim < 0 {
		return false, LCFree
	}
	a.clock++
	return true, a.take(victim, ext, 0)
}

// Pending says whether a transaction is waiting to be written.
func (a *ActivityLog) Pending() bool { return len(a.pending) > 0 }

// Slots is the number of extents the log holds (al-extents).
func (a *ActivityLog) Slots() int { return len(a.slots) }

func (a *ActivityLog) pendingSlot(s int) bool {
	for _, u := range a.pending {
		if int(u.Slot) == s {
			return true
		}
	}
	return false
}

// End marks one write to ext as done.
func (a *ActivityLog) End(ext uint32) {
	if s, ok := a.index[ext]; ok && a.refs[s] > 0 {
		a.refs[s]--
	}
}

// Transaction builds the next transaction with the pending updates and a
// rolling part of the context, and returns it with the byte offset of its
// block inside the AL area. The slots take their new extents now.
func (a *ActivityLog) Transaction() (block []byte, off uint64) {
	t := ALTransaction{TrNumber: a.trNumber, Type: ALTrUpdate, Updates: a.pending,
		ContextSize: uint16(len(a.slots)), ContextStart: uint16(a.trCycle)}
	for i := range t.Context {
		idx := a.trCycle + i
		t.Context[i] = LCFree
		if idx < len(a.slots) {
			t.Context[i] = a.slots[idx]
		}
	}
	a.trCycle += ALContextPerTransaction
	if a.trCycle >= len(a.slots) {
		a.trCycle = 0
	}
	for _, u := range a.pending {
		a.slots[u.Slot] = u.Extent
	}
	a.pending = nil
	off = uint64(alBlock(a.trNumber, a.stripes, a.stripe4k)) * BlockSize
	a.trNumber++
	return t.Encode(), off
}

// Hot returns the hot extents, sorted.
func (a *ActivityLog) Hot() []uint32 {
	var h []uint32
	for _, e := range a.slots {
		if e != LCFree {
			h = append(h, e)
		}
	}
	sort.Slice(h, func(i, j int) bool { return h[i] < h[j] })
	return h
}

// ReplayAL reads an AL area as drbdmeta's apply-al does and returns the
// extents that were hot at the newest valid transaction (sorted) and the
// number of valid update transactions (0: nothing to apply).
func ReplayAL(area []byte, stripes, stripeSize4k uint32) ([]uint32, int, error) {
	mx := stripes * stripeSize4k
	if uint64(len(area)) < uint64(mx)*BlockSize {
		return nil, 0, fmt.Errorf("activity log area of %d bytes, need %d", len(area), uint64(mx)*BlockSize)
	}
	trs := make([]ALTransaction, mx)
	valid := make([]bool, mx)
	found, updates := 0, 0
	var oldest, newest struct {
		i  uint32
		tr uint32
	}
	for b := uint32(0); b < mx; b++ {
		o := alBlock(b, stripes, stripeSize4k)
		t, ok := DecodeALTransaction(area[uint64(o)*BlockSize:])
		if !ok {
			continue
		}
		trs[b], valid[b] = t, true
		found++
		if t.Type == ALTrInitialized {
			continue
		}
		updates++
		if updates == 1 {
			oldest.i, oldest.tr = b, t.TrNumber
			newest = oldest
			continue
		}
		if int32(t.TrNumber-oldest.tr) < 0 {
			oldest.i, oldest.tr = b, t.TrNumber
		}
		if int32(t.TrNumber-newest.tr) > 0 {
			newest.i, newest.tr = b, t.TrNumber
		}
	}
	if found == 0 {
		return nil, 0, errors.New("No usable activity log found. Do you need to create-md?")
	}
	if updates == 0 {
		if found == int(mx) || (!valid[0] && found == int(mx)-1) {
			return nil, 0, nil
		}
		return nil, 0, errors.New("No valid AL update transaction found.")
	}
	hot := map[uint32]uint32{} // slot -> extent
	end := newest.i
	if end < oldest.i {
		end += mx
	}
	for b := oldest.i; b <= end; b++ {
		idx := b % mx
		if !valid[idx] || trs[idx].Type == ALTrInitialized {
			continue
		}
		t := &trs[idx]
		for i, e := range t.Context {
			slot := uint32(t.ContextStart) + uint32(i)
			if e == LCFree && slot >= uint32(t.ContextSize) {
				continue
			}
			if slot >= alExtentsMax {
				continue
			}
			hot[slot] = e
		}
		for _, u := range t.Updates {
			if uint32(u.Slot) >= alExtentsMax {
				continue
			}
			hot[uint32(u.Slot)] = u.Extent
		}
	}
	var out []uint32
	for _, e := range hot {
		if e != LCFree {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, updates, nil
}

// ApplyALToBitmap marks every block of the hot extents out of sync in an
// on-disk bitmap area (bm, bm-bytes long, as drbdmeta does: whole 128-byte
// extent slices, the last one cut at the end of the area) and returns how
// many bits it added.
func ApplyALToBitmap(bm []byte, hot []uint32) uint64 {
	const per = BitsPerALExtent / 8
	var added uint64
	for _, e := range hot {
		pos := uint64(e) * per
		if pos >= uint64(len(bm)) {
			continue
		}
		end := min(pos+per, uint64(len(bm)))
		for i := pos; i < end; i++ {
			added += uint64(8 - popcount8(bm[i]))
			bm[i] = 0xff
		}
	}
	return added
}

func popcount8(b byte) int {
	n := 0
	for ; b != 0; b &= b - 1 {
		n++
	}
	return n
}
