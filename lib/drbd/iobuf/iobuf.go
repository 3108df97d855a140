// Package iobuf hands out buffers aligned for direct I/O (O_DIRECT),
// which wants the memory, the offset and the length aligned to the
// device's or file system's block size; 4096 covers every block size up
// to a page.
package iobuf

import "unsafe"

// Align is the alignment of the buffers this package returns.
const Align = 4096

// Aligned returns a zeroed buffer of n bytes whose first byte is at an
// address that is a multiple of Align.
func Aligned(n int) []byte {
	return Offset(n, 0)
}

// Offset returns a zeroed buffer of n bytes whose byte at index off is
// Align-aligned: a packet read whole into it has its off-byte header
// before an aligned payload.
func Offset(n, off int) []byte {
	off %= Align
	b := make([]byte, n+2*Align)
	skip := (Align - int(uintptr(unsafe.Pointer(&b[0]))%Align) + Align - off) % Align
	return b[skip : skip+n : skip+n]
}

// IsAligned says whether p starts at an address that is a multiple of a.
func IsAligned(p []byte, a int) bool {
	return len(p) == 0 || uintptr(unsafe.Pointer(&p[0]))%uintptr(a) == 0
}
