package daemon

import (
	"net"
	"os"
	"testing"

	"github.com/linux-ha-go/ha/lib/drbd/api"
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
