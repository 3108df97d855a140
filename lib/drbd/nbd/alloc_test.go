package nbd

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
)

// benchClient negotiates with NBD_OPT_GO over c and returns a reader and
// writer for the transmission phase.
func benchClient(b *testing.B, c net.Conn) (*bufio.Reader, *bufio.Writer) {
	r, w := bufio.NewReaderSize(c, 1<<20), bufio.NewWriterSize(c, 1<<20)
	var greet [18]byte
	if _, err := io.ReadFull(r, greet[:]); err != nil {
		b.Fatal(err)
	}
	be := binary.BigEndian
	binary.Write(w, be, clientFixedNewstyle|clientNoZeroes)
	binary.Write(w, be, optMagic)
	binary.Write(w, be, optGo)
	binary.Write(w, be, uint32(6))
	w.Write(make([]byte, 6))
	w.Flush()
	for {
		var h [20]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			b.Fatal(err)
		}
		n := be.Uint32(h[16:])
		io.CopyN(io.Discard, r, int64(n))
		if be.Uint32(h[12:]) == repAck {
			return r, w
		}
	}
}

// BenchmarkWrite4k measures the server's cost per 4 KiB write over a
// Unix socket with an in-memory backend; allocs/op shows that the I/O
// path does not allocate once the buffer pool is warm.
func BenchmarkWrite4k(b *testing.B) {
	for _, qd := range []int{1, 16} {
		b.Run(map[int]string{1: "qd1", 16: "qd16"}[qd], func(b *testing.B) {
			m := &memBackend{b: make([]byte, 64<<20)}
			sock := b.TempDir() + "/s"
			ln, err := net.Listen("unix", sock)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go NewServer(Options{}, &Export{Backend: m}).Serve(ctx, ln)
			c, err := net.Dial("unix", sock)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			r, w := benchClient(b, c)
			hdr := make([]byte, requestSize)
			data := make([]byte, 4096)
			var rep [simpleRepSize]byte
			b.SetBytes(4096)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += qd {
				n := min(qd, b.N-i)
				for k := 0; k < n; k++ {
					Request{Type: CmdWrite, Handle: uint64(i + k), Offset: uint64((i+k)%16000) * 4096, Length: 4096}.Encode(hdr)
					w.Write(hdr)
					w.Write(data)
				}
				w.Flush()
				for k := 0; k < n; k++ {
					if _, err := io.ReadFull(r, rep[:]); err != nil {
						b.Fatal(err)
					}
					if binary.BigEndian.Uint32(rep[4:]) != 0 {
						b.Fatal("write failed")
					}
				}
			}
		})
	}
}
