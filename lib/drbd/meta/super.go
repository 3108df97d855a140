// Package meta reads and writes DRBD 8.4 ("v08") meta data: the super
// block with the generation UUIDs and flags, the activity log area and the
// bitmap of out-of-sync 4 KiB blocks, at the end of the backing disk
// (internal) or on a separate device (external), byte-compatible with
// drbdmeta and the DRBD 8.4 kernel module.
//
// # Crash safety
//
// Every write is ordered so that a crash at any point leaves meta data
// that is either the old or the new version, never a mix that loses
// out-of-sync information:
//
//   - The super block is one 4 KiB block at a fixed place. Everything it
//     holds lives in its first 96 bytes, inside the first 512-byte sector,
//     and a sector write is atomic on disks (the same assumption DRBD makes).
//     A super block update (UUID rotation, flags) is therefore a single
//     pwrite followed by fdatasync: all or nothing.
//   - create-md writes the activity log and the zeroed bitmap first,
//     fdatasyncs, and writes the super block (the magic that makes the meta
//     data valid) last, then fdatasyncs again. A crash before the end
//     leaves no valid meta data, never valid meta data with garbage behind.
//   - wipe-md destroys the super block first (and syncs), so a crash
//     half-way leaves no valid meta data rather than a valid super block
//     over a half-wiped bitmap.
//   - A full sync sets FULL_SYNC in the super block (synced) before it sets
//     every bitmap bit, and clears the flag only after the bitmap is synced:
//     after a crash in between, attach sees the flag and sets all bits
//     again.
//   - Bitmap pages are written and synced before the data writes they
//     cover are acknowledged (the caller's ordering); bits are cleared
//     lazily after resync, so a crash can only leave extra bits set, which
//     costs a little resync and loses nothing.
package meta

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Magic numbers of the v08 super block.
const (
	Magic84        uint32 = 0x8374026B // DRBD_MD_MAGIC_08
	Magic84Unclean uint32 = 0x8374026C // the activity log needs apply-al
	ALMagic        uint32 = 0x69CB65A2
)

// Flags of the super block (MDF_*).
const (
	FlagConsistent     uint32 = 0x01
	FlagPrimaryInd     uint32 = 0x02
	FlagConnectedInd   uint32 = 0x04
	FlagFullSync       uint32 = 0x08
	FlagWasUpToDate    uint32 = 0x10
	FlagPeerOutDated   uint32 = 0x20
	FlagCrashedPrimary uint32 = 0x40
	FlagALClean        uint32 = 0x80
	FlagALDisabled     uint32 = 0x100
)

// Sizes and fixed offsets.
const (
	BlockSize       = 4096           // super block, AL transaction, bitmap I/O unit
	BytesPerBit     = 4096           // one bitmap bit covers 4 KiB
	SectorSize      = 512            //
	ReservedSect07  = 128 << 20 >> 9 // an external indexed slot: 128 MiB
	ALOffsetSect07  = 8              // the AL follows the 4 KiB super block
	DefaultALStripe = 1              // al-stripes
	DefaultALSize4k = 8              // al-stripe-size-4k: 32 KiB of AL
	DefaultALExtent = 257            // al_nr_extents written by create-md
	superUsed       = 96             // bytes of the super block that carry data
)

// JustCreated is the current UUID create-md writes.
const JustCreated uint64 = 4

// SuperBlock is struct md_on_disk_08.
type SuperBlock struct {
	LaSizeSect       uint64    // last agreed size, sectors
	UUID             [4]uint64 // current, bitmap, history[0], history[1]
	DeviceUUID       uint64
	Reserved         uint64
	Flags            uint32
	Magic            uint32
	MDSizeSect       uint32
	ALOffset         int32 // sectors, relative to the super block
	ALNrExtents      uint32
	BMOffset         int32 // sectors, relative to the super block
	BMBytesPerBit    uint32
	LaPeerMaxBioSize uint32
	ALStripes        uint32
	ALStripeSize4k   uint32
}

// Encode returns the 4 KiB on-disk block.
func (s *SuperBlock) Encode() []byte {
	b := make([]byte, BlockSize)
	s.EncodeTo(b)
	return b
}

