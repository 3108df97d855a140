package meta

import (
	"encoding/binary"
	"hash/crc32"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32cRaw is the kernel's crc32c(seed, ...): no inversion before or
// after, unlike hash/crc32.
func crc32cRaw(seed uint32, p []byte) uint32 {
	return ^crc32.Update(^seed, castagnoli, p)
}

// AL transaction types.
const (
	ALTrUpdate      = 0
	ALTrInitialized = 0xffff
)

// InitialAL returns the activity log area as create-md writes it: every
// 4 KiB transaction block has the AL magic, type "initialized" and a
// valid crc32c, so DRBD 8.4 accepts it as empty.
func InitialAL(stripes, stripeSize4k uint32) []byte {
	n := int(stripes * stripeSize4k)
	out := make([]byte, n*BlockSize)
	var blk [BlockSize]byte
	binary.BigEndian.PutUint32(blk[0:], ALMagic)
	binary.BigEndian.PutUint16(blk[12:], ALTrInitialized)
	binary.BigEndian.PutUint32(blk[8:], crc32cRaw(0, blk[:]))
	for i := 0; i < n; i++ {
		copy(out[i*BlockSize:], blk[:])
	}
	return out
}
