package repl

import (
	"context"
	"slices"
	"strings"
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

// TestBarrierAckChecked: a barrier ack that names another epoch than
// the oldest one waiting, or another number of writes, is a protocol
// error; the epoch's writes stay in the transfer log and are reported
// lost, and the flush waiting for the barrier fails.
func TestBarrierAckChecked(t *testing.T) {
	for _, c := range []struct {
		name string
		ack  BarrierAck
	}{
		{"a barrier never sent", BarrierAck{Barrier: 1000, SetSize: 2}},
		{"the wrong number of writes", BarrierAck{Barrier: 1, SetSize: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			pd, sd := socketPair(t)
			pm, sm := socketPair(t)
			primData, primMeta, secData, secMeta := NewConn(pd), NewConn(pm), NewConn(sd), NewConn(sm)
			for _, c := range []*Conn{primData, primMeta, secData, secMeta} {
				c.Version = 101
			}
			s := NewSender(primData, primMeta, ProtoC)
			lost := make(chan []Extent, 1)
			s.OnLost = func(e []Extent) { lost <- e }
			acks := make(chan error, 1)
			go func() { acks <- s.Acks() }()
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
						secMeta.Send(PBarrierAck, c.ack.Append(nil))
					}
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			data := make([]byte, 4096)
			for _, off := range []int64{0, 4096} {
				if err := s.Write(ctx, off, data, false); err != nil {
					t.Fatalf("write at %d: %v", off, err)
				}
			}
			if err := s.Flush(ctx); err == nil {
				t.Error("the flush succeeded on a wrong barrier ack")
			}
			select {
			case err := <-acks:
				if err == nil || !strings.Contains(err.Error(), "P_BARRIER_ACK") {
					t.Errorf("Acks ended with %v", err)
				}
			case <-ctx.Done():
				t.Fatal("Acks did not end")
			}
			select {
			case e := <-lost:
				if !slices.Equal(e, []Extent{{0, 4096}, {4096, 4096}}) {
					t.Errorf("lost %v, want both writes", e)
				}
			case <-ctx.Done():
				t.Fatal("OnLost not called")
			}
		})
	}
}

// TestNegAckAfterCompletion: under protocols A and B a write completes
// before the peer writes it; a later P_NEG_ACK still reaches OnNegAck
// (which marks the block out of sync), under C it also fails the write.
func TestNegAckAfterCompletion(t *testing.T) {
	for _, proto := range []int{ProtoA, ProtoB, ProtoC} {
		pd, sd := socketPair(t)
		pm, sm := socketPair(t)
		primData, primMeta, secData, secMeta := NewConn(pd), NewConn(pm), NewConn(sd), NewConn(sm)
		for _, c := range []*Conn{primData, primMeta, secData, secMeta} {
			c.Version = 101
		}
		s := NewSender(primData, primMeta, proto)
		neg := make(chan BlockAck, 1)
		s.OnNegAck = func(sector uint64, size uint32) { neg <- BlockAck{Sector: sector, BlkSize: size} }
		go s.Acks()
		go func() {
			var ack []byte
			for {
				h, p, err := secData.Recv()
				if err != nil {
					return
				}
				if h.Cmd == PData {
					d, block, _ := DecodeData(p)
					a := BlockAck{Sector: d.Sector, BlockID: d.BlockID, BlkSize: uint32(len(block))}
					if d.DPFlags&DPSendReceiveAck != 0 {
						secMeta.Send(PRecvAck, a.Append(ack[:0]))
					}
					secMeta.Send(PNegAck, a.Append(ack[:0]))
				}
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.Write(ctx, 8192, make([]byte, 4096), false)
		if (err != nil) != (proto == ProtoC) {
			t.Errorf("protocol %d: write returned %v", proto, err)
		}
		select {
		case a := <-neg:
			if a.Sector != 16 || a.BlkSize != 4096 {
				t.Errorf("protocol %d: OnNegAck(%d, %d), want sector 16, 4096 bytes", proto, a.Sector, a.BlkSize)
			}
		case <-ctx.Done():
			t.Errorf("protocol %d: OnNegAck not called", proto)
		}
		cancel()
	}
}
