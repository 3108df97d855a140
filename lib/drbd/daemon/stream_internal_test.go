package daemon

import (
	"bytes"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"

	"github.com/linux-ha-go/ha/lib/drbd/api"
	"github.com/linux-ha-go/ha/lib/drbd/nbd"
	"github.com/linux-ha-go/ha/lib/drbd/repl"
	"golang.org/x/sys/unix"
)

// TestSetBuffers: net { sndbuf-size; rcvbuf-size } reach the data
// socket (the kernel reports twice the size asked for, its bookkeeping
// included); 0 leaves the autotuned defaults.
func TestSetBuffers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("sizes past net.core.wmem_max need root (SO_SNDBUFFORCE)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	get := func(c net.Conn, opt int) int {
		rc, _ := c.(*net.TCPConn).SyscallConn()
		var n int
		rc.Control(func(fd uintptr) { n, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, opt) })
		return n
	}
	for _, c := range []struct {
		opts     []api.Option
		snd, rcv int // wanted, 0 = unchanged
	}{
		{[]api.Option{{Name: "sndbuf-size", Value: "4M"}, {Name: "rcvbuf-size", Value: "3145728"}}, 8 << 20, 6 << 20},
		{[]api.Option{{Name: "sndbuf-size", Value: "0"}}, 0, 0},
	} {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		snd0, rcv0 := get(conn, unix.SO_SNDBUF), get(conn, unix.SO_RCVBUF)
		setBuffers(conn, c.opts)
		snd, rcv := get(conn, unix.SO_SNDBUF), get(conn, unix.SO_RCVBUF)
		conn.Close()
		if c.snd == 0 && (snd != snd0 || rcv != rcv0) {
			t.Errorf("%v changed the buffers: %d/%d -> %d/%d", c.opts, snd0, rcv0, snd, rcv)
		}
		if c.snd != 0 && (snd != c.snd || rcv != c.rcv) {
			t.Errorf("%v: SO_SNDBUF %d SO_RCVBUF %d, want %d and %d", c.opts, snd, rcv, c.snd, c.rcv)
		}
	}
}

// TestReceiveBlock: a large block read from the data socket in pieces
// and written as they arrive lands whole at its offset, whatever the
// size; a connection that ends inside the block is the connection's
// error; after a disk error the rest of the block is still consumed,
// so the next packet is read from the right place.
func TestReceiveBlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disk")
	if err := os.WriteFile(path, make([]byte, 4<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	disk, err := nbd.OpenDirect(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	d := New("/nonexistent", "bob", slog.New(slog.NewTextHandler(io.Discard, nil)))
	r := newResource(d, &api.Resource{Name: "r0", Local: &api.Endpoint{Node: "bob"}, Peer: &api.Endpoint{Node: "alice"}})
	v := &Volume{r: r, disk: disk}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{2 * receivePiece, 2*receivePiece + 4096, 1 << 20, 3*receivePiece - 512, 5*receivePiece + 512} {
		payload := make([]byte, n)
		for i := range payload {
			payload[i] = byte(rng.Uint32())
		}
		off := int64(rng.IntN(4<<20-n)) &^ 511
		c := repl.NewConn(struct {
			io.Reader
			io.Writer
		}{iotest.HalfReader(bytes.NewReader(payload)), io.Discard})
		werr, err := v.receiveBlock(c, c.Buffer(n), off)
		if werr != nil || err != nil {
			t.Fatalf("%d bytes: %v, %v", n, werr, err)
		}
		got := make([]byte, n)
		if _, err := disk.ReadAt(got, off); err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("%d bytes at %d: not on the disk as sent (%v)", n, off, err)
		}
	}
	// The connection ends a byte short.
	n := 1 << 20
	c := repl.NewConn(struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(make([]byte, n-1)), io.Discard})
	if _, err := v.receiveBlock(c, c.Buffer(n), 0); err == nil {
		t.Fatal("a block cut short was taken whole")
	}
	// The disk fails: the block is still read to its end.
	ro, err := nbd.OpenFile(path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	v.disk = ro
	next := []byte("next packet")
	c = repl.NewConn(struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(append(make([]byte, n), next...)), io.Discard})
	werr, err := v.receiveBlock(c, c.Buffer(n), 0)
	if werr == nil || err != nil {
		t.Fatalf("read-only disk: write error %v, connection error %v", werr, err)
	}
	rest := make([]byte, len(next))
	if err := c.ReadInto(rest); err != nil || !bytes.Equal(rest, next) {
		t.Fatalf("after the failed block the stream reads %q, %v", rest, err)
	}
}
