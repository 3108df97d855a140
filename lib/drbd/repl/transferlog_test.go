package repl

import (
	"context"
	"io"
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
	s, secData, secMeta := senderPair(t, ProtoC)
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
	fakeReceiver(secData, func(a BlockAck, _ uint32) { secMeta.Send(PWriteAck, a.Append(nil)) }, func(nr uint32) {
		barriers <- nr
		if nr == 1 {
			secMeta.Send(PBarrierAck, BarrierAck{Barrier: 1, SetSize: 2}.Append(nil))
		}
	})
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
	secData.rw.(io.Closer).Close()
	secMeta.rw.(io.Closer).Close()
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
			s, secData, secMeta := senderPair(t, ProtoC)
			lost := make(chan []Extent, 1)
			s.OnLost = func(e []Extent) { lost <- e }
			acks := make(chan error, 1)
			go func() { acks <- s.Acks() }()
			fakeReceiver(secData, func(a BlockAck, _ uint32) { secMeta.Send(PWriteAck, a.Append(nil)) },
				func(uint32) { secMeta.Send(PBarrierAck, c.ack.Append(nil)) })
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
		s, secData, secMeta := senderPair(t, proto)
		neg := make(chan BlockAck, 1)
		s.OnNegAck = func(sector uint64, size uint32) { neg <- BlockAck{Sector: sector, BlkSize: size} }
		go s.Acks()
		fakeReceiver(secData, func(a BlockAck, flags uint32) {
			if flags&DPSendReceiveAck != 0 {
				secMeta.Send(PRecvAck, a.Append(nil))
			}
			secMeta.Send(PNegAck, a.Append(nil))
		}, nil)
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

// senderPair is a Sender over two socket pairs, and the peer's ends of
// its data and meta sockets.
func senderPair(t *testing.T, proto int) (*Sender, *Conn, *Conn) {
	primData, primMeta, secData, secMeta := linkConns(t)
	return NewSender(primData, primMeta, proto), secData, secMeta
}

// fakeReceiver plays the peer's data socket until it fails: onData gets
// each P_DATA's ack to send and its flags, onBarrier (if set) each
// P_BARRIER's number.
func fakeReceiver(data *Conn, onData func(a BlockAck, flags uint32), onBarrier func(nr uint32)) {
	go func() {
		for {
			h, p, err := data.Recv()
			if err != nil {
				return
			}
			switch h.Cmd {
			case PData:
				d, block, _ := DecodeData(p)
				onData(BlockAck{Sector: d.Sector, BlockID: d.BlockID, BlkSize: uint32(len(block))}, d.DPFlags)
			case PBarrier:
				if b, _ := DecodeBarrier(p); onBarrier != nil {
					onBarrier(b.Barrier)
				}
			}
		}
	}()
}
