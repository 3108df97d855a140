package nbd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func need(t *testing.T, prog, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(prog); err != nil {
		t.Skipf("%s not installed (Debian package %s)", prog, pkg)
	}
}

// serveFile serves a new file of size bytes on a Unix socket and returns
// the socket path and the file path.
func serveFile(t *testing.T, size int64, exports ...string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(size)
	f.Close()
	b, err := OpenFile(img, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	var ex []*Export
	if len(exports) == 0 {
		exports = []string{""}
	}
	for _, name := range exports {
		ex = append(ex, &Export{Name: name, Description: "test volume", Backend: b})
	}
	sock := filepath.Join(dir, "nbd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewServer(Options{}, ex...).Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return sock, img
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestNbdinfo(t *testing.T) {
	need(t, "nbdinfo", "libnbd-bin")
	sock, _ := serveFile(t, 64<<20)
	out := run(t, "nbdinfo", "--json", "nbd+unix:///?socket="+sock)
	var info struct {
		Protocol string `json:"protocol"`
		Exports  []struct {
			Size        int64  `json:"export-size"`
			Description string `json:"description"`
			ReadOnly    bool   `json:"is_read_only"`
			CanFlush    bool   `json:"can_flush"`
			CanFUA      bool   `json:"can_fua"`
			CanTrim     bool   `json:"can_trim"`
			CanZero     bool   `json:"can_zero"`
			CanMulti    bool   `json:"can_multi_conn"`
			MinBlock    int    `json:"block_size_minimum"`
			PrefBlock   int    `json:"block_size_preferred"`
		} `json:"exports"`
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if info.Protocol != "newstyle-fixed" || len(info.Exports) != 1 {
		t.Fatalf("nbdinfo: %s", out)
	}
	e := info.Exports[0]
	if e.Size != 64<<20 || e.ReadOnly || !e.CanFlush || !e.CanFUA || !e.CanTrim || !e.CanZero || !e.CanMulti ||
		e.Description != "test volume" || e.PrefBlock != 4096 {
		t.Fatalf("nbdinfo export: %+v\n%s", e, out)
	}
}

func TestNbdinfoList(t *testing.T) {
	need(t, "nbdinfo", "libnbd-bin")
	sock, _ := serveFile(t, 1<<20, "r0", "r1")
	out := run(t, "nbdinfo", "--list", "--json", "nbd+unix:///?socket="+sock)
	if !strings.Contains(out, `"export-name": "r0"`) || !strings.Contains(out, `"export-name": "r1"`) {
		t.Fatalf("nbdinfo --list:\n%s", out)
	}
	// An unknown export name is refused during NBD_OPT_GO.
	cmd := exec.Command("nbdinfo", "nbd+unix:///nosuch?socket="+sock)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("nbdinfo on an unknown export succeeded:\n%s", out)
	}
}

func TestNbdcopyRoundTrip(t *testing.T) {
	need(t, "nbdcopy", "libnbd-bin")
	const size = 16 << 20
	sock, img := serveFile(t, size)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	data := make([]byte, size)
	rand.Read(data)
	// A zero hole, so nbdcopy uses WRITE_ZEROES or TRIM.
	clear(data[4<<20 : 6<<20])
	os.WriteFile(src, data, 0o644)
	uri := "nbd+unix:///?socket=" + sock
	run(t, "nbdcopy", "--flush", src, uri)
	got, _ := os.ReadFile(img)
	if !bytes.Equal(got, data) {
		t.Fatal("the served file differs from what nbdcopy wrote")
	}
	out := filepath.Join(dir, "out")
	run(t, "nbdcopy", uri, out)
	back, _ := os.ReadFile(out)
	if !bytes.Equal(back, data) {
		t.Fatal("nbdcopy read back different data")
	}
}

func TestFioVerify(t *testing.T) {
	need(t, "fio", "fio")
	if out, _ := exec.Command("fio", "--enghelp").CombinedOutput(); !strings.Contains(string(out), "nbd") {
		t.Skip("fio lacks the nbd engine")
	}
	sock, _ := serveFile(t, 32<<20)
	out := run(t, "fio", "--name=verify", "--ioengine=nbd", "--uri=nbd+unix:///?socket="+sock,
		"--rw=randwrite", "--bs=4k", "--size=32M", "--iodepth=16", "--verify=crc32c",
		"--do_verify=1", "--verify_fatal=1", "--number_ios=2000", "--output-format=terse")
	if strings.Contains(out, "verify:") && strings.Contains(out, "bad") {
		t.Fatalf("fio verify failed:\n%s", out)
	}
}

// memBackend is a Backend in memory, for the fuzz target and unit tests.
type memBackend struct{ b []byte }

func (m *memBackend) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	return copy(p, m.b[off:]), nil
}
func (m *memBackend) WriteAt(p []byte, off int64) (int, error) { return copy(m.b[off:], p), nil }
func (m *memBackend) Size() int64                              { return int64(len(m.b)) }
func (m *memBackend) Flush() error                             { return nil }
func (m *memBackend) Trim(off, n int64) error                  { clear(m.b[off : off+n]); return nil }

// fakeConn reads a fixed input and discards what is written.
type fakeConn struct {
	r io.Reader
	w bytes.Buffer
}

func (c *fakeConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *fakeConn) Write(p []byte) (int, error) { return c.w.Write(p) }
func (c *fakeConn) Close() error                { return nil }

// clientStream builds what a client sends: flags, NBD_OPT_GO for "",
// then the given requests.
func clientStream(reqs ...[]byte) []byte {
	var b bytes.Buffer
	be := binary.BigEndian
	binary.Write(&b, be, clientFixedNewstyle|clientNoZeroes)
	binary.Write(&b, be, optMagic)
	binary.Write(&b, be, optGo)
	binary.Write(&b, be, uint32(6))
	b.Write([]byte{0, 0, 0, 0, 0, 0})
	for _, r := range reqs {
		b.Write(r)
	}
	return b.Bytes()
}

func req(typ, flags uint16, handle, off uint64, n uint32, data []byte) []byte {
	b := make([]byte, requestSize)
	Request{Flags: flags, Type: typ, Handle: handle, Offset: off, Length: n}.Encode(b)
	return append(b, data...)
}

func TestServeConnInMemory(t *testing.T) {
	m := &memBackend{b: make([]byte, 1<<16)}
	s := NewServer(Options{Workers: 1}, &Export{Backend: m})
	c := &fakeConn{r: bytes.NewReader(clientStream(
		req(CmdWrite, CmdFlagFUA, 1, 4096, 5, []byte("hello")),
		req(CmdRead, 0, 2, 4096, 5, nil),
		req(CmdRead, 0, 3, 1<<16-2, 5, nil),              // beyond the end: EINVAL
		req(CmdWrite, 0, 4, 1<<16-2, 5, []byte("xxxxx")), // beyond the end: ENOSPC
		req(CmdTrim, 0, 5, 4096, 2, nil),
		req(CmdFlush, 0, 6, 0, 0, nil),
		req(CmdDisc, 0, 7, 0, 0, nil),
	))}
	if err := s.ServeConn(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if string(m.b[4096:4101]) != "\x00\x00llo" {
		t.Fatalf("backend: %q", m.b[4096:4101])
	}
	out := c.w.Bytes()
	// Skip the greeting (18) and the GO replies (INFO 20+12, ACK 20).
	out = out[18+32+20:]
	type rep struct {
		err    uint32
		handle uint64
	}
	var reps []rep
	for len(out) >= simpleRepSize {
		r := rep{binary.BigEndian.Uint32(out[4:]), binary.BigEndian.Uint64(out[8:])}
		out = out[simpleRepSize:]
		if r.handle == 2 {
			if string(out[:5]) != "hello" {
				t.Fatalf("read back %q", out[:5])
			}
			out = out[5:]
		}
		reps = append(reps, r)
	}
	want := []rep{{0, 1}, {0, 2}, {errInval, 3}, {errNoSpc, 4}, {0, 5}, {0, 6}}
	if len(reps) != len(want) {
		t.Fatalf("replies %v, want %v", reps, want)
	}
	for i := range want {
		if reps[i] != want[i] {
			t.Fatalf("replies %v, want %v", reps, want)
		}
	}
}

// FuzzRequest feeds arbitrary client bytes, after a valid negotiation or
// from the very start, to the server: it must neither panic nor hang.
func FuzzRequest(f *testing.F) {
	f.Add(true, req(CmdRead, 0, 1, 0, 512, nil))
	f.Add(true, req(CmdWrite, CmdFlagFUA, 1, 0, 3, []byte("abc")))
	f.Add(true, req(CmdTrim, 0, 1, 10, 100, nil))
	f.Add(false, clientStream(req(CmdFlush, 0, 9, 0, 0, nil)))
	f.Add(false, []byte{0, 0, 0, 3, 0x49, 0x48, 0x41, 0x56, 0x45, 0x4F, 0x50, 0x54, 0, 0, 0, 3, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, negotiated bool, data []byte) {
		if negotiated {
			data = clientStream(data)
		}
		if len(data) >= requestSize {
			if r, err := DecodeRequest(data); err == nil {
				b := make([]byte, requestSize)
				r.Encode(b)
				if !bytes.Equal(b, data[:requestSize]) {
					t.Fatal("request re-encodes differently")
				}
			}
		}
		m := &memBackend{b: make([]byte, 1<<16)}
		s := NewServer(Options{Workers: 2, MaxRequest: 1 << 20}, &Export{Name: "x", Backend: m}, &Export{Name: "", Backend: m})
		s.ServeConn(context.Background(), &fakeConn{r: bytes.NewReader(data)})
	})
}

// serveFileAt serves an already open backend on sock; the returned
// function stops the server.
func serveFileAt(t *testing.T, b Backend, sock string) (func(), error) {
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewServer(Options{}, &Export{Backend: b}).Serve(ctx, ln) }()
	return func() {
		cancel()
		<-done
	}, nil
}
