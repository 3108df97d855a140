package meta

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"strings"
	"time"
)

// DumpHeader is the comment block drbdmeta prints before a dump:
// the time, the host and the command line.
func DumpHeader(t time.Time, host string, argv []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# DRBD meta data dump\n# %s [%d]\n# %s>", t.Format("2006-01-02 15:04:05 -0700"), t.Unix(), host)
	for _, a := range argv {
		b.WriteString(" " + a)
	}
	b.WriteString("\n#\n\n")
	return b.String()
}

// Dump writes the meta data in drbdmeta's dump-md format (v08). bm is the
// on-disk bitmap area; only the part that covers the last agreed size is
// printed, as drbdmeta does. Unlike drbd-utils 9.22 (which prints 0 there),
// the flags line shows the super block's flags.
func Dump(w io.Writer, header string, l Layout, s *SuperBlock, bm []byte) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(header)
	fmt.Fprintf(bw, "version \"v08\";\n\n")
	if !s.Clean() {
		bw.WriteString("This_is_an_unclean_meta_data_dump._Don't_trust_the_bitmap.\n" +
			"# You should \"apply-al\" first, if you plan to restore this.\n\n")
	}
	fmt.Fprintf(bw, "# md_size_sect %d\n", s.MDSizeSect)
	fmt.Fprintf(bw, "# md_offset %d\n# al_offset %d\n# bm_offset %d\n\n", l.MDOffset, l.ALOffset, l.BMOffset)
	fmt.Fprintf(bw, "uuid {\n    0x%016X; 0x%016X; 0x%016X; 0x%016X;\n    flags 0x%08X;\n}\n",
		s.UUID[0], s.UUID[1], s.UUID[2], s.UUID[3], s.Flags)
	la := s.LaSizeSect
	if la > l.MaxUsableSect {
		fmt.Fprintf(bw, "# la-size-sect was too big (%d), truncated (%d)!\n", la, l.MaxUsableSect)
		la = l.MaxUsableSect
	}
	fmt.Fprintf(bw, "# al-extents %d;\nla-size-sect %d;\nbm-byte-per-bit %d;\ndevice-uuid 0x%016X;\n",
		s.ALNrExtents, la, s.BMBytesPerBit, s.DeviceUUID)
	fmt.Fprintf(bw, "la-peer-max-bio-size %d;\nal-stripes %d;\nal-stripe-size-4k %d;\n",
		int32(s.LaPeerMaxBioSize), s.ALStripes, s.ALStripeSize4k)
	n := BitmapBytes(la)
	fmt.Fprintf(bw, "# bm-bytes %d;\n", n)
	if uint64(len(bm)) < n {
		return fmt.Errorf("dump: bitmap area of %d bytes, need %d", len(bm), n)
	}
	set := dumpBitmap(bw, bm[:n])
	fmt.Fprintf(bw, "# bits-set %d;\n", set)
	return bw.Flush()
}

// dumpBitmap prints "bm {...}" as drbdmeta's fprintf_bm does for one
// peer: 32-bit words, 8 per line (4 printed 64-bit words), runs of at
// least two whole lines of one value as "N times 0x...;", a "# at NkB"
// marker at every 64th word.
func dumpBitmap(w *bufio.Writer, bm []byte) uint64 {
	const wpl = 8
	n := uint64(len(bm) / 4)
	word := func(i uint64) uint32 { return binary.LittleEndian.Uint32(bm[4*i:]) }
	var setBits, count, i uint64
	var cw, lw uint32
	w.WriteString("bm {")
	eol := func(i uint64) {
		if i&63 == 0 {
			fmt.Fprintf(w, "\n   # at %dkB\n   ", 128*i)
		} else {
			w.WriteString("\n   ")
		}
	}
	for i < n {
		if count == 0 {
			cw = word(i)
		}
		if i%wpl == 0 {
			if count == 0 {
				eol(i)
			}
			j := i
			for j < n && word(j) == cw {
				j++
			}
			if tmp := (j - i) / wpl * wpl; tmp > wpl {
				count += tmp
				i += tmp
			}
			if count > 0 {
				fmt.Fprintf(w, " %d times 0x%08X%08X;", count/2, cw, cw)
				setBits += count * uint64(bits.OnesCount32(cw))
				count = 0
				continue
			}
		}
		if i&1 == 0 {
			lw = word(i)
		} else {
			fmt.Fprintf(w, " 0x%08X%08X;", word(i), lw)
		}
		setBits += uint64(bits.OnesCount32(word(i)))
		i++
	}
	w.WriteString("\n}\n")
	return setBits
}
