package wire

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

type vector struct {
	name   string
	key    *Key
	inner  string
	outer  string
	packet []byte
}

func loadVectors(t testing.TB) []vector {
	f, err := os.Open("testdata/vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []vector
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		fs := strings.Fields(line)
		idx, _ := strconv.Atoi(fs[1])
		secret := fs[3]
		if secret == "-" {
			secret = ""
		}
		pkt, err := hex.DecodeString(fs[6])
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, vector{name: fs[0], key: &Key{Index: idx, Method: Method(fs[2]), Secret: []byte(secret)},
			inner: strings.ReplaceAll(fs[4], "_", " "), outer: strings.ReplaceAll(fs[5], "_", " "), packet: pkt})
	}
	if len(vs) < 8 {
		t.Fatalf("only %d vectors", len(vs))
	}
	return vs
}

func TestCRCCheckValues(t *testing.T) {
	if got := crc32posix([]byte("123456789")); got != 0x765e7680 {
		t.Errorf("crc(123456789) = %x", got)
	}
	if got := crc32posix(nil); got != 0xffffffff {
		t.Errorf("crc(\"\") = %x", got)
	}
}

// Every captured packet decodes, both signatures verify, and re-encoding
// the decoded message reproduces the capture byte for byte.
func TestCapturedVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			p, err := Decode(v.packet)
			if err != nil {
				t.Fatal(err)
			}
			if !p.Netstring || p.OuterAuth != v.outer || p.InnerAuth != v.inner {
				t.Fatalf("decoded outer %q inner %q", p.OuterAuth, p.InnerAuth)
			}
			ring := &Keyring{Send: v.key, Keys: map[int]*Key{v.key.Index: v.key}}
			if err := ring.Verify(p); err != nil {
				t.Fatalf("outer: %v", err)
			}
			if err := ring.VerifyInner(p.Msg); err != nil {
				t.Fatalf("inner: %v", err)
			}
			again, err := Encode(nil, p.Msg.Clone(), v.key)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, v.packet) {
				t.Fatalf("re-encoded differs:\n got %q\nwant %q", again, v.packet)
			}
			// a wrong key fails
			bad := &Key{Index: v.key.Index, Method: v.key.Method, Secret: []byte("other")}
			if v.key.Method != CRC {
				br := &Keyring{Keys: map[int]*Key{bad.Index: bad}}
				if err := br.Verify(p); !errors.Is(err, ErrBadAuth) {
					t.Fatalf("wrong key: %v", err)
				}
			}
			// an index we do not have is refused
			other := &Keyring{Keys: map[int]*Key{9: {Index: 9, Method: SHA1, Secret: []byte("x")}}}
			if err := other.Verify(p); !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("unknown index: %v", err)
			}
			// any flipped byte in the signed part fails
			mut := bytes.Clone(v.packet)
			mut[len(mut)/3] ^= 0x20
			if q, err := Decode(mut); err == nil && ring.Verify(q) == nil {
				t.Fatal("tampered packet verified")
			}
			// every truncation is an error, never a panic
			for i := 0; i < len(v.packet); i++ {
				if q, err := Decode(v.packet[:i]); err == nil && ring.Verify(q) == nil {
					t.Fatalf("truncated at %d verified", i)
				}
			}
		})
	}
}

