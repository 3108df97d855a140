package repl

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/testutil"
)

// failDisk is a memDisk whose reads at one offset fail.
type failDisk struct {
	*memDisk
	bad int64
}

func (f *failDisk) ReadAt(p []byte, off int64) (int, error) {
	if off <= f.bad && f.bad < off+int64(len(p)) {
		return 0, errors.New("medium error")
	}
	return f.memDisk.ReadAt(p, off)
}

// diskless connects a node without a disk (a Sender for its writes and
// Reads for its reads) to a peer serving backend b with Receive.
func diskless(t *testing.T, proto int, b Backend, setup ...func(*Sender)) (*Sender, *Reads, *Conn, func()) {
	t.Helper()
	data, mc, secData, secMeta := linkConns(t)
	reads := &Reads{}
	s := NewSender(data, mc, proto)
	s.OnNegDReply = reads.NegReply
	for _, f := range setup {
		f(s)
	}
	go s.Acks()
	go Receive(secData, secMeta, b, nil)
	go func() {
		for {
			h, p, err := data.Recv()
			if err != nil {
				reads.Fail(err)
				return
			}
			if h.Cmd == PDataReply {
				if err := reads.Reply(p); err != nil {
					reads.Fail(err)
					return
				}
			}
		}
	}()
	return s, reads, data, func() { secData.rw.(io.Closer).Close(); secMeta.rw.(io.Closer).Close() }
}

func TestReadsFromPeer(t *testing.T) {
	const size = 4 << 20
	disk := &memDisk{b: make([]byte, size)}
	rand.Read(disk.b)
	_, reads, data, _ := diskless(t, ProtoC, disk)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, c := range []struct{ off, n int64 }{{0, 512}, {4096, 4096}, {512, 3 << 20}, {size - 8192, 8192}, {0, size}} {
		buf := make([]byte, c.n)
		if err := reads.Read(ctx, data, buf, c.off); err != nil {
			t.Fatalf("read %d at %d: %v", c.n, c.off, err)
		}
		if !bytes.Equal(buf, disk.b[c.off:c.off+c.n]) {
			t.Fatalf("read %d at %d: not the peer's data", c.n, c.off)
		}
	}
	if n := reads.Pending(); n != 0 {
		t.Errorf("%d reads still pending", n)
	}
	if err := reads.Read(ctx, data, make([]byte, 100), 0); err == nil {
		t.Error("an unaligned read was sent")
	}
}

// TestReadAfterWrite: even with protocol A, where a write completes once
// sent, a read issued after it sees it: the peer serves the data socket
// in order.
func TestReadAfterWrite(t *testing.T) {
	const size = 1 << 20
	disk := &memDisk{b: make([]byte, size)}
	s, reads, data, _ := diskless(t, ProtoA, disk)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 50 {
		w := make([]byte, 8192)
		rand.Read(w)
		off := int64(i%100) * 8192
		if err := s.Write(ctx, off, w, false); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(w))
		if err := reads.Read(ctx, data, got, off); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, w) {
			t.Fatalf("read %d does not see the write before it", i)
		}
	}
}

func TestReadsNegReplyAndConnectionLoss(t *testing.T) {
	const size = 1 << 20
	disk := &failDisk{memDisk: &memDisk{b: make([]byte, size)}, bad: 65536}
	_, reads, data, closePeer := diskless(t, ProtoC, disk)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := reads.Read(ctx, data, make([]byte, 4096), 65536); !errors.Is(err, ErrPeerRead) {
		t.Fatalf("read of a block the peer cannot read: %v, want ErrPeerRead", err)
	}
	if err := reads.Read(ctx, data, make([]byte, 4096), 0); err != nil {
		t.Fatalf("the connection did not survive a NegDReply: %v", err)
	}
	closePeer()
	testutil.WaitFor(t, 10*time.Second, "reads failing with ErrClosed after the peer went", func() bool {
		return errors.Is(reads.Read(ctx, data, make([]byte, 4096), 0), ErrClosed)
	})
}

// TestNegRSDReply: a resync request the source cannot serve is reported
// to the target, which ends the request.
func TestNegRSDReply(t *testing.T) {
	disk := &failDisk{memDisk: &memDisk{b: make([]byte, 1<<20)}, bad: 8192}
	got := make(chan uint64, 1)
	_, _, data, _ := diskless(t, ProtoC, disk, func(s *Sender) {
		s.OnNegRSDReply = func(sector uint64, size uint32) { got <- sector }
	})
	if err := data.Send(PRSDataRequest, BlockReq{Sector: 16, BlockID: 7, BlkSize: 4096}.Append(nil)); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != 16 {
			t.Errorf("NegRSDReply for sector %d, want 16", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no NegRSDReply for a block the source cannot read")
	}
}

// FuzzReadsReply: whatever a peer sends as P_DATA_REPLY, a waiting read
// gets its own bytes or an error, never a panic or a short buffer.
func FuzzReadsReply(f *testing.F) {
	f.Add(DataHeader{Sector: 8, BlockID: 1}.Append(nil), 4096)
	f.Add(append(DataHeader{Sector: 8, BlockID: 1}.Append(nil), make([]byte, 4096)...), 4096)
	f.Add(append(DataHeader{Sector: 9, BlockID: 1}.Append(nil), make([]byte, 512)...), 512)
	f.Add(append(DataHeader{Sector: 8, BlockID: 2}.Append(nil), make([]byte, 512)...), 512)
	f.Add([]byte{1, 2, 3}, 512)
	f.Fuzz(func(t *testing.T, payload []byte, n int) {
		if n <= 0 || n > 1<<16 {
			return
		}
		r := &Reads{}
		buf := make([]byte, n)
		q := &readReq{sector: 8, buf: buf, done: make(chan error, 1)}
		r.pending = map[uint64]*readReq{1: q}
		err := r.Reply(payload)
		d, block, derr := DecodeData(payload)
		switch {
		case derr != nil:
			if err == nil {
				t.Fatal("an undecodable reply was accepted")
			}
		case d.BlockID != 1:
			if err != nil || len(q.done) != 0 {
				t.Fatalf("a reply to another read: %v", err)
			}
		case d.Sector != 8 || len(block) != n:
			if err == nil || (<-q.done) == nil {
				t.Fatal("a reply of the wrong sector or size was accepted")
			}
		default:
			if err != nil || (<-q.done) != nil || !bytes.Equal(buf, block) {
				t.Fatalf("a matching reply was not delivered: %v", err)
			}
		}
	})
}
