package meta

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// soMuch is how much of the device start drbdmeta inspects (SO_MUCH).
const soMuch = 68 * 1024

// ErrRefused is drbdmeta's "Operation refused." (exit code 40): create-md
// would destroy data.
var ErrRefused = errors.New("Operation refused.")

// Found is what the start of a device looks like, as drbdmeta guesses it.
type Found struct {
	Type      string // "ext3 filesystem", "xfs filesystem", "swap space signature", "some data"
	BlockSize uint64
	Blocks    uint64
	Refuse    bool // a signature that must not be overwritten at all (swap)
}

// Detect guesses the content of head (the first 68 KiB of a device); ok
// is false when it is all zeroes.
func Detect(head []byte) (f Found, ok bool) {
	if len(head) < soMuch {
		head = append(head, make([]byte, soMuch-len(head))...)
	}
	zero := true
	for _, c := range head[:soMuch] {
		if c != 0 {
			zero = false
			break
		}
	}
	if zero {
		return f, false
	}
	f.Type = "some data"
	for _, off := range []int{1<<12 - 10, 1<<13 - 10} {
		if s := string(head[off : off+10]); s == "SWAP-SPACE" || s == "SWAPSPACE2" {
			return Found{Type: "swap space signature", Blocks: 1, Refuse: true}, true
		}
	}
	le, be := binary.LittleEndian, binary.BigEndian
	if le.Uint16(head[0x438:]) == 0xEF53 {
		f.Type = "ext2 filesystem"
		if head[0x45c]&4 != 0 { // has a journal (ext3 and ext4 alike)
			f.Type = "ext3 filesystem"
		}
		f.Blocks = uint64(le.Uint32(head[0x404:]))
		switch le.Uint32(head[0x418:]) {
		case 0:
			f.BlockSize = 1024
		case 1:
			f.BlockSize = 2048
		default:
			f.BlockSize = 4096
		}
		return f, true
	}
	if be.Uint32(head) == 0x58465342 {
		return Found{Type: "xfs filesystem", BlockSize: uint64(be.Uint32(head[4:])), Blocks: be.Uint64(head[8:])}, true
	}
	return f, true
}

// CheckExistingData is drbdmeta's check before create-md: it looks at the
// start of the device, prints what it found and what the meta data would
// cut off, in drbdmeta's words, and returns ErrRefused when data would
// be truncated (exit code 40). confirm reports that drbdmeta would ask
// "Do you want to proceed?" (the caller decides, --force says yes).
func (d *Device) CheckExistingData(w io.Writer, l Layout) (confirm bool, err error) {
	head := make([]byte, soMuch)
	if _, err := d.f.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("%s: %w", d.Path, err)
	}
	f, ok := Detect(head)
	if !ok {
		return false, nil
	}
	fmt.Fprintf(w, "md_offset %d\nal_offset %d\nbm_offset %d\n\nFound %s\n", l.MDOffset, l.ALOffset, l.BMOffset, f.Type)
	const destroy = "If you want me to do this, you need to zero out the first part\n" +
		"of the device (destroy the content).\n" +
		"You should be very sure that you mean it.\n" +
		"Operation refused.\n\n"
	if f.Blocks == 0 {
		fmt.Fprintf(w, "\n ==> This might destroy existing data! <==\n")
		return true, nil
	}
	if l.Index != Internal {
		fmt.Fprintf(w, "\nThis would corrupt existing data.\n%s", destroy)
		return false, ErrRefused
	}
	fsKB := (f.BlockSize*f.Blocks + 1023) >> 10
	usableKB := l.MaxUsableSect >> 1
	if !f.Refuse {
		fmt.Fprintf(w, "%12d kB data area apparently used\n", fsKB)
	}
	fmt.Fprintf(w, "%12d kB left usable by current configuration\n", usableKB)
	if f.Refuse {
		fmt.Fprintf(w, "Device size would be truncated, which\n"+
			"would corrupt data and result in\n"+
			"'access beyond end of device' errors.\n%s", destroy)
		return false, ErrRefused
	}
	if fsKB > usableKB {
		fmt.Fprintf(w, "\nDevice size would be truncated, which\n"+
			"would corrupt data and result in\n"+
			"'access beyond end of device' errors.\n"+
			"You need to either\n"+
			"   * use external meta data (recommended)\n"+
			"   * shrink that filesystem first\n"+
			"   * zero out the device (destroy the filesystem)\n"+
			"Operation refused.\n\n")
		return false, ErrRefused
	}
	fmt.Fprintf(w, "\nEven though it looks like this would place the new meta data into\n"+
		"unused space, you still need to confirm, as this is only a guess.\n")
	return true, nil
}
