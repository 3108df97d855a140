package meta

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// DumpFile is a parsed dump-md text (v08), what restore-md writes back.
type DumpFile struct {
	Super  SuperBlock  // UUIDs, flags and the fields the dump carries
	Bitmap []BitmapRun // the bitmap words as listed, run-length coded
}

// BitmapRun is Count copies of one 64-bit bitmap word ("N times 0x...;").
type BitmapRun struct{ Count, Word uint64 }

// Words is the number of bitmap words in the dump.
func (d *DumpFile) Words() uint64 {
	var n uint64
	for _, r := range d.Bitmap {
		n += r.Count
	}
	return n
}

// bitmapBytes expands the runs into an on-disk bitmap of n bytes (words
// beyond n are dropped, missing ones are zero).
func (d *DumpFile) bitmapBytes(n uint64) []byte {
	bm := make([]byte, n)
	off := uint64(0)
	for _, r := range d.Bitmap {
		for c := uint64(0); c < r.Count && off+8 <= n; c++ {
			binary.LittleEndian.PutUint64(bm[off:], r.Word)
			off += 8
		}
		if off+8 > n {
			break
		}
	}
	return bm
}

// dumpLexer splits a dump into tokens: words, numbers, strings and the
// characters { } ; — skipping blanks and # comments.
type dumpLexer struct {
	r    *bufio.Reader
	line int
	tok  string
	tl   int // line of tok
}

