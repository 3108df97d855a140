package daemon_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/daemon"
	"github.com/linux-ha-go/ha/lib/drbd/repl"
	"github.com/linux-ha-go/ha/lib/drbd/state"
	"github.com/linux-ha-go/ha/lib/testutil"
)

// fakePeer is the test speaking DRBD's wire protocol as bob to a real
// godrbd (alice).
type fakePeer struct {
	dc, mc     net.Conn
	data, meta *repl.Conn
	devSize    int64 // alice's device, bytes
}

// acceptFake waits for alice (the active side: she dials) to open her
// data and meta sockets, and runs the handshake and the protocol
// exchange as a well-behaved peer would.
func acceptFake(t *testing.T, ln net.Listener) *fakePeer {
	t.Helper()
	f := &fakePeer{}
	for f.dc == nil || f.mc == nil {
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
		c, err := ln.Accept()
		if err != nil {
			t.Fatalf("alice did not connect: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		h, err := repl.ReadHeader(c)
		var vnr [2]byte
		if err == nil {
			_, err = c.Read(vnr[:])
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Cmd == repl.PInitialMeta {
			f.mc = c
		} else {
			f.dc = c
		}
	}
	f.data, f.meta = repl.NewConn(f.dc), repl.NewConn(f.mc)
	f.dc.SetDeadline(time.Now().Add(20 * time.Second))
	agreed, err := repl.Handshake(f.data, repl.HandshakeConfig{CramHMACAlg: "sha256", SharedSecret: "two nodes, one secret", Rand: rand.Reader})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	f.meta.Version = agreed.Version
	if err := f.data.Send(repl.PProtocol, repl.Protocol{Protocol: repl.ProtoC}.Append(nil)); err != nil {
		t.Fatal(err)
	}
	if h, _, err := f.data.Recv(); err != nil || h.Cmd != repl.PProtocol {
		t.Fatalf("alice's protocol packet: %v %v", h.Cmd, err)
	}
	return f
}

// sendParams sends what a peer sends on a new connection: sizes, UUIDs
// and state.
func (f *fakePeer) sendParams(t *testing.T, u state.UUIDs, bits uint64, s state.State) {
	t.Helper()
	f.data.Send(repl.PSizes, repl.Sizes{DSize: sbDisk / 512, CSize: sbDisk / 512, MaxBioSize: 1 << 20}.Append(nil))
	f.data.Send(repl.PUUIDs, repl.UUIDs{UUIDs: u, Bits: bits}.Append(nil))
	f.data.Send(repl.PState, binary.BigEndian.AppendUint32(nil, repl.EncodeState(s)))
}

// sendWrites sends writes of random data to the first blocks as P_DATA
// (a Primary's writes) and as P_RS_DATA_REPLY (resync data nobody asked
// for). Errors are ignored: alice may have hung up.
func (f *fakePeer) sendWrites() {
	blk := make([]byte, 4096)
	for i := uint64(0); i < 8; i++ {
		rand.Read(blk)
		hdr := repl.DataHeader{Sector: i * 8, BlockID: i + 1, SeqNum: uint32(i + 1), DPFlags: repl.DPSendWriteAck}.Append(nil)
		f.data.Send(repl.PData, hdr, blk)
		f.data.Send(repl.PRSDataReply, hdr, blk)
	}
}

// dataHash hashes the data area of a node's backing file (the internal
// meta data after it may change: a handshake that decides a sync
// writes the bitmap and the flags).
func dataHash(t *testing.T, n *node) [32]byte {
	t.Helper()
	b, err := os.ReadFile(n.disk)
	if err != nil {
		t.Fatal(err)
	}
	size := n.status().Devices[0].Size * 1024
	if size <= 0 || size > int64(len(b)) {
		t.Fatalf("device size %d, backing file %d bytes", size, len(b))
	}
	return sha256.Sum256(b[:size])
}

// afterData is the 4 KiB of a node's backing file right after its data
// area: where a write past the end of the device would land.
func afterData(t *testing.T, n *node) string {
	t.Helper()
	b, err := os.ReadFile(n.disk)
	if err != nil {
		t.Fatal(err)
	}
	size := n.status().Devices[0].Size * 1024
	if size+4096 > int64(len(b)) {
		t.Fatalf("device size %d, backing file %d bytes", size, len(b))
	}
	return string(b[size : size+4096])
}

// TestLyingPeer: a peer that sends garbage, or lies about its UUIDs
// and then sends writes, is disconnected, and alice's backing file does
// not change.
func TestLyingPeer(t *testing.T) {
	cases := []struct {
		name string
		// lie talks to alice, whose current UUID is cur.
		lie  func(t *testing.T, f *fakePeer, cur uint64)
		want string // alice's cstate afterwards
		log  string // a line in alice's log
		// meta: alice's meta data stays as it was (no sync was decided
		// that would write her bitmap).
		meta bool
	}{
		{"garbage after the handshake", func(t *testing.T, f *fakePeer, cur uint64) {
			junk := make([]byte, 8192)
			rand.Read(junk)
			f.dc.Write(junk)
		}, "WFConnection", "connection lost", false},
		{"garbage packets", func(t *testing.T, f *fakePeer, cur uint64) {
			junk := make([]byte, 100)
			rand.Read(junk)
			f.data.Send(repl.PUUIDs, junk[:7]) // too short
			f.data.Send(repl.Cmd(0x7777), junk)
		}, "WFConnection", "connection lost", false},
		{"unrelated UUIDs from an UpToDate Primary", func(t *testing.T, f *fakePeer, cur uint64) {
			f.sendParams(t, state.UUIDs{Current: 0x1234567890ABCDE0 | 1, Bitmap: 0xDEADBEEF00000000, History: [2]uint64{0xCAFE0000, 0xF00D0000}}, 512,
				state.State{Role: state.Primary, Peer: state.Secondary, Conn: state.Connected, Disk: state.UpToDate, PDsk: state.UpToDate})
			f.sendWrites()
		}, "StandAlone", "Unrelated data, aborting!", false},
		{"history claims a newer generation then writes", func(t *testing.T, f *fakePeer, cur uint64) {
			// The peer's history claims it once had alice's data; its
			// bitmap UUID is nonsense and it is not Primary, yet it
			// sends writes and resync data before any resync began.
			f.sendParams(t, state.UUIDs{Current: 0x0BADC0DE00000000, Bitmap: 0x0BADF00D00000000, History: [2]uint64{0x1111, cur}}, 0,
				state.State{Role: state.Secondary, Peer: state.Secondary, Conn: state.Connected, Disk: state.UpToDate, PDsk: state.UpToDate})
			f.sendWrites()
		}, "WFConnection", "protocol error", false},
		{"a Primary writing past the end of the device", func(t *testing.T, f *fakePeer, cur uint64) {
			f.sendParams(t, state.UUIDs{Current: cur &^ 1}, 0,
				state.State{Role: state.Primary, Peer: state.Secondary, Conn: state.Connected, Disk: state.UpToDate, PDsk: state.UpToDate})
			blk := make([]byte, 4096)
			rand.Read(blk)
			// Where the internal meta data begins, then one sector
			// over the end.
			end := uint64(f.devSize / 512)
			for _, sector := range []uint64{end, end - 7} {
				hdr := repl.DataHeader{Sector: sector, BlockID: 1, SeqNum: 1, DPFlags: repl.DPSendWriteAck}.Append(nil)
				f.data.Send(repl.PData, hdr, blk)
			}
		}, "WFConnection", "outside the device", true},
		{"a peer asking for blocks past the end", func(t *testing.T, f *fakePeer, cur uint64) {
			f.sendParams(t, state.UUIDs{Current: cur &^ 1}, 0,
				state.State{Role: state.Secondary, Peer: state.Secondary, Conn: state.Connected, Disk: state.UpToDate, PDsk: state.UpToDate})
			req := repl.BlockReq{Sector: 1 << 60, BlockID: 1, BlkSize: 4096}.Append(nil)
			f.data.Send(repl.PRSDataRequest, req)
		}, "WFConnection", "outside the device", true},
		{"a verify reply of 4 GiB", func(t *testing.T, f *fakePeer, cur uint64) {
			f.sendParams(t, state.UUIDs{Current: cur &^ 1}, 0,
				state.State{Role: state.Secondary, Peer: state.Secondary, Conn: state.Connected, Disk: state.UpToDate, PDsk: state.UpToDate})
			rep := repl.BlockReq{Sector: 0, BlockID: 1, BlkSize: 1<<32 - 512}.Append(nil)
			f.data.Send(repl.POVReply, append(rep, make([]byte, 32)...))
		}, "WFConnection", "outside the device", true},
		{"sizes of 2 to the 63 bytes or more", func(t *testing.T, f *fakePeer, cur uint64) {
			f.data.Send(repl.PSizes, repl.Sizes{DSize: 1 << 60, CSize: 1 << 60, MaxBioSize: 1 << 20}.Append(nil))
		}, "WFConnection", "past 2^63", true},
		{"an Inconsistent peer claims invalidate-remote", func(t *testing.T, f *fakePeer, cur uint64) {
			// A sync source without UpToDate data: alice must not
			// become its target (set every bit, take its resync data).
			// Its UUIDs are alice's (her bitmap UUID is the one of the
			// fresh meta data): the handshake leaves both Connected.
			f.sendParams(t, state.UUIDs{Current: cur &^ 1, Bitmap: state.JustCreated}, 0,
				state.State{Role: state.Secondary, Peer: state.Secondary, Conn: state.Connected, Disk: state.UpToDate, PDsk: state.UpToDate})
			f.data.Send(repl.PState, binary.BigEndian.AppendUint32(nil, repl.EncodeState(
				state.State{Role: state.Secondary, Peer: state.Secondary, Conn: state.StartingSyncS, Disk: state.Inconsistent, PDsk: state.UpToDate})))
			f.data.Send(repl.PSyncUUID, binary.BigEndian.AppendUint64(nil, 0x0BADC0DE00000000))
			// Resync data only: what a sync target takes.
			blk := make([]byte, 4096)
			for i := uint64(0); i < 8; i++ {
				rand.Read(blk)
				hdr := repl.DataHeader{Sector: i * 8, BlockID: i + 1, SeqNum: uint32(i + 1)}.Append(nil)
				f.data.Send(repl.PRSDataReply, hdr, blk)
			}
		}, "StandAlone", "Need access to UpToDate data", true},
		{"same UUIDs then writes from a Secondary", func(t *testing.T, f *fakePeer, cur uint64) {
			f.sendParams(t, state.UUIDs{Current: cur &^ 1}, 0,
				state.State{Role: state.Secondary, Peer: state.Secondary, Conn: state.Connected, Disk: state.UpToDate, PDsk: state.UpToDate})
			f.sendWrites()
		}, "WFConnection", "protocol error", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newPairSized(t, "C", "", "", sbDisk, sbDisk)
			p.ok(p.b, "down", "r0")
			p.b.proc.Kill()
			p.ok(p.a, "primary", "--force", "r0")
			writeBlocks(t, p.a, 0, 16)
			p.ok(p.a, "secondary", "r0")
			gi := p.ok(p.a, "get-gi", "r0")
			cur, err := strconv.ParseUint(strings.SplitN(gi, ":", 2)[0], 16, 64)
			if err != nil {
				t.Fatalf("get-gi: %q", gi)
			}
			before, meta := dataHash(t, p.a), afterData(t, p.a)

			ln, err := net.Listen("tcp", "127.0.0.2:"+portOf(t, p.a.conf))
			if err != nil {
				t.Fatal(err)
			}
			f := acceptFake(t, ln)
			f.devSize = p.a.status().Devices[0].Size * 1024
			ln.Close() // alice's next attempts fail: she stays WFConnection
			c.lie(t, f, cur)
			testutil.WaitFor(t, 10*time.Second, "alice to drop the fake peer", func() bool {
				out, _, _ := p.adm_(p.a, "cstate", "r0")
				return strings.TrimSpace(out) == c.want
			})
			if c.log != "" && !strings.Contains(p.a.proc.Output(), c.log) {
				t.Errorf("alice's log lacks %q", c.log)
			}
			// status says why the connection was dropped, and how to
			// reconnect from StandAlone.
			st := p.ok(p.a, "status", "r0")
			if !strings.Contains(st, "    last-error: ") || c.want == "StandAlone" && !strings.Contains(st, "after fixing its cause: godrbdadm connect r0") {
				t.Errorf("alice's status does not say why the peer was dropped:\n%s", st)
			}
			f.dc.Close()
			f.mc.Close()
			if after := dataHash(t, p.a); after != before {
				t.Error("the data on alice's backing file changed")
			}
			if got := afterData(t, p.a); c.meta && got != meta {
				t.Error("the 4 KiB after alice's data area (her meta data) changed")
			}
			// A peer whose history names alice's current UUID claims a
			// newer generation: alice, about to become its sync target,
			// is Outdated (as DRBD would be) but keeps her data.
			if got := p.ok(p.a, "dstate", "r0"); !strings.HasPrefix(got, "UpToDate/") && !strings.HasPrefix(got, "Outdated/") {
				t.Errorf("alice's disk after the lying peer: %s", got)
			}
		})
	}
}

// TestPeerNegAck: a peer that fails to write a block answers P_NEG_ACK;
// the Primary marks the block out of sync, so the next resync brings it
// over, and the write itself succeeds, as in DRBD, since the local disk
// has it.
func TestPeerNegAck(t *testing.T) {
	p := newPairSized(t, "C", "", "", sbDisk, sbDisk)
	p.ok(p.b, "down", "r0")
	p.b.proc.Kill()
	p.ok(p.a, "primary", "--force", "r0")
	gi := p.ok(p.a, "get-gi", "r0")
	cur, err := strconv.ParseUint(strings.SplitN(gi, ":", 2)[0], 16, 64)
	if err != nil {
		t.Fatalf("get-gi: %q", gi)
	}
	ln, err := net.Listen("tcp", "127.0.0.2:"+portOf(t, p.a.conf))
	if err != nil {
		t.Fatal(err)
	}
	f := acceptFake(t, ln)
	ln.Close()
	// alice's UUIDs (her bitmap UUID is the fresh meta data's), no
	// bits: alice and the fake are Connected, no resync.
	f.sendParams(t, state.UUIDs{Current: cur &^ 1, Bitmap: state.JustCreated}, 0,
		state.State{Role: state.Secondary, Peer: state.Primary, Conn: state.Connected, Disk: state.UpToDate, PDsk: state.UpToDate})
	p.waitState(p.a, "cstate", "Connected")
	go func() {
		var ack []byte
		for {
			h, b, err := f.data.Recv()
			if err != nil {
				return
			}
			if h.Cmd == repl.PData {
				d, block, _ := repl.DecodeData(b)
				ack = repl.BlockAck{Sector: d.Sector, BlockID: d.BlockID, BlkSize: uint32(len(block)), SeqNum: d.SeqNum}.Append(ack[:0])
				f.meta.Send(repl.PNegAck, ack)
			}
		}
	}()
	w := dialNBD(t, daemon.NBDPath(p.a.rundir, "r0", 0))
	defer w.c.Close()
	// As in DRBD, the write succeeds: the local disk has it.
	if err := w.write(1, 8192, make([]byte, 4096)); err != nil {
		t.Errorf("a write the local disk took failed: %v", err)
	}
	if oos := p.a.status().Connections[0].PeerDevices[0].OutOfSync; oos != 4 {
		t.Errorf("out of sync after the peer failed a 4 KiB write: %d KiB, want 4", oos)
	}
	if !strings.Contains(p.a.proc.Output(), "the peer failed to write a block") {
		t.Error("alice's log does not say the peer failed a write")
	}
}
