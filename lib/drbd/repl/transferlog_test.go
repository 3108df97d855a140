package repl

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestTransferLog: writes sent since the last acknowledged barrier are
// reported lost when the connection fails (acknowledged or not), those
// of acknowledged epochs are not, and a full epoch closes itself.
func TestTransferLog(t *testing.T) {
	pd, sd := socketPair(t)
	pm, sm := socketPair(t)
	primData, primMeta, secData, secMeta := NewConn(pd), NewConn(pm), NewConn(sd), NewConn(sm)
	for _, c := range []*Conn{primData, primMeta, secData, secMeta} {
		c.Version = 101
	}
	s := NewSender(primData, primMeta, ProtoC)
	s.MaxEpoch = 3
	var mu sync.Mutex
	var lost []Extent
	lostCalls := 0
	s.OnLost = func(e []Extent) {
		mu.Lock()
		lost = append(lost, e...)
		lostCalls++
		mu.Unlock()
	}
	acks := make(chan error, 1)
	go func() { acks <- s.Acks() }()
	// The peer acknowledges every write and only barrier 1.
	barriers := make(chan uint32, 8)
	go func() {
		var ack []byte
		for {
			h, p, err := secData.Recv()
			if err != nil {
				return
			}
			switch h.Cmd {
			case PData:
				d, block, _ := DecodeData(p)
				ack = BlockAck{Sector: d.Sector, BlockID: d.BlockID, BlkSize: uint32(len(block))}.Append(ack[:0])
				secMeta.Send(PWriteAck, ack)
			case PBarrier:
				b, _ := DecodeBarrier(p)
				barriers <- b.Barrier
				if b.Barrier == 1 {
					secMeta.Send(PBarrierAck, BarrierAck{Barrier: 1, SetSize: 2}.Append(nil))
				}
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	data := make([]byte, 4096)
	write := func(off int64) {
		t.Helper()
		if err := s.Write(ctx, off, data, false); err != nil {
			t.Fatalf("write at %d: %v", off, err)
		}
	}
	write(0)
	write(4096)
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	for _, off := range []int64{8192, 12288, 16384, 20480, 24576} {
		write(off)
	}
	// 8192, 12288, 16384 filled epoch 2, closed by barrier 2 on its own.
	var seen []uint32
	for len(seen) < 2 {
		select {
		case b := <-barriers:
			seen = append(seen, b)
		case <-ctx.Done():
			t.Fatalf("barriers seen: %v, want [1 2]", seen)
		}
	}
	if !slices.Equal(seen, []uint32{1, 2}) {
		t.Fatalf("barriers %v, want [1 2]", seen)
	}
	// A write the peer never acknowledges waits; the connection fails.
	pd.Close()
	pm.Close()
	select {
	case <-acks:
	case <-ctx.Done():
		t.Fatal("Acks did not return after the connection closed")
	}
	mu.Lock()
	defer mu.Unlock()
	want := []Extent{{8192, 4096}, {12288, 4096}, {16384, 4096}, {20480, 4096}, {24576, 4096}}
	if lostCalls != 1 || !slices.Equal(lost, want) {
		t.Fatalf("OnLost called %d times with %v, want once with %v", lostCalls, lost, want)
	}
	if err := s.Write(ctx, 0, data, false); err == nil {
		t.Fatal("a write after the failure succeeded")
	}
}
