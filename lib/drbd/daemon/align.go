package daemon

import (
	"fmt"
	"sync"
)

// The peer protocol carries whole 512-byte sectors (P_DATA's sector
// number) and at most 1 MiB in a packet, so the device writes whole
// sectors, at most 1 MiB at a time. It tells NBD clients so
// (minimum block size 512: qemu then aligns its requests itself), and a
// write of a client that did not ask and sends a partial sector is a
// read-modify-write of the sectors it touches.

// MinBlockSize is the export's minimum block size (nbd.BlockSizer).
func (d *device) MinBlockSize() uint32 { return 512 }

// sectorLock orders read-modify-writes against every other write: an
// aligned write holds it shared, a read-modify-write exclusively, so no
// write to the same sector can fall between its read and its write.
type sectorLock struct{ mu sync.RWMutex }

// maxBio is DRBD's max_bio_size: a P_DATA carries at most 1 MiB, so a
// larger write is split, as the kernel splits a bio.
const maxBio = 1 << 20

// writeAny is an application write of any byte range and size.
func (v *Volume) writeAny(p []byte, off int64) error {
	for len(p) > maxBio {
		// Up to the next 1 MiB boundary: the pieces after the first
		// are aligned.
		n := maxBio - int(off%maxBio)
		if err := v.writeAny(p[:n], off); err != nil {
			return err
		}
		p, off = p[n:], off+int64(n)
	}
	if off%512 == 0 && len(p)%512 == 0 {
		v.pio.rmw.mu.RLock()
		defer v.pio.rmw.mu.RUnlock()
		return v.write(p, off)
	}
	v.pio.rmw.mu.Lock()
	defer v.pio.rmw.mu.Unlock()
	v.r.mu.Lock()
	size := v.size
	v.r.mu.Unlock()
	if off < 0 || off+int64(len(p)) > size {
		return fmt.Errorf("godrbd: write beyond the end of the device")
	}
	start := off &^ 511
	end := (off + int64(len(p)) + 511) &^ 511
	buf := make([]byte, end-start)
	// Only the partial first and last sectors need their old contents.
	if err := v.read(buf[:512], start); err != nil {
		return err
	}
	if end-start > 512 {
		if err := v.read(buf[len(buf)-512:], end-512); err != nil {
			return err
		}
	}
	copy(buf[off-start:], p)
	return v.write(buf, start)
}