func TestListField(t *testing.T) {
	for _, v := range loadVectors(t) {
		if v.name != "V9" {
			continue
		}
		p, err := Decode(v.packet)
		if err != nil {
			t.Fatal(err)
		}
		items, err := ListItems(p.Msg.GetBytes("ccmuptimelist"))
		if err != nil || len(items) != 2 || items[0] != "33554432" || items[1] != "16777216" {
			t.Fatalf("list %v %v", items, err)
		}
		n := 0
		for _, f := range p.Msg.Fields {
			if f.Name == "ccmmajor" {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("ccmmajor appears %d times", n)
		}
		return
	}
	t.Fatal("no V9")
}

// V5: the synthetic classic packet the real daemon accepts.
func TestClassicV5(t *testing.T) {
	k := &Key{Index: 1, Method: SHA1, Secret: []byte("hbtestkey")}
	raw := ">>>\nt=status\nst=active\ndt=1388\nprotocol=1\nsrc=node2\nseq=2a\nhg=6b05dc0b\nts=6b05dc2f\nld=0.00 0.00 0.00 1/1 1\nttl=3\nauth=1 e5ea27f1d0565ab46c33d27e5031de670067afb6\n<<<\n"
	p, err := Decode([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	ring := &Keyring{Send: k, Keys: map[int]*Key{1: k}}
	if err := ring.Verify(p); err != nil {
		t.Fatal(err)
	}
	if got := string(EncodeClassic(p.Msg.Clone(), k)); got != raw {
		t.Fatalf("classic re-encode:\n%q", got)
	}
	ns, err := Encode(nil, p.Msg.Clone(), k)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(ns, []byte("%%%\n42:1 2ad9a6adade637143cf85304b0222cab1b9f0dcb,")) {
		t.Fatalf("netstring form: %q", ns)
	}
	// classic without auth is refused
	noauth := ">>>\nt=status\nsrc=node2\n<<<\n"
	q, err := Decode([]byte(noauth))
	if err != nil {
		t.Fatal(err)
	}
	if err := ring.Verify(q); !errors.Is(err, ErrNoAuth) {
		t.Fatalf("no auth: %v", err)
	}
}

func TestRoundTripBinaryAndNewline(t *testing.T) {
	k := &Key{Index: 3, Method: MD5, Secret: []byte("s")}
	m := (&Message{}).Add("t", "x").Add("text", "two\nlines").AddBinary("uuid", []byte{0, 1, 2, 255, '\n'})
	for _, enc := range [][]byte{must(Encode(nil, m.Clone(), k)), EncodeClassic(m.Clone(), k)} {
		p, err := Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		if err := (&Keyring{Keys: map[int]*Key{3: k}}).Verify(p); err != nil {
			t.Fatal(err)
		}
		if p.Msg.Get("text") != "two\nlines" || !bytes.Equal(p.Msg.GetBytes("uuid"), []byte{0, 1, 2, 255, '\n'}) {
			t.Fatalf("round trip: %v", p.Msg)
		}
	}
}

func TestTooLarge(t *testing.T) {
	k := &Key{Index: 1, Method: CRC}
	m := (&Message{}).Add("t", "big").Add("data", strings.Repeat("x", MaxMessage))
	if _, err := Encode(nil, m, k); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("encode: %v", err)
	}
	if _, err := Decode(make([]byte, MaxMessage+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("decode: %v", err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func FuzzDecode(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.packet)
	}
	f.Add([]byte(">>>\nt=status\n(1)x=AAAA\n<<<\n"))
	f.Add([]byte("###\n5:(2)s=###\n%%%\n,%%%\n"))
	k := &Key{Index: 1, Method: SHA1, Secret: []byte("hbtestkey")}
	ring := &Keyring{Send: k, Keys: map[int]*Key{1: k}}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		_ = ring.Verify(p)
		_ = p.Msg.String()
		_, _ = Expand(p.Msg)
		// what decodes re-encodes and decodes to the same fields
		enc, err := Encode(nil, p.Msg.Clone(), k)
		if err != nil {
			return
		}
		q, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if ring.Verify(q) != nil {
			t.Fatal("re-encoded message does not verify")
		}
	})
}

func TestCompressedRoundTrip(t *testing.T) {
	k := &Key{Index: 1, Method: SHA1, Secret: []byte("hbtestkey")}
	ring := &Keyring{Send: k, Keys: map[int]*Key{1: k}}
	big := strings.Repeat("<primitive id='x'/>", 40000) // 760 KB, compresses well
	m := (&Message{}).Add("t", "cib").Add("xml", big).Add("src", "node1").Add("seq", "2a")
	raw, err := EncodeCompressed(m.Clone(), k)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > MaxMessage {
		t.Fatalf("envelope is %d bytes", len(raw))
	}
	p, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := ring.Verify(p); err != nil {
		t.Fatal(err)
	}
	in, err := Expand(p.Msg)
	if err != nil {
		t.Fatal(err)
	}
	if in.Get("xml") != big || in.Get("seq") != "2a" || in.Get("t") != "cib" {
		t.Fatal("expanded message differs")
	}
	if err := ring.VerifyInner(in); err != nil {
		t.Fatalf("inner auth: %v", err)
	}
	// a message that is not compressed expands to itself
	if x, err := Expand(m); err != nil || x != m {
		t.Fatal("plain message changed")
	}
	// garbage and unknown algorithms are errors
	bad := (&Message{}).AddBinary(CompressedField, []byte("nope")).Add(AlgorithmField, "zlib")
	if _, err := Expand(bad); !errors.Is(err, ErrCompression) {
		t.Fatalf("garbage: %v", err)
	}
	bad = (&Message{}).AddBinary(CompressedField, []byte("x")).Add(AlgorithmField, "lz4")
	if _, err := Expand(bad); !errors.Is(err, ErrCompression) {
		t.Fatalf("lz4: %v", err)
	}
	// a zip bomb stops at the bound
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write([]byte("###\n"))
	w.Write(make([]byte, MaxUncompressed+10))
	w.Close()
	bomb := (&Message{}).AddBinary(CompressedField, z.Bytes()).Add(AlgorithmField, "zlib")
	if _, err := Expand(bomb); !errors.Is(err, ErrCompression) {
		t.Fatalf("bomb: %v", err)
	}
}
