package repl

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"pgregory.net/rapid"

	"github.com/linux-ha-go/ha/lib/drbd/state"
)

// socketPair returns two connected stream sockets (buffered like TCP, so
// both ends may send before reading, as DRBD's handshake does).
func socketPair(t *testing.T) (net.Conn, net.Conn) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(fd int) net.Conn {
		f := os.NewFile(uintptr(fd), "sock")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	return mk(fds[0]), mk(fds[1])
}

type result struct {
	a   Agreed
	err error
}

func both(t *testing.T, ca, cb HandshakeConfig) (result, result) {
	a, b := socketPair(t)
	ch := make(chan result)
	go func() {
		r, err := Handshake(NewConn(b), cb)
		if err != nil {
			b.Close() // as DRBD drops the socket
		}
		ch <- result{r, err}
	}()
	r, err := Handshake(NewConn(a), ca)
	if err != nil {
		a.Close()
	}
	return result{r, err}, <-ch
}

func TestHandshakeAuth(t *testing.T) {
	cfg := HandshakeConfig{CramHMACAlg: "sha1", SharedSecret: "FooFunFactory", Rand: rand.Reader, Features: FFTrim}
	ra, rb := both(t, cfg, cfg)
	if ra.err != nil || rb.err != nil {
		t.Fatalf("handshake: %v / %v", ra.err, rb.err)
	}
	if ra.a.Version != 101 || ra.a.Features != FFTrim {
		t.Fatalf("agreed %+v", ra.a)
	}
	want := []string{"Handshake successful: Agreed network protocol version 101", "Peer authenticated using 20 bytes HMAC"}
	if strings.Join(ra.a.Log, "|") != strings.Join(want, "|") {
		t.Fatalf("log %q", ra.a.Log)
	}
}

func TestHandshakeWrongSecret(t *testing.T) {
	a := HandshakeConfig{CramHMACAlg: "sha256", SharedSecret: "right", Rand: rand.Reader}
	b := a
	b.SharedSecret = "wrong"
	ra, rb := both(t, a, b)
	if !errors.Is(ra.err, ErrAuth) || !errors.Is(rb.err, ErrAuth) {
		t.Fatalf("want ErrAuth on both sides: %v / %v", ra.err, rb.err)
	}
	if last := ra.a.Log[len(ra.a.Log)-1]; last != "Authentication of peer failed" {
		t.Fatalf("log %q", ra.a.Log)
	}
}

// A peer that echoes our challenge is a reflection attack.
func TestHandshakeSameChallenge(t *testing.T) {
	fixed := bytes.Repeat([]byte{7}, 200)
	cfg := HandshakeConfig{CramHMACAlg: "md5", SharedSecret: "s", Rand: bytes.NewReader(fixed)}
	cfg2 := cfg
	cfg2.Rand = bytes.NewReader(fixed)
	ra, _ := both(t, cfg, cfg2)
	if !errors.Is(ra.err, ErrAuth) || ra.a.Log[len(ra.a.Log)-1] != "Peer presented the same challenge!" {
		t.Fatalf("%v %q", ra.err, ra.a.Log)
	}
}

func TestHandshakeNoAuthAndIncompatible(t *testing.T) {
	ra, rb := both(t, HandshakeConfig{}, HandshakeConfig{})
	if ra.err != nil || rb.err != nil || ra.a.Version != ProtoMax {
		t.Fatalf("%v %v %+v", ra.err, rb.err, ra.a)
	}
	// A peer of protocol 102..110 only.
	a, b := socketPair(t)
	go func() {
		c := NewConn(b)
		c.Send(PConnectionFeatures, Features{ProtoMin: 102, ProtoMax: 110}.Append(nil))
		io.Copy(io.Discard, b)
	}()
	r, err := Handshake(NewConn(a), HandshakeConfig{})
	if !errors.Is(err, ErrIncompatible) || r.Log[0] != "incompatible DRBD dialects: I support 86-101, peer supports 102-110" {
		t.Fatalf("%v %q", err, r.Log)
	}
	if _, err := HMACFunc("whirlpool"); err == nil {
		t.Fatal("unknown cram-hmac-alg accepted")
	}
}

func TestPacketsRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		u64 := func(l string) uint64 { return rapid.Uint64().Draw(t, l) }
		u32 := func(l string) uint32 { return rapid.Uint32().Draw(t, l) }
		// Headers of every format.
		v := rapid.SampledFrom([]int{0, 95, 100, 101}).Draw(t, "v")
		n := rapid.Uint32Range(0, MaxPayload).Draw(t, "n")
		if v < 100 && v != 0 || v == 0 {
			n = min(n, 0xffff*2)
		}
		cmd := Cmd(rapid.Uint16().Draw(t, "cmd"))
		vol := rapid.Uint16().Draw(t, "vol")
		hb := AppendHeader(nil, v, cmd, vol, n)
		h, size, err := DecodeHeader(hb)
		if err != nil || size != len(hb) || h.Cmd != cmd || h.Length != n || (v >= 100 && h.Volume != vol) {
			t.Fatalf("header v%d: %+v %d %v", v, h, size, err)
		}
		f := Features{u32("a"), u32("b"), u32("c")}
		if g, _ := DecodeFeatures(f.Append(nil)); g != f {
			t.Fatal("features")
		}
		p := Protocol{u32("p"), u32("s0"), u32("s1"), u32("s2"), u32("cf"), u32("tp"), rapid.SampledFrom([]string{"", "crc32c", "sha1"}).Draw(t, "ia")}
		if g, _ := DecodeProtocol(p.Append(nil)); g != p {
			t.Fatalf("protocol %+v != %+v", g, p)
		}
		uu := UUIDs{state.UUIDs{Current: u64("c"), Bitmap: u64("b"), History: [2]uint64{u64("h0"), u64("h1")}}, u64("bits"), u64("fl")}
		if g, _ := DecodeUUIDs(uu.Append(nil)); g != uu {
			t.Fatal("uuids")
		}
		sz := Sizes{u64("d"), u64("u"), u64("cs"), u32("mb"), rapid.Uint16().Draw(t, "q"), rapid.Uint16().Draw(t, "dd")}
		if g, _ := DecodeSizes(sz.Append(nil)); g != sz {
			t.Fatal("sizes")
		}
		dh := DataHeader{u64("sec"), u64("id"), u32("seq"), u32("dp")}
		data := []byte("payload")
		if g, d, _ := DecodeData(append(dh.Append(nil), data...)); g != dh || string(d) != "payload" {
			t.Fatal("data")
		}
		ba := BlockAck{u64("s"), u64("i"), u32("bs"), u32("sq")}
		if g, _ := DecodeBlockAck(ba.Append(nil)); g != ba {
			t.Fatal("ack")
		}
		br := BlockReq{u64("s2"), u64("i2"), u32("bs2")}
		if g, _ := DecodeBlockReq(br.Append(nil)); g != br {
			t.Fatal("req")
		}
		bar := BarrierAck{u32("b1"), u32("b2")}
		if g, _ := DecodeBarrierAck(bar.Append(nil)); g != bar {
			t.Fatal("barrier ack")
		}
		s := state.State{
			Role: state.Role(rapid.IntRange(0, 2).Draw(t, "r")), Peer: state.Role(rapid.IntRange(0, 2).Draw(t, "pr")),
			Conn: state.Conn(rapid.IntRange(0, int(state.Behind)).Draw(t, "cs")),
			Disk: state.Disk(rapid.IntRange(0, int(state.UpToDate)).Draw(t, "ds")),
			PDsk: state.Disk(rapid.IntRange(0, int(state.UpToDate)).Draw(t, "pd")),
			Susp: rapid.Bool().Draw(t, "su"), UserIsp: rapid.Bool().Draw(t, "ui"), SuspFen: rapid.Bool().Draw(t, "sf"),
		}
		if g, err := DecodeState(EncodeState(s)); err != nil || g != s {
			t.Fatalf("state %s -> %s %v", s, g, err)
		}
	})
}

// The state word layout matches DRBD's bitfield: a known value.
func TestStateWord(t *testing.T) {
	s := state.State{Role: state.Primary, Peer: state.Secondary, Conn: state.Connected, Disk: state.UpToDate, PDsk: state.UpToDate}
	if got := EncodeState(s); got != 1|2<<2|10<<4|8<<9|8<<13 {
		t.Fatalf("0x%x", got)
	}
}

func TestConnSendRecv(t *testing.T) {
	a, b := socketPair(t)
	ca, cb := NewConn(a), NewConn(b)
	ca.Version, cb.Version = 101, 101
	block := bytes.Repeat([]byte{0xab}, 128<<10)
	go ca.Send(PData, DataHeader{Sector: 8, BlockID: 1, SeqNum: 2, DPFlags: DPSendWriteAck}.Append(nil), block)
	h, p, err := cb.Recv()
	if err != nil || h.Cmd != PData {
		t.Fatal(h, err)
	}
	d, data, err := DecodeData(p)
	if err != nil || d.Sector != 8 || !bytes.Equal(data, block) {
		t.Fatalf("%+v %v", d, err)
	}
}

