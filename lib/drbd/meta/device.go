package meta

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Device is an open meta-data device (for internal meta data, the
// backing disk itself): a block device or a regular file.
type Device struct {
	f      storage
	Path   string
	Size   uint64
	Layout Layout // the layout create-md would use; after Read, the one found
}

// ErrExists is returned by Create when valid meta data is present and
// force is not given.
var ErrExists = errors.New("Valid meta-data in place")

// Open opens path (read-only unless write) for meta data at idx.
func Open(path string, idx Index, write bool) (*Device, error) {
	flag := os.O_RDONLY
	if write {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	size, err := deviceSize(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	l, err := NewLayout(idx, size)
	if err != nil {
		f.Close()
		var ts *TooSmallError
		if errors.As(err, &ts) {
			ts.Path = path
			return nil, ts
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &Device{f: fileStorage{f}, Path: path, Size: size, Layout: l}, nil
}

// storage is what Device needs from the disk; a file in production, a
// crash simulator in tests.
type storage interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Sync() error
	Close() error
}

type fileStorage struct{ *os.File }

// Sync is fdatasync: the data and the size, not the timestamps.
func (f fileStorage) Sync() error { return unix.Fdatasync(int(f.Fd())) }

// WriteAtSync writes p at off with RWF_DSYNC: durable when it returns,
// like a write followed by fdatasync, but only p's range is written back
// first. With internal meta data the file also holds the device's data,
// and an fdatasync of the whole file would wait for every dirty page of
// it: on a sequential write that made each activity-log transaction
// (one every 4 MiB) cost milliseconds.
func (f fileStorage) WriteAtSync(p []byte, off int64) (int, error) {
	for {
		n, err := unix.Pwritev2(int(f.Fd()), [][]byte{p}, off, unix.RWF_DSYNC)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EOPNOTSUPP || err == unix.ENOSYS {
			break // an old kernel: write, then fdatasync
		}
		if err == nil && n < len(p) {
			err = io.ErrShortWrite
		}
		return n, err
	}
	n, err := f.WriteAt(p, off)
	if err != nil {
		return n, err
	}
	return n, f.Sync()
}

// NewDeviceOn opens meta data on any storage (tests use it to simulate
// crashes).
func newDeviceOn(s storage, path string, idx Index, size uint64) (*Device, error) {
	l, err := NewLayout(idx, size)
	if err != nil {
		return nil, err
	}
	return &Device{f: s, Path: path, Size: size, Layout: l}, nil
}

func deviceSize(f *os.File) (uint64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if st.Mode()&os.ModeDevice != 0 {
		n, err := unix.IoctlGetUint64(int(f.Fd()), unix.BLKGETSIZE64)
		if err != nil {
			return 0, fmt.Errorf("BLKGETSIZE64: %w", err)
		}
		return n, nil
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("neither a block device nor a regular file")
	}
	return uint64(st.Size()), nil
}

// Close closes the device.
func (d *Device) Close() error { return d.f.Close() }

func (d *Device) sync() error { return d.f.Sync() }

// writeSync writes one block durably: only its range is synced where the
// storage can do that (WriteAtSync), else the whole file.
func (d *Device) writeSync(b []byte, off uint64) error {
	ws, ok := d.f.(interface {
		WriteAtSync(p []byte, off int64) (int, error)
	})
	if !ok {
		if err := d.writeAt(b, off); err != nil {
			return err
		}
		return d.sync()
	}
	if _, err := ws.WriteAtSync(b, int64(off)); err != nil {
		return fmt.Errorf("%s: write at %d: %w", d.Path, off, err)
	}
	return nil
}

func (d *Device) writeAt(b []byte, off uint64) error {
	_, err := d.f.WriteAt(b, int64(off))
	if err != nil {
		return fmt.Errorf("%s: write at %d: %w", d.Path, off, err)
	}
	return nil
}

// Read reads and validates the super block; on success d.Layout is the
// layout it describes.
func (d *Device) Read() (*SuperBlock, error) {
	b := make([]byte, BlockSize)
	if _, err := d.f.ReadAt(b, int64(d.Layout.MDOffset)); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: read super block: %w", d.Path, err)
	}
	s, err := Decode(b)
	if err != nil {
		return nil, err
	}
	if err := d.Layout.Validate(&s); err != nil {
		return nil, err
	}
	d.Layout = layoutOf(d.Layout.Index, d.Size, d.Layout.MDOffset, &s)
	return &s, nil
}

// Create writes fresh meta data (create-md): current UUID JustCreated,
// the other UUIDs 0, flags AL_CLEAN, an initialised activity log and a
// zeroed bitmap. An existing super block is invalidated first and the
// new one written last, each step synced (see the package comment). With valid meta data present it returns ErrExists unless
// force.
func (d *Device) Create(force bool) (*SuperBlock, error) {
	_, err := d.Read()
	if err == nil && !force {
		return nil, ErrExists
	}
	old := err == nil
	l, err := NewLayout(d.Layout.Index, d.Size)
	if err != nil {
		return nil, err
	}
	if old {
		// Invalidate the old super block first, so that a crash cannot
		// leave the old UUIDs over a bitmap that is already zeroed.
		if err := d.writeAt(make([]byte, BlockSize), d.Layout.MDOffset); err != nil {
			return nil, err
		}
		if err := d.sync(); err != nil {
			return nil, err
		}
	}
	d.Layout = l
	if err := d.writeAt(InitialAL(DefaultALStripe, DefaultALSize4k), l.ALOffset); err != nil {
		return nil, err
	}
	// Zero the bitmap for a data device as large as this one, as
	// drbdmeta does, in 1 MiB steps (within the slot for external meta
	// data).
	bmBytes := BitmapBytes(d.Size >> 9)
	if l.Index != Internal {
		bmBytes = min(bmBytes, uint64(l.MDSizeSect-uint32(l.BMOffSect))*SectorSize)
	}
	zero := make([]byte, 1<<20)
	for off := uint64(0); off < bmBytes; off += uint64(len(zero)) {
		n := min(uint64(len(zero)), bmBytes-off)
		if err := d.writeAt(zero[:n], l.BMOffset+off); err != nil {
			return nil, err
		}
	}
	if err := d.sync(); err != nil {
		return nil, err
	}
	s := &SuperBlock{
		UUID:           [4]uint64{JustCreated},
		Flags:          FlagALClean,
		Magic:          Magic84,
		MDSizeSect:     l.MDSizeSect,
		ALOffset:       l.ALOffSect,
		ALNrExtents:    DefaultALExtent,
		BMOffset:       l.BMOffSect,
		BMBytesPerBit:  BytesPerBit,
		ALStripes:      DefaultALStripe,
		ALStripeSize4k: DefaultALSize4k,
	}
	if err := d.WriteSuper(s); err != nil {
		return nil, err
	}
	return s, nil
}

// WriteSuper writes the super block and syncs it: one 4 KiB write whose
// data lies in its first sector, so it is atomic.
func (d *Device) WriteSuper(s *SuperBlock) error {
	return d.writeSync(s.Encode(), d.Layout.MDOffset)
}

// Wipe destroys the meta data (wipe-md): like drbdmeta, it zeroes the
// super block (one synced 4 KiB write), which makes the rest meaningless.
func (d *Device) Wipe() error {
	if _, err := d.Read(); err != nil {
		return err
	}
	if err := d.writeAt(make([]byte, BlockSize), d.Layout.MDOffset); err != nil {
		return err
	}
	return d.sync()
}

// BitmapArea reads the on-disk bitmap bytes that cover sectors of data.
func (d *Device) BitmapArea(sectors uint64) ([]byte, error) {
	n := BitmapBytes(sectors)
	b := make([]byte, n)
	if _, err := d.f.ReadAt(b, int64(d.Layout.BMOffset)); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: read bitmap: %w", d.Path, err)
	}
	return b, nil
}

// ReadBitmap loads the bitmap for a device of the given data sectors.
func (d *Device) ReadBitmap(sectors uint64) (*Bitmap, error) {
	b, err := d.BitmapArea(sectors)
	if err != nil {
		return nil, err
	}
	return LoadBitmap(b, BitsForSectors(sectors))
}

// WriteBitmap writes the bitmap's dirty 4 KiB pages and syncs them.
func (d *Device) WriteBitmap(b *Bitmap) error {
	buf := make([]byte, BlockSize)
	var err error
	b.DirtyPages(func(p uint64) {
		if err != nil {
			return
		}
		b.Page(p, buf)
		err = d.writeAt(buf, d.Layout.BMOffset+p*BlockSize)
	})
	if err != nil {
		return err
	}
	if err := d.sync(); err != nil {
		return err
	}
	b.MarkClean()
	return nil
}

// SetFullSync marks every block out of sync, crash-safely: FULL_SYNC in
// the super block, all bits set and written, then the flag cleared.
func (d *Device) SetFullSync(s *SuperBlock, b *Bitmap) error {
	s.Flags |= FlagFullSync
	if err := d.WriteSuper(s); err != nil {
		return err
	}
	b.SetAll()
	if err := d.WriteBitmap(b); err != nil {
		return err
	}
	s.Flags &^= FlagFullSync
	return d.WriteSuper(s)
}

// Dump prints the meta data in dump-md format.
func (d *Device) Dump(w io.Writer, header string) error {
	s, err := d.Read()
	if err != nil {
		return err
	}
	la := min(s.LaSizeSect, d.Layout.MaxUsableSect)
	bm, err := d.BitmapArea(la)
	if err != nil {
		return err
	}
	return Dump(w, header, d.Layout, s, bm)
}

// ReadAL reads the activity log area.
func (d *Device) ReadAL(s *SuperBlock) ([]byte, error) {
	b := make([]byte, s.ALSizeSect()*SectorSize)
	if _, err := d.f.ReadAt(b, int64(d.Layout.ALOffset)); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: read activity log: %w", d.Path, err)
	}
	return b, nil
}

// WriteALBlock writes one AL transaction block (at off inside the AL
// area) and syncs it; it must reach the disk before the writes it covers.
func (d *Device) WriteALBlock(block []byte, off uint64) error {
	return d.writeSync(block, d.Layout.ALOffset+off)
}

// MarkUnclean records that the activity log is in use (the Primary is
// writing): magic 8.4-unclean, AL_CLEAN cleared.
func (d *Device) MarkUnclean(s *SuperBlock) error {
	s.Magic = Magic84Unclean
	s.Flags &^= FlagALClean
	return d.WriteSuper(s)
}

// ApplyAL is drbdmeta's apply-al: replay the activity log; if the node
// was Primary, mark every hot extent out of sync in the bitmap (written
// and synced first); then re-initialise the log and mark the meta data
// clean (super block last). It returns the number of bits added.
func (d *Device) ApplyAL() (uint64, error) {
	s, err := d.Read()
	if err != nil {
		return 0, err
	}
	al, err := d.ReadAL(s)
	if err != nil {
		return 0, err
	}
	hot, n, rerr := ReplayAL(al, s.ALStripes, s.ALStripeSize4k)
	primary := s.Flags&FlagPrimaryInd != 0
	if rerr != nil && primary {
		return 0, rerr
	}
	var added uint64
	if n > 0 && primary {
		la := min(s.LaSizeSect, d.Layout.MaxUsableSect)
		bm, err := d.BitmapArea(la)
		if err != nil {
			return 0, err
		}
		added = ApplyALToBitmap(bm, hot)
		if err := d.writeAt(bm, d.Layout.BMOffset); err != nil {
			return 0, err
		}
		// The bits must be durable before the log that implies them is
		// reset.
		if err := d.sync(); err != nil {
			return 0, err
		}
	}
	if rerr != nil || n > 0 {
		if err := d.writeAt(InitialAL(s.ALStripes, s.ALStripeSize4k), d.Layout.ALOffset); err != nil {
			return 0, err
		}
	}
	if err := d.sync(); err != nil {
		return 0, err
	}
	if s.Flags&FlagALClean == 0 || s.Magic != Magic84 {
		s.Flags |= FlagALClean
		s.Magic = Magic84
		if err := d.WriteSuper(s); err != nil {
			return 0, err
		}
	}
	return added, nil
}
