package nbd

import (
	"os"

	"golang.org/x/sys/unix"
)

// File is a Backend over a regular file or a block device.
type File struct {
	f    *os.File
	size int64
}

// OpenFile opens path read-write (or read-only) as a Backend.
func OpenFile(path string, readOnly bool) (*File, error) {
	flag := os.O_RDWR
	if readOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	size, err := f.Seek(0, 2)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &File{f: f, size: size}, nil
}

func (b *File) ReadAt(p []byte, off int64) (int, error)  { return b.f.ReadAt(p, off) }
func (b *File) WriteAt(p []byte, off int64) (int, error) { return b.f.WriteAt(p, off) }
func (b *File) Size() int64                              { return b.size }
func (b *File) Close() error                             { return b.f.Close() }

// Flush is fdatasync.
func (b *File) Flush() error { return unix.Fdatasync(int(b.f.Fd())) }

// Trim punches a hole, keeping the size.
func (b *File) Trim(off, n int64) error {
	return unix.Fallocate(int(b.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}

// WriteZeroes uses FALLOC_FL_ZERO_RANGE.
func (b *File) WriteZeroes(off, n int64) error {
	return unix.Fallocate(int(b.f.Fd()), unix.FALLOC_FL_ZERO_RANGE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}