// FuzzDecode feeds arbitrary bytes to the header and payload decoders.
func FuzzDecode(f *testing.F) {
	f.Add(AppendHeader(nil, 0, PConnectionFeatures, 0, 72))
	f.Add(append(AppendHeader(nil, 101, PState, 3, 4), 0, 0, 0x10, 0xa1))
	f.Add(append(AppendHeader(nil, 95, PData, 0, 30), make([]byte, 30)...))
	f.Add(append(AppendHeader(nil, 101, PProtocol, 0, 31), Protocol{Protocol: 3, IntegrityAlg: "crc32c"}.Append(nil)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := NewConn(struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(b), io.Discard})
		for {
			h, p, err := c.Recv()
			if err != nil {
				return
			}
			if again := AppendHeader(nil, 101, h.Cmd, h.Volume, h.Length); true {
				if g, _, err := DecodeHeader(again); err != nil || g.Cmd != h.Cmd || g.Length != h.Length {
					t.Fatalf("header re-encode: %+v vs %+v (%v)", g, h, err)
				}
			}
			switch h.Cmd {
			case PConnectionFeatures:
				DecodeFeatures(p)
			case PProtocol:
				if pr, err := DecodeProtocol(p); err == nil && !strings.Contains(pr.IntegrityAlg, "\x00") {
					if g, err := DecodeProtocol(pr.Append(nil)); err != nil || g != pr {
						t.Fatalf("protocol re-encode %+v %+v", g, pr)
					}
				}
			case PUUIDs:
				DecodeUUIDs(p)
			case PSizes:
				DecodeSizes(p)
			case PState:
				if v, err := DecodeU32(p); err == nil {
					if s, err := DecodeState(v); err == nil && EncodeState(s) != v&0x7fffff {
						t.Fatalf("state word 0x%x re-encodes as 0x%x", v, EncodeState(s))
					}
				}
			case PData, PDataReply, PRSDataReply:
				DecodeData(p)
			case PWriteAck, PRecvAck, PRSWriteAck, PNegAck:
				DecodeBlockAck(p)
			case PDataRequest, PRSDataRequest:
				DecodeBlockReq(p)
			case PBarrier:
				DecodeBarrier(p)
			case PBarrierAck:
				DecodeBarrierAck(p)
			case PStateChgReq:
				DecodeStateChgReq(p)
			case PSyncUUID:
				DecodeU64(p)
			}
		}
	})
}

func TestCheckProtocol(t *testing.T) {
	p := func(mod func(*Protocol)) Protocol {
		x := Protocol{Protocol: ProtoC, AfterSB0: uint32(state.ASBDiscardLocal), AfterSB1: uint32(state.ASBConsensus)}
		if mod != nil {
			mod(&x)
		}
		return x
	}
	mine := p(nil)
	for _, c := range []struct {
		peer Protocol
		want string
	}{
		// The peer's discard-remote is our discard-local.
		{p(func(x *Protocol) { x.AfterSB0 = uint32(state.ASBDiscardRemote) }), ""},
		{p(nil), "incompatible after-sb-0pri settings"},
		{p(func(x *Protocol) { x.AfterSB0 = uint32(state.ASBDiscardRemote); x.Protocol = ProtoA }), "incompatible protocol settings"},
		{p(func(x *Protocol) { x.AfterSB0 = uint32(state.ASBDiscardRemote); x.AfterSB1 = 0 }), "incompatible after-sb-1pri settings"},
		{p(func(x *Protocol) { x.AfterSB0 = uint32(state.ASBDiscardRemote); x.TwoPrimaries = 1 }), "incompatible allow-two-primaries settings"},
		{p(func(x *Protocol) { x.AfterSB0 = uint32(state.ASBDiscardRemote); x.IntegrityAlg = "crc32c" }), "incompatible data-integrity-alg settings"},
	} {
		err := CheckProtocol(mine, c.peer)
		if (c.want == "" && err != nil) || (c.want != "" && (err == nil || !strings.HasSuffix(err.Error(), c.want))) {
			t.Errorf("%+v: %v, want %q", c.peer, err, c.want)
		}
	}
	both := p(func(x *Protocol) { x.ConnFlags = CFDiscardMyData })
	both.AfterSB0 = uint32(state.ASBDiscardRemote)
	me := p(func(x *Protocol) { x.ConnFlags = CFDiscardMyData })
	if err := CheckProtocol(me, both); err == nil || !strings.HasSuffix(err.Error(), "incompatible discard-my-data settings") {
		t.Errorf("both discard-my-data: %v", err)
	}
}
