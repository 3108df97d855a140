package nbd

// BlockSizer is an optional Backend method: the smallest block the
// backend writes without reading first (a replicated device: the 512-byte
// sector its peer protocol carries). The server advertises it as the
// minimum block size (NBD_INFO_BLOCK_SIZE) to clients that ask, which
// then align their requests (qemu does a read-modify-write of its own);
// a backend still has to accept unaligned requests from clients that do
// not ask.
type BlockSizer interface {
	MinBlockSize() uint32
}

// minBlockSize is the minimum block size of a backend: 1 (any byte
// range) unless it says otherwise. The NBD protocol wants a power of two
// no larger than the preferred block size (4096).
func minBlockSize(b Backend) uint32 {
	if s, ok := b.(BlockSizer); ok {
		if m := s.MinBlockSize(); m > 0 && m <= 4096 && m&(m-1) == 0 {
			return m
		}
	}
	return 1
}
