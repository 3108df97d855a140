package nbd

import (
	"bytes"
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"testing"
)

// streamBackend completes streamed writes and flushes on another
// goroutine, as a replicating backend does, and records what it saw.
type streamBackend struct {
	memBackend
	mu      sync.Mutex
	pieces  []int
	fua     []bool
	shorts  int
	flushes int
}

type streamPW struct {
	b   *streamBackend
	off int64
}

func (s *streamBackend) BeginWrite(off int64, n int, fua bool) (PieceWriter, error) {
	if n%512 != 0 {
		return nil, nil // whole, through WriteAt
	}
	s.mu.Lock()
	s.fua = append(s.fua, fua)
	s.mu.Unlock()
	return &streamPW{b: s, off: off}, nil
}

func (w *streamPW) Piece(p []byte) {
	w.b.mu.Lock()
	w.b.pieces = append(w.b.pieces, len(p))
	w.b.mu.Unlock()
	copy(w.b.b[w.off:], p)
	w.off += int64(len(p))
}

func (w *streamPW) End(short bool, done func(error)) {
	if short {
		w.b.mu.Lock()
		w.b.shorts++
		w.b.mu.Unlock()
	}
	go done(nil)
}

func (s *streamBackend) FlushAsync(done func(error)) {
	s.mu.Lock()
	s.flushes++
	s.mu.Unlock()
	go done(nil)
}

// TestStreamWrite: a write larger than a piece reaches a StreamWriter in
// pieces, in order, and is answered when the backend says so; a write
// the backend declines goes whole through WriteAt; a flush goes to the
// AsyncFlusher; every request is answered before ServeConn returns.
func TestStreamWrite(t *testing.T) {
	m := &streamBackend{memBackend: memBackend{b: make([]byte, 4<<20)}}
	s := NewServer(Options{Workers: 2}, &Export{Backend: m})
	data := bytes.Repeat([]byte("0123456789abcdef"), (PieceSize*5/2)/16)
	c := &fakeConn{r: bytes.NewReader(clientStream(
		req(CmdWrite, CmdFlagFUA, 1, 4096, uint32(len(data)), data),
		req(CmdFlush, 0, 2, 0, 0, nil),
		req(CmdWrite, 0, 3, 0, 5, []byte("hello")),
		req(CmdDisc, 0, 4, 0, 0, nil),
	))}
	if err := s.ServeConn(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.b[4096:4096+len(data)], data) || string(m.b[:5]) != "hello" {
		t.Fatal("the backend does not hold what was written")
	}
	if want := []int{PieceSize, PieceSize, PieceSize / 2}; !slices.Equal(m.pieces, want) {
		t.Fatalf("pieces %v, want %v (the 5-byte write through WriteAt)", m.pieces, want)
	}
	if !slices.Equal(m.fua, []bool{true}) || m.flushes != 1 || m.shorts != 0 {
		t.Fatalf("fua %v flushes %d shorts %d", m.fua, m.flushes, m.shorts)
	}
	out := c.w.Bytes()[18+32+20:]
	var handles []uint64
	for len(out) >= simpleRepSize {
		if e := binary.BigEndian.Uint32(out[4:]); e != 0 {
			t.Fatalf("error %d in a reply", e)
		}
		handles = append(handles, binary.BigEndian.Uint64(out[8:]))
		out = out[simpleRepSize:]
	}
	slices.Sort(handles)
	if !slices.Equal(handles, []uint64{1, 2, 3}) {
		t.Fatalf("replies for %v, want 1, 2 and 3", handles)
	}
}

// TestStreamWriteShort: a connection that ends inside a write's payload
// ends the write as short (never acknowledged) and the connection with
// an error.
func TestStreamWriteShort(t *testing.T) {
	m := &streamBackend{memBackend: memBackend{b: make([]byte, 4<<20)}}
	s := NewServer(Options{}, &Export{Backend: m})
	r := req(CmdWrite, 0, 1, 0, 3<<20, bytes.Repeat([]byte{7}, PieceSize+100))
	c := &fakeConn{r: bytes.NewReader(clientStream(r))}
	if err := s.ServeConn(context.Background(), c); err == nil {
		t.Fatal("a truncated payload ended the connection without an error")
	}
	if m.shorts != 1 || !slices.Equal(m.pieces, []int{PieceSize}) {
		t.Fatalf("shorts %d pieces %v, want 1 and one whole piece", m.shorts, m.pieces)
	}
	if n := len(c.w.Bytes()) - (18 + 32 + 20); n != 0 {
		t.Fatalf("%d bytes of replies for a write that never arrived whole", n)
	}
}
