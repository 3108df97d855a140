package daemon

import (
	"fmt"
	"sync"
)

// The peer protocol carries whole 512-byte sectors (P_DATA's sector
// number), so the device writes whole sectors. It tells NBD clients so
// (minimum block size 512: qemu then aligns its requests itself), and a
// write of a client that did not ask and sends a partial sector is a
// read-modify-write of the sectors it touches.

// MinBlockSize is the export's minimum block size (nbd.BlockSizer).
func (d *device) MinBlockSize() uint32 { return 512 }

// sectorLock orders read-modify-writes against every other write: an
// aligned write holds it shared, a read-modify-write exclusively, so no
// write to the same sector can fall between its read and its write.
type sectorLock struct{ mu sync.RWMutex }

// writeAny is an application write of any byte range.
func (v *Volume) writeAny(p []byte, off int64) error {
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