func (l *dumpLexer) next() (string, error) {
	for {
		c, err := l.r.ReadByte()
		if err == io.EOF {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		switch {
		case c == '\n':
			l.line++
		case c == ' ' || c == '\t' || c == '\r':
		case c == '#':
			for {
				c, err := l.r.ReadByte()
				if err != nil {
					return "", nil
				}
				if c == '\n' {
					l.line++
					break
				}
			}
		case c == '{' || c == '}' || c == ';':
			l.tl = l.line
			return string(c), nil
		case c == '"':
			var b strings.Builder
			for {
				c, err := l.r.ReadByte()
				if err != nil || c == '\n' {
					return "", fmt.Errorf("line %d: unterminated string", l.line)
				}
				if c == '"' {
					break
				}
				b.WriteByte(c)
			}
			l.tl = l.line
			return "\"" + b.String(), nil
		default:
			var b strings.Builder
			b.WriteByte(c)
			for {
				c, err := l.r.ReadByte()
				if err != nil {
					break
				}
				if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '{' || c == '}' || c == ';' || c == '#' || c == '"' {
					l.r.UnreadByte()
					break
				}
				if b.Len() > 128 {
					return "", fmt.Errorf("line %d: token too long", l.line)
				}
				b.WriteByte(c)
			}
			l.tl = l.line
			return b.String(), nil
		}
	}
}

// ParseDump reads a dump-md text. Errors name the line.
func ParseDump(r io.Reader) (*DumpFile, error) {
	l := &dumpLexer{r: bufio.NewReader(r), line: 1}
	tok := func() (string, error) { return l.next() }
	errf := func(f string, a ...any) error { return fmt.Errorf("line %d: "+f, append([]any{l.tl}, a...)...) }
	expect := func(want string) error {
		t, err := tok()
		if err != nil {
			return err
		}
		if t != want {
			if t == "" {
				t = "end of file"
			}
			return errf("expected %q, got %q", want, t)
		}
		return nil
	}
	num := func(bits int) (uint64, error) {
		t, err := tok()
		if err != nil {
			return 0, err
		}
		v, err := strconv.ParseUint(t, 0, bits)
		if err != nil {
			return 0, errf("expected a number, got %q", t)
		}
		return v, nil
	}
	numSemi := func(bits int) (uint64, error) {
		v, err := num(bits)
		if err == nil {
			err = expect(";")
		}
		return v, err
	}
	keyNum := func(key string, bits int) (uint64, error) {
		if err := expect(key); err != nil {
			return 0, err
		}
		return numSemi(bits)
	}
	d := &DumpFile{}
	s := &d.Super
	if err := expect("version"); err != nil {
		return nil, err
	}
	v, err := tok()
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(v, "\"") {
		return nil, errf("expected a version such as \"v08\", got %q", v)
	}
	if v != "\"v08" {
		return nil, errf("dump is %q, only \"v08\" is supported", strings.TrimPrefix(v, "\""))
	}
	if err := expect(";"); err != nil {
		return nil, err
	}
	if err := expect("uuid"); err != nil {
		return nil, err
	}
	if err := expect("{"); err != nil {
		return nil, err
	}
	for i := range s.UUID {
		if s.UUID[i], err = numSemi(64); err != nil {
			return nil, err
		}
	}
	f, err := keyNum("flags", 32)
	if err != nil {
		return nil, err
	}
	s.Flags = uint32(f)
	if err := expect("}"); err != nil {
		return nil, err
	}
	if s.LaSizeSect, err = keyNum("la-size-sect", 64); err != nil {
		return nil, err
	}
	bpb, err := keyNum("bm-byte-per-bit", 32)
	if err != nil {
		return nil, err
	}
	if bpb != BytesPerBit {
		return nil, errf("bm-byte-per-bit %d: only 4096 is supported", bpb)
	}
	s.BMBytesPerBit = uint32(bpb)
	if s.DeviceUUID, err = keyNum("device-uuid", 64); err != nil {
		return nil, err
	}
	mb, err := keyNum("la-peer-max-bio-size", 32)
	if err != nil {
		return nil, err
	}
	s.LaPeerMaxBioSize = uint32(mb)
	st, err := keyNum("al-stripes", 32)
	if err != nil {
		return nil, err
	}
	sz, err := keyNum("al-stripe-size-4k", 32)
	if err != nil {
		return nil, err
	}
	if st != DefaultALStripe || sz != DefaultALSize4k {
		return nil, errf("activity log of %d stripes of %d blocks: only 1 × 8 is supported", st, sz)
	}
	s.ALStripes, s.ALStripeSize4k = uint32(st), uint32(sz)
	if err := expect("bm"); err != nil {
		return nil, err
	}
	if err := expect("{"); err != nil {
		return nil, err
	}
	for {
		t, err := tok()
		if err != nil {
			return nil, err
		}
		if t == "}" {
			break
		}
		w, err := strconv.ParseUint(t, 0, 64)
		if err != nil {
			return nil, errf("expected a bitmap word, got %q", t)
		}
		count := uint64(1)
		t2, err := tok()
		if err != nil {
			return nil, err
		}
		if t2 == "times" {
			count = w
			if w, err = num(64); err != nil {
				return nil, err
			}
			t2, err = tok()
			if err != nil {
				return nil, err
			}
		}
		if t2 != ";" {
			return nil, errf("expected \";\", got %q", t2)
		}
		if d.Words()+count > 1<<32 {
			return nil, errf("bitmap too large")
		}
		d.Bitmap = append(d.Bitmap, BitmapRun{count, w})
	}
	if t, err := tok(); err != nil || t != "" {
		if err != nil {
			return nil, err
		}
		return nil, errf("trailing %q after the bitmap", t)
	}
	return d, nil
}

// Restore writes a parsed dump to the device as restore-md does: the
// layout for this device, the dump's UUIDs, flags and sizes, and its
// bitmap (cut to the bitmap area). The activity log is left alone; a dump
// whose flags lack AL_CLEAN stays "need apply-al". The bitmap is written
// and synced before the super block.
func (d *Device) Restore(df *DumpFile, force bool) error {
	if _, err := d.Read(); err == nil && !force {
		return ErrExists
	}
	l, err := NewLayout(d.Layout.Index, d.Size)
	if err != nil {
		return err
	}
	d.Layout = l
	s := df.Super
	s.Magic = Magic84
	s.MDSizeSect, s.ALOffset, s.BMOffset = l.MDSizeSect, l.ALOffSect, l.BMOffSect
	s.ALNrExtents = DefaultALExtent
	if s.LaSizeSect > l.MaxUsableSect {
		s.LaSizeSect = l.MaxUsableSect
	}
	bm := df.bitmapBytes(BitmapBytes(s.LaSizeSect))
	if err := d.writeAt(bm, l.BMOffset); err != nil {
		return err
	}
	if err := d.sync(); err != nil {
		return err
	}
	return d.WriteSuper(&s)
}
