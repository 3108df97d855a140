package meta

import "fmt"

// Index says where the meta data lives, as drbd.conf's meta-disk does.
type Index int

// Special indexes; 0 and above is an external indexed slot [N].
const (
	Internal     Index = -1 // meta-disk internal (flexible, at the end of the disk)
	FlexExternal Index = -2 // meta-disk /dev/X (the whole device)
)

func (i Index) String() string {
	switch i {
	case Internal:
		return "internal"
	case FlexExternal:
		return "flex-external"
	}
	return fmt.Sprint(int(i))
}

// ParseIndex reads drbdmeta's index argument: internal, flex-external,
// flexible or a slot number.
func ParseIndex(s string) (Index, error) {
	switch s {
	case "internal", "flex-internal":
		return Internal, nil
	case "flex-external", "flexible":
		return FlexExternal, nil
	}
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || n < 0 || fmt.Sprint(n) != s {
		return 0, fmt.Errorf("meta data index %q: want internal, flex-external or a slot number", s)
	}
	return Index(n), nil
}

// TooSmallError is drbdmeta's "Device too small" refusal (exit code 10).
type TooSmallError struct {
	Offset, Size uint64
	Path         string // filled in by Open
}

func (e *TooSmallError) Error() string {
	p := e.Path
	if p == "" {
		p = "the device"
	}
	return fmt.Sprintf("Device too small: expecting meta data block at\nbyte offset %d, but %s is only %d bytes.", e.Offset, p, e.Size)
}

// Layout is where the pieces of the meta data are on the meta-data
// device, in bytes, and how much of the data device is usable.
type Layout struct {
	Index      Index
	DevSize    uint64 // size of the meta-data device in bytes
	MDOffset   uint64 // the super block
	ALOffset   uint64
	BMOffset   uint64
	MDSizeSect uint32
	ALOffSect  int32 // as stored in the super block
	BMOffSect  int32
	// MaxUsableSect is the data area for internal meta data (everything
	// below the bitmap); for external meta data the bitmap's capacity.
	MaxUsableSect uint64
}

func align(v, a uint64) uint64 { return (v + a - 1) / a * a }

// BitmapBytes is drbdmeta's bm_bytes: the bitmap size for a device of
// the given number of sectors, rounded up to 64-bit words and 4 KiB.
func BitmapBytes(sectors uint64) uint64 {
	bits := (sectors + BytesPerBit/SectorSize - 1) / (BytesPerBit / SectorSize)
	bits = align(bits, 64)
	return align(bits/8, BlockSize)
}

// NewLayout computes the layout drbdmeta create-md uses for a meta-data
// device of devSize bytes (for internal meta data: the backing disk).
func NewLayout(idx Index, devSize uint64) (Layout, error) {
	alSect := int64(DefaultALStripe * DefaultALSize4k * 8)
	l := Layout{Index: idx, DevSize: devSize}
	switch {
	case idx == Internal:
		if devSize < 4096*2 {
			return l, fmt.Errorf("device of %d bytes is too small for meta data", devSize)
		}
		l.MDOffset = (devSize - BlockSize) &^ (BlockSize - 1)
		bmSect := align(BitmapBytes(devSize>>9)>>9, 8)
		md := bmSect + ALOffsetSect07 + uint64(alSect)
		l.MDSizeSect = uint32(md)
		l.ALOffSect = int32(-alSect)
		l.BMOffSect = int32(-int64(md) + ALOffsetSect07)
	case idx == FlexExternal:
		l.MDOffset = 0
		l.MDSizeSect = uint32(devSize >> 9)
		l.ALOffSect = ALOffsetSect07
		l.BMOffSect = ALOffsetSect07 + int32(alSect)
	case idx >= 0:
		l.MDOffset = uint64(ReservedSect07) * uint64(idx) * SectorSize
		l.MDSizeSect = ReservedSect07
		l.ALOffSect = ALOffsetSect07
		l.BMOffSect = ALOffsetSect07 + int32(alSect)
	default:
		return l, fmt.Errorf("bad meta data index %d", idx)
	}
	if devSize < BlockSize || l.MDOffset > devSize-BlockSize {
		return l, &TooSmallError{Offset: l.MDOffset, Size: devSize}
	}
	l.ALOffset = uint64(int64(l.MDOffset) + int64(l.ALOffSect)*SectorSize)
	l.BMOffset = uint64(int64(l.MDOffset) + int64(l.BMOffSect)*SectorSize)
	if idx == Internal {
		l.MaxUsableSect = min(l.MDOffset, l.ALOffset, l.BMOffset) >> 9
	} else {
		l.MaxUsableSect = uint64(l.MDSizeSect-uint32(l.BMOffSect)) * 512 * 8 / 64 * 64 * BytesPerBit / 512
	}
	return l, nil
}

// layoutOf rebuilds the byte offsets from a super block found at
// mdOffset.
func layoutOf(idx Index, devSize, mdOffset uint64, s *SuperBlock) Layout {
	l := Layout{Index: idx, DevSize: devSize, MDOffset: mdOffset, MDSizeSect: s.MDSizeSect,
		ALOffSect: s.ALOffset, BMOffSect: s.BMOffset}
	l.ALOffset = uint64(int64(mdOffset) + int64(s.ALOffset)*SectorSize)
	l.BMOffset = uint64(int64(mdOffset) + int64(s.BMOffset)*SectorSize)
	if idx == Internal {
		l.MaxUsableSect = min(l.MDOffset, l.ALOffset, l.BMOffset) >> 9
	} else {
		l.MaxUsableSect = uint64(s.MDSizeSect-uint32(s.BMOffset)) * 512 * 8 / 64 * 64 * BytesPerBit / 512
	}
	return l
}

// Validate checks a decoded super block against the layout the device
// calls for (drbdmeta's is_valid_md).
func (l Layout) Validate(s *SuperBlock) error {
	alSect := s.ALSizeSect()
	switch {
	case l.Index == Internal:
		if int64(s.ALOffset) != -alSect {
			return fmt.Errorf("%w: al_offset: expected %d, found %d", ErrNoMetaData, -alSect, s.ALOffset)
		}
		md := align(BitmapBytes(l.DevSize>>9)>>9, 8) + ALOffsetSect07 + uint64(alSect)
		if int64(s.BMOffset) != -int64(md)+ALOffsetSect07 {
			return fmt.Errorf("%w: strange bm_offset %d (expected: %d)", ErrNoMetaData, s.BMOffset, -int64(md)+ALOffsetSect07)
		}
		if uint64(s.MDSizeSect) != md {
			return fmt.Errorf("%w: strange md_size_sect %d (expected: %d)", ErrNoMetaData, s.MDSizeSect, md)
		}
	default:
		if s.ALOffset != ALOffsetSect07 {
			return fmt.Errorf("%w: al_offset: expected %d, found %d", ErrNoMetaData, ALOffsetSect07, s.ALOffset)
		}
		if int64(s.BMOffset) != ALOffsetSect07+alSect {
			return fmt.Errorf("%w: bm_offset: expected %d, found %d", ErrNoMetaData, ALOffsetSect07+alSect, s.BMOffset)
		}
		if s.MDSizeSect <= uint32(s.BMOffset) {
			return fmt.Errorf("%w: md_size_sect %d too small", ErrNoMetaData, s.MDSizeSect)
		}
	}
	return nil
}
