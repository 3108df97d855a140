package repl

import (
	"bytes"
	"context"
	"crypto/rand"
	mrand "math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/meta"
)

type memDisk struct {
	mu      sync.Mutex
	b       []byte
	flushes int
}

func (m *memDisk) ReadAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return copy(p, m.b[off:]), nil
}
func (m *memDisk) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return copy(m.b[off:], p), nil
}
func (m *memDisk) Flush() error {
	m.mu.Lock()
	m.flushes++
	m.mu.Unlock()
	return nil
}

// linkConns are both ends of a data and a meta socket pair, framed
// with protocol 101: the Primary's data and meta, the Secondary's.
func linkConns(t *testing.T) (primData, primMeta, secData, secMeta *Conn) {
	pd, sd := socketPair(t)
	pm, sm := socketPair(t)
	primData, primMeta, secData, secMeta = NewConn(pd), NewConn(pm), NewConn(sd), NewConn(sm)
	for _, c := range []*Conn{primData, primMeta, secData, secMeta} {
		c.Version = 101
	}
	return
}

// nodes connects a Primary (sender) and a Secondary (receiver) with a
// data and a meta socket pair and starts the receiving loops.
func nodes(t *testing.T, proto int, size int) (*Sender, *memDisk, *memDisk, *Conn, func(func(uint64, uint32))) {
	primData, primMeta, secData, secMeta := linkConns(t)
	src, dst := &memDisk{b: make([]byte, size)}, &memDisk{b: make([]byte, size)}
	s := NewSender(primData, primMeta, proto)
	go s.Acks()
	go Receive(primData, primMeta, src, nil) // serves resync requests from the peer
	startSecondary := func(onRS func(uint64, uint32)) {
		go Receive(secData, secMeta, dst, onRS)
	}
	return s, src, dst, secData, startSecondary
}

func TestReplicateProtocols(t *testing.T) {
	for _, proto := range []int{ProtoA, ProtoB, ProtoC} {
		t.Run(string(rune('A'+proto-1)), func(t *testing.T) {
			const size = 8 << 20
			s, src, dst, _, start := nodes(t, proto, size)
			start(nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					r := mrand.New(mrand.NewPCG(uint64(w), 1))
					buf := make([]byte, 4096)
					for i := 0; i < 50; i++ {
						// Each writer owns the blocks ≡ w mod 8, so concurrent
						// writes never overlap and the result is defined.
						const n = 4096
						off := int64(r.IntN(size/4096/8))*8*4096 + int64(w)*4096
						rand.Read(buf[:n])
						src.WriteAt(buf[:n], off)
						if err := s.Write(ctx, off, buf[:n], i%10 == 0); err != nil {
							t.Error(err)
							return
						}
					}
				}(w)
			}
			wg.Wait()
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			// The barrier ack comes after every write of the epoch was
			// applied, so the disks are equal now, whatever the protocol.
			if !bytes.Equal(src.b, dst.b) {
				t.Fatal("peer disk differs after the barrier")
			}
			if dst.flushes == 0 {
				t.Fatal("the barrier did not flush the peer's disk")
			}
		})
	}
}

func TestResyncByBitmap(t *testing.T) {
	const size = 4 << 20
	s, src, dst, secData, start := nodes(t, ProtoC, size)
	rand.Read(src.b)
	copy(dst.b, src.b)
	// Blocks the peer missed while disconnected.
	runs := []Run{{3, 1}, {10, 40}, {700, 300}, {1023, 1}}
	for _, r := range runs {
		rand.Read(src.b[r.Start*4096 : (r.Start+r.N)*4096])
	}
	var mu sync.Mutex
	targetLeft, sourceLeft := uint64(0), uint64(0)
	for _, r := range runs {
		targetLeft += r.N
		sourceLeft += r.N
	}
	done := make(chan struct{})
	start(func(sector uint64, n uint32) {
		mu.Lock()
		defer mu.Unlock()
		targetLeft -= uint64(n) / 4096
	})
	s.OnResyncAck = func(sector uint64, n uint32) {
		mu.Lock()
		defer mu.Unlock()
		sourceLeft -= uint64(n) / 4096
		if sourceLeft == 0 {
			close(done)
		}
	}
	if err := RequestResync(secData, runs, 64<<10); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("resync did not finish")
	}
	mu.Lock()
	defer mu.Unlock()
	if targetLeft != 0 || !bytes.Equal(src.b, dst.b) {
		t.Fatalf("after resync: %d blocks left on the target, equal=%v", targetLeft, bytes.Equal(src.b, dst.b))
	}
}

func TestSenderFailsOnConnectionLoss(t *testing.T) {
	pd, sd := socketPair(t)
	pm, sm := socketPair(t)
	s := NewSender(NewConn(pd), NewConn(pm), ProtoC)
	go s.Acks()
	done := make(chan error, 1)
	go func() { done <- s.Write(context.Background(), 0, make([]byte, 4096), false) }()
	// The peer reads the write but never acks, then the link drops.
	c := NewConn(sd)
	if _, _, err := c.Recv(); err != nil {
		t.Fatal(err)
	}
	sm.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("write completed without an ack")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("write still waiting after the connection dropped")
	}
}

func TestBitmapExchange(t *testing.T) {
	a, b := socketPair(t)
	ca, cb := NewConn(a), NewConn(b)
	ca.Version, cb.Version = 101, 101
	const bits = 100000 // 1563 words: 4 packets of 510
	src := meta.NewBitmap(bits)
	src.SetRange(5, 1000)
	src.Set(bits - 1)
	src.SetRange(70000, 64)
	dst := meta.NewBitmap(bits)
	dst.SetRange(500, 10) // already inside the source's range
	dst.Set(99998)        // only on this side
	errc := make(chan error, 1)
	go func() { errc <- SendBitmap(ca, src) }()
	added, err := ReceiveBitmap(cb, dst)
	if err != nil || <-errc != nil {
		t.Fatal(err)
	}
	if want := src.Count() - 10; added != want {
		t.Fatalf("added %d bits, want %d", added, want)
	}
	if dst.Count() != src.Count()+1 || !dst.Test(99998) || !dst.Test(bits-1) || !dst.Test(70063) {
		t.Fatalf("merged bitmap: %d bits", dst.Count())
	}
}