// EncodeTo writes the super block into b (at least 4 KiB; the rest of the
// block is zeroed).
func (s *SuperBlock) EncodeTo(b []byte) {
	clear(b[:BlockSize])
	be := binary.BigEndian
	be.PutUint64(b[0:], s.LaSizeSect)
	for i, u := range s.UUID {
		be.PutUint64(b[8+8*i:], u)
	}
	be.PutUint64(b[40:], s.DeviceUUID)
	be.PutUint64(b[48:], s.Reserved)
	be.PutUint32(b[56:], s.Flags)
	be.PutUint32(b[60:], s.Magic)
	be.PutUint32(b[64:], s.MDSizeSect)
	be.PutUint32(b[68:], uint32(s.ALOffset))
	be.PutUint32(b[72:], s.ALNrExtents)
	be.PutUint32(b[76:], uint32(s.BMOffset))
	be.PutUint32(b[80:], s.BMBytesPerBit)
	be.PutUint32(b[84:], s.LaPeerMaxBioSize)
	be.PutUint32(b[88:], s.ALStripes)
	be.PutUint32(b[92:], s.ALStripeSize4k)
}

// ErrNoMetaData is returned when no valid v08 super block is found; the
// text is drbdmeta's.
var ErrNoMetaData = errors.New("No valid meta data found")

// Decode parses a super block. It checks the magic and the internal
// consistency of the fields that can be checked without knowing the
// device (Validate does the rest).
func Decode(b []byte) (SuperBlock, error) {
	var s SuperBlock
	if len(b) < superUsed {
		return s, fmt.Errorf("super block too short: %d bytes", len(b))
	}
	be := binary.BigEndian
	s.LaSizeSect = be.Uint64(b[0:])
	for i := range s.UUID {
		s.UUID[i] = be.Uint64(b[8+8*i:])
	}
	s.DeviceUUID = be.Uint64(b[40:])
	s.Reserved = be.Uint64(b[48:])
	s.Flags = be.Uint32(b[56:])
	s.Magic = be.Uint32(b[60:])
	s.MDSizeSect = be.Uint32(b[64:])
	s.ALOffset = int32(be.Uint32(b[68:]))
	s.ALNrExtents = be.Uint32(b[72:])
	s.BMOffset = int32(be.Uint32(b[76:]))
	s.BMBytesPerBit = be.Uint32(b[80:])
	s.LaPeerMaxBioSize = be.Uint32(b[84:])
	s.ALStripes = be.Uint32(b[88:])
	s.ALStripeSize4k = be.Uint32(b[92:])
	if s.Magic != Magic84 && s.Magic != Magic84Unclean {
		return s, ErrNoMetaData
	}
	if s.BMBytesPerBit != BytesPerBit {
		return s, fmt.Errorf("%w: bm-byte-per-bit %d, only 4096 is supported", ErrNoMetaData, s.BMBytesPerBit)
	}
	if s.ALStripes == 0 || s.ALStripeSize4k == 0 || uint64(s.ALStripes)*uint64(s.ALStripeSize4k) > 8192 {
		return s, fmt.Errorf("%w: activity log of %d stripes of %d blocks", ErrNoMetaData, s.ALStripes, s.ALStripeSize4k)
	}
	return s, nil
}

// ALSizeSect is the activity log's size in sectors.
func (s *SuperBlock) ALSizeSect() int64 { return int64(s.ALStripes) * int64(s.ALStripeSize4k) * 8 }

// Clean reports whether the activity log was cleanly closed (no apply-al
// needed).
func (s *SuperBlock) Clean() bool { return s.Magic != Magic84Unclean && s.Flags&FlagALClean != 0 }

// GI is the get-gi line: CURRENT:BITMAP:HIST0:HIST1:c:u:p:n:f:o:x.
func (s *SuperBlock) GI() string {
	f := func(m uint32) int {
		if s.Flags&m != 0 {
			return 1
		}
		return 0
	}
	return fmt.Sprintf("%016X:%016X:%016X:%016X:%d:%d:%d:%d:%d:%d:%d",
		s.UUID[0], s.UUID[1], s.UUID[2], s.UUID[3],
		f(FlagConsistent), f(FlagWasUpToDate), f(FlagPrimaryInd), f(FlagConnectedInd),
		f(FlagFullSync), f(FlagPeerOutDated), f(FlagCrashedPrimary))
}
