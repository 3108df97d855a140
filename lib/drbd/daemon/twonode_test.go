package daemon_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/api"
	"github.com/linux-ha-go/ha/lib/drbd/daemon"
	"github.com/linux-ha-go/ha/lib/ipc"
	"github.com/linux-ha-go/ha/lib/testutil"
)

const diskSize = 8 << 20

type node struct {
	t      *testing.T
	name   string
	dir    string
	rundir string
	disk   string
	conf   string
	proc   *testutil.Proc
}

type pair struct {
	t    *testing.T
	a, b *node
	adm  string
	bin  string
}

func needTool(t *testing.T, prog string) {
	t.Helper()
	if _, err := exec.LookPath(prog); err != nil {
		t.Skipf("%s not installed (Debian package libnbd-bin)", prog)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// newPair writes a drbd.conf for alice (127.0.0.1) and bob (127.0.0.2),
// starts a godrbd for each and runs create-md and up on both.
func newPair(t *testing.T, protocol string) *pair {
	t.Helper()
	return newPairNet(t, protocol, "")
}

// newPairNet is newPair with more net options.
func newPairNet(t *testing.T, protocol, netOpts string) *pair {
	t.Helper()
	return newPairWith(t, protocol, netOpts, "")
}

// newPairWith is newPair with more net options and more sections.
func newPairWith(t *testing.T, protocol, netOpts, extra string) *pair {
	t.Helper()
	return newPairSized(t, protocol, netOpts, extra, diskSize, diskSize)
}

// newPairSized is newPairWith with disks of the given sizes.
func newPairSized(t *testing.T, protocol, netOpts, extra string, sizeA, sizeB int64) *pair {
	t.Helper()
	needTool(t, "nbdcopy")
	p := &pair{t: t, adm: testutil.Bin(t, "godrbdadm"), bin: testutil.Bin(t, "godrbd")}
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "drbd.conf")
	mk := func(name string, size int64) *node {
		n := &node{t: t, name: name, dir: filepath.Join(dir, name), conf: conf}
		n.rundir = filepath.Join(n.dir, "run")
		n.disk = filepath.Join(n.dir, "disk")
		os.MkdirAll(n.dir, 0o755)
		if err := os.WriteFile(n.disk, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Truncate(n.disk, size)
		return n
	}
	p.a, p.b = mk("alice", sizeA), mk("bob", sizeB)
	// DRBD's default c-fill-target (100 sectors) ramps a resync up slowly
	// on a fast link (8 MiB take seconds): the pairs aim higher, as
	// LINBIT's tuning advice for fast links does. TestResyncDefaults
	// runs the defaults.
	text := fmt.Sprintf(`global { disable-ip-verification; usage-count no; }
common { disk { c-fill-target 24M; } }
resource r0 {
  protocol %s;
  net { cram-hmac-alg sha256; shared-secret "two nodes, one secret"; %s}
  %s
  on alice { device /dev/drbd0; disk %s; address 127.0.0.1:%d; meta-disk internal; }
  on bob   { device /dev/drbd0; disk %s; address 127.0.0.2:%d; meta-disk internal; }
}
`, protocol, netOpts, extra, p.a.disk, port, p.b.disk, port)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*node{p.a, p.b} {
		p.start(n)
		p.ok(n, "create-md", "r0")
		p.ok(n, "up", "r0")
	}
	return p
}

func (p *pair) start(n *node) {
	n.proc = testutil.Start(p.t, "godrbd "+n.name, nil, p.bin, "--rundir", n.rundir, "--statedir", filepath.Join(n.dir, "state"), "--node", n.name, "run", "-d")
	testutil.WaitFor(p.t, 5*time.Second, n.name+"'s godrbd socket", func() bool {
		c, err := net.Dial("unix", filepath.Join(n.rundir, api.SocketName))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func (p *pair) adm_(n *node, args ...string) (string, string, int) {
	p.t.Helper()
	return testutil.Run(p.t, nil, p.adm, append([]string{"-c", n.conf, "--node", n.name, "--rundir", n.rundir}, args...)...)
}

func (p *pair) ok(n *node, args ...string) string {
	p.t.Helper()
	out, errOut, code := p.adm_(n, args...)
	if code != 0 {
		p.t.Fatalf("%s: godrbdadm %s: exit %d\n%s%s", n.name, strings.Join(args, " "), code, out, errOut)
	}
	return strings.TrimSpace(out)
}

func (p *pair) waitState(n *node, what, want string) {
	p.t.Helper()
	testutil.WaitFor(p.t, 20*time.Second, n.name+" "+what+" "+want, func() bool {
		out, _, _ := p.adm_(n, what, "r0")
		return strings.TrimSpace(out) == want
	})
}

// promoted makes alice Primary (--force) once the pair is connected and
// waits until both disks are UpToDate.
func (p *pair) promoted() *pair {
	p.t.Helper()
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	return p
}

func (p *pair) waitSynced() {
	p.t.Helper()
	for _, n := range []*node{p.a, p.b} {
		p.waitState(n, "dstate", "UpToDate/UpToDate")
	}
}

func (n *node) nbdURI() string { return "nbd+unix:///?socket=" + daemon.NBDPath(n.rundir, "r0", 0) }

func (n *node) status() daemon.Status {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := ipc.Dial(ctx, "godrbd", filepath.Join(n.rundir, api.SocketName))
	if err != nil {
		n.t.Fatal(err)
	}
	defer c.Close()
	var rep api.Reply
	if err := c.Call(ctx, api.OpStatus, &api.Request{Op: api.OpStatus, Resource: "r0", Flags: []api.Option{{Name: "json"}}}, &rep); err != nil {
		n.t.Fatal(err)
	}
	var st []daemon.Status
	if err := json.Unmarshal([]byte(rep.Text), &st); err != nil || len(st) != 1 {
		n.t.Fatalf("status --json: %v\n%s", err, rep.Text)
	}
	return st[0]
}

func nbdcopy(t *testing.T, src, dst string) {
	t.Helper()
	out, err := exec.Command("nbdcopy", src, dst).CombinedOutput()
	if err != nil {
		t.Fatalf("nbdcopy %s %s: %v\n%s", src, dst, err, out)
	}
}

// TestInitialSyncWriteSwitchRoles: primary --force makes a full sync,
// writes through the NBD export reach both disks, and the other node
// reads them back after the roles switch.
func TestInitialSyncWriteSwitchRoles(t *testing.T) {
	p := newPair(t, "C")
	p.waitState(p.a, "cstate", "Connected")
	p.waitState(p.b, "dstate", "Inconsistent/Inconsistent")

	// Without --force an Inconsistent disk cannot be promoted.
	_, errOut, code := p.adm_(p.a, "primary", "r0")
	if code != 17 || !strings.Contains(errOut, "0: State change failed: (-2) Need access to UpToDate data") {
		t.Fatalf("primary without force: exit %d, %q", code, errOut)
	}
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	if got := p.ok(p.a, "role", "r0"); got != "Primary/Secondary" {
		t.Fatalf("role on alice: %q", got)
	}
	st := p.b.status()
	blocks := uint64(st.Devices[0].Size / 4)
	if got := st.Connections[0].PeerDevices[0].ResyncBlocksReceived; got != blocks {
		t.Errorf("the initial sync moved %d blocks to bob, want all %d", got, blocks)
	}

	// Both Primary is refused.
	_, errOut, code = p.adm_(p.b, "primary", "r0")
	if code != 11 || !strings.Contains(errOut, "(-1) Multiple primaries not allowed by config") {
		t.Fatalf("second primary: exit %d, %q", code, errOut)
	}

	data := make([]byte, 3<<20)
	rand.Read(data)
	src := filepath.Join(t.TempDir(), "data")
	os.WriteFile(src, data, 0o644)
	nbdcopy(t, src, p.a.nbdURI())

	text := p.ok(p.a, "status", "r0")
	want := "r0 role:Primary\n  disk:UpToDate\n  bob role:Secondary\n    replication:Established peer-disk:UpToDate"
	if text != want {
		t.Errorf("status:\n%s\nwant:\n%s", text, want)
	}
	testutil.WaitFor(t, 5*time.Second, "alice's proc", func() bool {
		b, _ := os.ReadFile(filepath.Join(p.a.rundir, "proc"))
		return strings.Contains(string(b), " 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----\n")
	})

	// Bob is not Primary: no export.
	if _, err := os.Stat(daemon.NBDPath(p.b.rundir, "r0", 0)); err == nil {
		t.Error("bob exports r0 while Secondary")
	}
	p.ok(p.a, "secondary", "r0")
	p.ok(p.b, "primary", "r0")
	dst := filepath.Join(t.TempDir(), "out")
	nbdcopy(t, p.b.nbdURI(), dst)
	got, _ := os.ReadFile(dst)
	if len(got) < len(data) || !bytes.Equal(got[:len(data)], data) {
		t.Fatal("bob does not read back what alice wrote")
	}
	out, err := exec.Command("nbdinfo", "--size", p.b.nbdURI()).Output()
	if err != nil || strings.TrimSpace(string(out)) != fmt.Sprint(st.Devices[0].Size*1024) {
		t.Errorf("nbdinfo --size: %q %v, want %d", out, err, st.Devices[0].Size*1024)
	}
}

// TestBitmapResync: writes made while disconnected move, and only they,
// when the nodes reconnect.
func TestBitmapResync(t *testing.T) {
	p := newPair(t, "C")
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	before := p.b.status().Connections[0].PeerDevices[0].ResyncBlocksReceived

	p.ok(p.a, "disconnect", "r0")
	if got := p.ok(p.a, "cstate", "r0"); got != "StandAlone" {
		t.Fatalf("cstate after disconnect: %q", got)
	}
	p.waitState(p.b, "cstate", "WFConnection")
	const changed = 3
	data := make([]byte, changed*4096)
	rand.Read(data)
	src := filepath.Join(t.TempDir(), "three")
	os.WriteFile(src, data, 0o644)
	nbdcopy(t, src, p.a.nbdURI())
	if got := p.a.status().Connections[0].PeerDevices[0].OutOfSync; got != changed*4 {
		t.Errorf("out-of-sync after %d blocks written disconnected: %d KiB, want %d", changed, got, changed*4)
	}
	if got := p.ok(p.a, "dstate", "r0"); got != "UpToDate/DUnknown" {
		t.Errorf("dstate while disconnected: %q", got)
	}

	p.ok(p.a, "connect", "r0")
	p.waitSynced()
	moved := p.b.status().Connections[0].PeerDevices[0].ResyncBlocksReceived - before
	if moved != changed {
		t.Errorf("the resync after reconnecting moved %d blocks, want %d", moved, changed)
	}
	t.Logf("bitmap resync moved %d blocks", moved)

	p.ok(p.a, "secondary", "r0")
	p.ok(p.b, "primary", "r0")
	dst := filepath.Join(t.TempDir(), "out")
	nbdcopy(t, p.b.nbdURI(), dst)
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got[:len(data)], data) {
		t.Fatal("bob does not have the blocks written while disconnected")
	}
}

// nbdWriter is a minimal NBD client: one write at a time, so that it
// knows exactly which writes were acknowledged.
type nbdWriter struct {
	c    net.Conn
	size uint64
}

func dialNBD(t *testing.T, path string) *nbdWriter {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var hello [18]byte
	if _, err := io.ReadFull(c, hello[:]); err != nil {
		t.Fatal(err)
	}
	be := binary.BigEndian
	b := be.AppendUint32(nil, 3) // fixed newstyle, no zeroes
	b = be.AppendUint64(b, 0x49484156454F5054)
	b = be.AppendUint32(b, 1) // NBD_OPT_EXPORT_NAME ""
	b = be.AppendUint32(b, 0)
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	var info [10]byte
	if _, err := io.ReadFull(c, info[:]); err != nil {
		t.Fatal(err)
	}
	return &nbdWriter{c: c, size: be.Uint64(info[:])}
}

func (w *nbdWriter) write(handle, off uint64, data []byte) error {
	return w.cmd(1, handle, off, data) // NBD_CMD_WRITE
}

func (w *nbdWriter) flush(handle uint64) error {
	return w.cmd(3, handle, 0, nil) // NBD_CMD_FLUSH
}

func (w *nbdWriter) cmd(typ uint16, handle, off uint64, data []byte) error {
	be := binary.BigEndian
	b := be.AppendUint32(nil, 0x25609513)
	b = be.AppendUint16(b, 0)
	b = be.AppendUint16(b, typ)
	b = be.AppendUint64(b, handle)
	b = be.AppendUint64(b, off)
	b = be.AppendUint32(b, uint32(len(data)))
	if _, err := w.c.Write(append(b, data...)); err != nil {
		return err
	}
	var rep [16]byte
	if _, err := io.ReadFull(w.c, rep[:]); err != nil {
		return err
	}
	if e := be.Uint32(rep[4:]); e != 0 {
		return fmt.Errorf("nbd error %d", e)
	}
	return nil
}

// TestKillPrimaryProtocolC: with protocol C every write the writer saw
// acknowledged is on the secondary when the primary dies.
func TestKillPrimaryProtocolC(t *testing.T) {
	p := newPair(t, "C")
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()

	w := dialNBD(t, daemon.NBDPath(p.a.rundir, "r0", 0))
	const nblocks = 256
	var mu sync.Mutex
	acked := make([]uint64, nblocks) // last acknowledged sequence number per block
	var nacked, issued uint64
	done := make(chan error, 1)
	go func() {
		blk := make([]byte, 4096)
		for seq := uint64(1); ; seq++ {
			i := seq % nblocks
			for o := 0; o < len(blk); o += 8 {
				binary.LittleEndian.PutUint64(blk[o:], seq)
			}
			mu.Lock()
			issued = seq
			mu.Unlock()
			if err := w.write(seq, i*4096, blk); err != nil {
				done <- err
				return
			}
			mu.Lock()
			acked[i] = seq
			nacked++
			mu.Unlock()
		}
	}()
	testutil.WaitFor(t, 20*time.Second, "500 acknowledged writes", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return nacked >= 500
	})
	p.a.proc.Kill() // kill -9 while the writer writes
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer did not notice the primary's death")
	}
	w.c.Close()

	p.waitState(p.b, "cstate", "WFConnection")
	p.ok(p.b, "primary", "r0")
	dst := filepath.Join(t.TempDir(), "out")
	nbdcopy(t, p.b.nbdURI(), dst)
	got, _ := os.ReadFile(dst)
	mu.Lock()
	defer mu.Unlock()
	for i := uint64(0); i < nblocks; i++ {
		seq := binary.LittleEndian.Uint64(got[i*4096:])
		if seq < acked[i] || seq > issued {
			t.Fatalf("block %d holds write %d; write %d was acknowledged (last issued %d)", i, seq, acked[i], issued)
		}
	}
	t.Logf("%d acknowledged writes, all on the secondary", nacked)

	// The crashed primary comes back: it becomes the sync target and
	// ends with bob's data.
	p.start(p.a)
	p.ok(p.a, "up", "r0")
	p.waitSynced()
	if got := p.ok(p.a, "role", "r0"); got != "Secondary/Primary" {
		t.Fatalf("role on the returning node: %q", got)
	}
	// The writer wrote into the first 4 MiB activity log extent only:
	// apply-al marks that extent, and only it moves back.
	if moved := p.a.status().Connections[0].PeerDevices[0].ResyncBlocksReceived; moved != 1024 {
		t.Errorf("the returning node received %d blocks, want the 1024 of the one hot extent", moved)
	}
	p.ok(p.b, "secondary", "r0")
	p.ok(p.a, "primary", "r0")
	dst2 := filepath.Join(t.TempDir(), "out2")
	nbdcopy(t, p.a.nbdURI(), dst2)
	got2, _ := os.ReadFile(dst2)
	if !bytes.Equal(got, got2) {
		t.Fatal("after the resync the returning node's data differs from the survivor's")
	}
}

// TestProtocolsAB: protocols A and B replicate too, and a flush on the
// primary is a flush (a barrier) on the secondary.
func TestProtocolsAB(t *testing.T) {
	for _, proto := range []string{"A", "B"} {
		t.Run(proto, func(t *testing.T) {
			p := newPair(t, proto)
			p.waitState(p.a, "cstate", "Connected")
			p.ok(p.a, "primary", "--force", "r0")
			p.waitSynced()
			data := make([]byte, 1<<20)
			rand.Read(data)
			src := filepath.Join(t.TempDir(), "data")
			os.WriteFile(src, data, 0o644)
			before := p.b.status().Connections[0].PeerDevices[0]
			if out, err := exec.Command("nbdcopy", "--flush", src, p.a.nbdURI()).CombinedOutput(); err != nil {
				t.Fatalf("nbdcopy: %v\n%s", err, out)
			}
			after := p.b.status().Connections[0].PeerDevices[0]
			if after.BarriersReceived <= before.BarriersReceived {
				t.Errorf("the flush on the primary made no barrier on the secondary (%d before, %d after)", before.BarriersReceived, after.BarriersReceived)
			}
			if got := after.Received - before.Received; got != 1024 {
				t.Errorf("the secondary received %d KiB, want 1024", got)
			}
			p.ok(p.a, "secondary", "r0")
			p.ok(p.b, "primary", "r0")
			dst := filepath.Join(t.TempDir(), "out")
			nbdcopy(t, p.b.nbdURI(), dst)
			got, _ := os.ReadFile(dst)
			if !bytes.Equal(got[:len(data)], data) {
				t.Fatalf("protocol %s: bob does not read back what alice wrote", proto)
			}
		})
	}
}

// TestAuthenticationFailure: different shared secrets end in StandAlone
// on both nodes, as DRBD does.
func TestAuthenticationFailure(t *testing.T) {
	p := newPair(t, "C")
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "down", "r0")
	p.ok(p.b, "down", "r0")
	conf, _ := os.ReadFile(p.a.conf)
	other := filepath.Join(t.TempDir(), "drbd.conf")
	os.WriteFile(other, bytes.Replace(conf, []byte("two nodes, one secret"), []byte("another secret"), 1), 0o644)
	p.b.conf = other
	p.ok(p.a, "up", "r0")
	p.ok(p.b, "up", "r0")
	p.waitState(p.a, "cstate", "StandAlone")
	p.waitState(p.b, "cstate", "StandAlone")
	testutil.WaitFor(t, 5*time.Second, "the log line", func() bool {
		return strings.Contains(p.a.proc.Output(), "Authentication of peer failed") || strings.Contains(p.b.proc.Output(), "Authentication of peer failed")
	})
	// Both say why in status, and how to reconnect.
	for _, n := range []*node{p.a, p.b} {
		st := p.ok(n, "status", "r0")
		if !strings.Contains(st, "    last-error: ") || !strings.Contains(st, "handshake: ") || !strings.Contains(st, "godrbdadm connect r0") {
			t.Errorf("%s's status after a failed authentication:\n%s", n.name, st)
		}
	}
}

// TestRefusals: DRBD's words and exit codes for requests godrbd refuses.
func TestRefusals(t *testing.T) {
	p := newPair(t, "C")
	a := p.a
	// role of a minor that does not exist: the resource is not up on a
	// third daemon with no resources.
	p.ok(a, "down", "r0")
	_, errOut, code := p.adm_(a, "role", "r0")
	if code != 10 || !strings.Contains(errOut, "0: Failure: (127) Device minor not allocated") {
		t.Errorf("role of a minor that is down: exit %d %q", code, errOut)
	}
	// Local address in use (by this listener, or by whoever took the
	// port meanwhile: in use either way).
	ln, err := net.Listen("tcp", "127.0.0.1:"+portOf(t, a.conf))
	_, errOut, code = p.adm_(a, "up", "r0")
	if err == nil {
		ln.Close()
	}
	if code == 0 || !strings.Contains(errOut, "r0: Failure: (102) Local address(port) already in use.") {
		t.Errorf("up with the port in use: exit %d %q", code, errOut)
	}
	p.ok(a, "down", "r0")
	// No meta data.
	os.Truncate(a.disk, 0)
	os.Truncate(a.disk, diskSize)
	_, errOut, code = p.adm_(a, "up", "r0")
	if code == 0 || !strings.Contains(errOut, "0: Failure: (119) No valid meta-data signature found.") {
		t.Errorf("up without meta data: exit %d %q", code, errOut)
	}
	p.ok(a, "down", "r0")
	p.ok(a, "create-md", "--force", "r0")
	p.ok(a, "up", "r0")
	p.ok(a, "primary", "--force", "r0")
	// An open export holds the device.
	w := dialNBD(t, daemon.NBDPath(a.rundir, "r0", 0))
	for _, cmd := range []string{"secondary", "down"} {
		_, errOut, code = p.adm_(a, cmd, "r0")
		if code != 11 || !strings.Contains(errOut, "State change failed: (-12) Device is held open by someone") {
			t.Errorf("%s with the export open: exit %d %q", cmd, code, errOut)
		}
	}
	w.c.Close()
	testutil.WaitFor(t, 5*time.Second, "secondary once the export is closed", func() bool {
		_, _, code := p.adm_(a, "secondary", "r0")
		return code == 0
	})
	if _, err := os.Stat(daemon.NBDPath(a.rundir, "r0", 0)); err == nil {
		t.Error("the export stays after secondary")
	}
}

func portOf(t *testing.T, conf string) string {
	b, _ := os.ReadFile(conf)
	i := strings.Index(string(b), "127.0.0.1:")
	rest := string(b)[i+len("127.0.0.1:"):]
	return rest[:strings.IndexByte(rest, ';')]
}

// TestInvalidate: invalidate on the secondary and invalidate-remote on
// the primary each make a full sync; so does invalidate-remote on the
// secondary, which makes the Primary its sync target.
func TestInvalidate(t *testing.T) {
	p := newPair(t, "C")
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	blocks := uint64(p.b.status().Devices[0].Size / 4)
	_, errOut, code := p.adm_(p.a, "verify", "r0")
	if code != 11 || !strings.Contains(errOut, "0: State change failed: (-14) Need a verify algorithm to start online verify") {
		t.Errorf("verify without verify-alg: exit %d %q", code, errOut)
	}
	for i, c := range []struct {
		n, target *node
		cmd       string
	}{{p.b, p.b, "invalidate"}, {p.a, p.b, "invalidate-remote"}, {p.b, p.a, "invalidate-remote"}} {
		before := c.target.status().Connections[0].PeerDevices[0].ResyncBlocksReceived
		p.ok(c.n, c.cmd, "r0")
		p.waitSynced()
		p.waitState(p.a, "cstate", "Connected")
		if got := c.target.status().Connections[0].PeerDevices[0].ResyncBlocksReceived - before; got != blocks {
			t.Errorf("%d: %s moved %d blocks, want %d", i, c.cmd, got, blocks)
		}
	}
	if got := p.ok(p.a, "role", "r0"); !strings.HasPrefix(got, "Primary/") {
		t.Errorf("alice after being the sync target: role %s", got)
	}
}

// TestFrozenPeer: a peer that stops answering (SIGSTOP) is dropped after
// timeout × ko-count; the write completes, its block is marked out of
// sync and moves when the peer is back, with the write the peer had
// acknowledged but not yet flushed (DRBD's transfer log), and not the
// one before the last flush.
func TestFrozenPeer(t *testing.T) {
	p := newPairNet(t, "C", "timeout 5; ko-count 2; ")
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	w := dialNBD(t, daemon.NBDPath(p.a.rundir, "r0", 0))
	defer w.c.Close()
	blk := make([]byte, 4096)
	rand.Read(blk)
	if err := w.write(1, 0, blk); err != nil {
		t.Fatal(err)
	}
	if err := w.flush(3); err != nil {
		t.Fatal(err)
	}
	if err := w.write(4, 4096, blk); err != nil {
		t.Fatal(err)
	}
	before := p.b.status().Connections[0].PeerDevices[0].ResyncBlocksReceived
	p.b.proc.Cmd.Process.Signal(syscall.SIGSTOP)
	testutil.WaitFor(t, 5*time.Second, "bob stopped", func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.b.proc.Cmd.Process.Pid))
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		return len(f) > 0 && f[0] == "T"
	})
	start := time.Now()
	err := w.write(2, 8192, blk)
	took := time.Since(start)
	// While bob is still frozen, alice's status says why she dropped him.
	if st := p.ok(p.a, "status", "r0"); !strings.Contains(st, "last-error: ") || !strings.Contains(st, "did not acknowledge a write") {
		t.Errorf("alice's status after dropping a frozen peer:\n%s", st)
	}
	p.b.proc.Cmd.Process.Signal(syscall.SIGCONT)
	if err != nil {
		t.Fatal(err)
	}
	if took > 5*time.Second {
		t.Errorf("the write waited %v for a frozen peer; timeout × ko-count is 1s", took)
	}
	p.waitSynced()
	if moved := p.b.status().Connections[0].PeerDevices[0].ResyncBlocksReceived - before; moved != 2 {
		t.Errorf("after the peer came back %d blocks moved, want 2: the one written meanwhile and the one not flushed before", moved)
	}
	t.Logf("write completed after %v with the peer frozen", took.Round(time.Millisecond))
}

// TestSplitBrain: both nodes written while apart is detected when they
// meet again; connect --discard-my-data on the victim resolves it, and
// the victim ends with the survivor's data.
func TestSplitBrain(t *testing.T) {
	p := newPair(t, "C")
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	p.ok(p.a, "disconnect", "r0")
	p.ok(p.b, "disconnect", "r0")
	p.ok(p.b, "primary", "r0")
	mine := make([]byte, 8192)
	rand.Read(mine)
	src := filepath.Join(t.TempDir(), "a")
	os.WriteFile(src, mine, 0o644)
	nbdcopy(t, src, p.a.nbdURI())
	theirs := make([]byte, 4096)
	rand.Read(theirs)
	src2 := filepath.Join(t.TempDir(), "b")
	os.WriteFile(src2, theirs, 0o644)
	nbdcopy(t, src2, p.b.nbdURI())
	p.ok(p.b, "secondary", "r0")

	p.ok(p.a, "connect", "r0")
	p.ok(p.b, "connect", "r0")
	testutil.WaitFor(t, 10*time.Second, "split brain detected", func() bool {
		return strings.Contains(p.a.proc.Output(), "Split-Brain detected") && strings.Contains(p.b.proc.Output(), "Split-Brain detected")
	})
	p.waitState(p.b, "cstate", "StandAlone")

	p.ok(p.b, "connect", "--discard-my-data", "r0")
	if got := p.ok(p.a, "cstate", "r0"); got == "StandAlone" {
		p.ok(p.a, "connect", "r0")
	}
	p.waitSynced()
	// The victim received the survivor's changed blocks and its own.
	if moved := p.b.status().Connections[0].PeerDevices[0].ResyncBlocksReceived; moved < 3 {
		t.Errorf("the victim received %d blocks, want at least 3", moved)
	}
	p.ok(p.a, "secondary", "r0")
	p.ok(p.b, "primary", "r0")
	dst := filepath.Join(t.TempDir(), "out")
	nbdcopy(t, p.b.nbdURI(), dst)
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got[:len(mine)], mine) {
		t.Fatal("the victim does not hold the survivor's data after the split brain")
	}
}

// TestFencePeer: with fencing resource-only, promoting a node whose peer
// is unreachable runs the fence-peer handler through godrbdadm, with
// DRBD's environment; exit 7 (peer fenced) lets the promotion go on,
// exit 1 refuses it with (-7).
func TestFencePeer(t *testing.T) {
	out := filepath.Join(t.TempDir(), "fenced")
	code := filepath.Join(t.TempDir(), "code")
	os.WriteFile(code, []byte("1"), 0o644)
	p := newPairWith(t, "C", "", fmt.Sprintf(`disk { fencing resource-only; }
  handlers { fence-peer "echo $DRBD_RESOURCE $DRBD_PEER_ADDRESS >> %s; exit $(cat %s)"; }`, out, code))
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	p.ok(p.a, "secondary", "r0")
	p.b.proc.Kill()
	p.waitState(p.a, "cstate", "WFConnection")

	_, errOut, rc := p.adm_(p.a, "primary", "r0")
	if rc != 11 || !strings.Contains(errOut, "0: State change failed: (-7) Refusing to be Primary while peer is not outdated") {
		t.Errorf("primary with a failing fence-peer handler: exit %d %q", rc, errOut)
	}
	os.WriteFile(code, []byte("7"), 0o644)
	p.ok(p.a, "primary", "r0")
	if got := p.ok(p.a, "dstate", "r0"); got != "UpToDate/Outdated" {
		t.Errorf("dstate after fencing: %q", got)
	}
	b, _ := os.ReadFile(out)
	if want := "r0 127.0.0.2\nr0 127.0.0.2\n"; string(b) != want {
		t.Errorf("the handler saw %q, want %q", b, want)
	}
}

// TestSecondDaemon: a second godrbd on the same rundir refuses to start
// and says why.
func TestSecondDaemon(t *testing.T) {
	p := newPair(t, "C")
	out, errOut, code := testutil.Run(t, nil, p.bin, "--rundir", p.a.rundir, "run")
	if code != 20 || !strings.Contains(errOut, "is in use: another daemon is already running") {
		t.Errorf("second godrbd: exit %d\n%s%s", code, out, errOut)
	}
	// The first one still answers.
	if got := p.ok(p.a, "role", "r0"); got != "Secondary/Secondary" && got != "Secondary/Unknown" {
		t.Errorf("role: %q", got)
	}
}

// TestWaitConnect: wait-connect waits for the peer, at most wfc-timeout
// seconds.
func TestWaitConnect(t *testing.T) {
	p := newPairWith(t, "C", "", "startup { wfc-timeout 1; }")
	p.ok(p.a, "wait-connect", "r0")
	p.b.proc.Kill()
	p.waitState(p.a, "cstate", "WFConnection")
	start := time.Now()
	_, errOut, code := p.adm_(p.a, "wait-connect", "r0")
	took := time.Since(start)
	if code == 0 || took < time.Second || took > 5*time.Second || !strings.Contains(errOut, "wfc-timeout") {
		t.Errorf("wait-connect without a peer: exit %d after %v: %q", code, took, errOut)
	}
	p.start(p.b)
	p.ok(p.b, "up", "r0")
	p.ok(p.a, "wait-connect", "r0")
	if got := p.ok(p.a, "cstate", "r0"); got != "Connected" {
		t.Errorf("cstate after wait-connect: %q", got)
	}
}

// TestDifferentSizes: the device is the smaller of the two disks.
func TestDifferentSizes(t *testing.T) {
	p := newPairSized(t, "C", "", "", diskSize, diskSize-2<<20)
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	sa, sb := p.a.status().Devices[0].Size, p.b.status().Devices[0].Size
	if sa != sb || sa > (diskSize-2<<20)/1024 {
		t.Errorf("sizes %d and %d KiB, want the smaller disk's on both", sa, sb)
	}
	if moved := p.b.status().Connections[0].PeerDevices[0].ResyncBlocksReceived; moved != uint64(sb/4) {
		t.Errorf("full sync moved %d blocks, want %d", moved, sb/4)
	}
	out, err := exec.Command("nbdinfo", "--size", p.a.nbdURI()).Output()
	if err != nil || strings.TrimSpace(string(out)) != fmt.Sprint(sb*1024) {
		t.Errorf("nbdinfo --size: %q %v, want %d", out, err, sb*1024)
	}

	// bob without a disk reconnects: alice's device keeps the agreed
	// size (it must not grow to her whole disk).
	p.ok(p.b, "detach", "r0")
	p.ok(p.b, "disconnect", "r0")
	p.ok(p.b, "connect", "r0")
	p.waitState(p.a, "cstate", "Connected")
	if got := p.a.status().Devices[0].Size; got != sa {
		t.Errorf("alice's device is %d KiB after a diskless peer connected, was %d", got, sa)
	}
	p.ok(p.b, "attach", "r0")
	p.waitSynced()

	// bob comes back with a smaller disk: alice's device holds data, so
	// it must not shrink while connecting (receive_sizes); she goes
	// StandAlone and says why.
	p.ok(p.b, "down", "r0")
	if err := os.Remove(p.b.disk); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.b.disk, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Truncate(p.b.disk, diskSize-4<<20)
	p.ok(p.b, "create-md", "r0")
	p.ok(p.b, "up", "r0")
	p.waitState(p.a, "cstate", "StandAlone")
	if !strings.Contains(p.a.proc.Output(), "The peer's disk size is too small!") {
		t.Error("alice's log does not say the peer's disk is too small")
	}
	if e := p.a.status().Connections[0].LastError; !strings.Contains(e, "is smaller than the device") {
		t.Errorf("status --json godrbd-last-error: %q", e)
	}
	if got := p.a.status().Devices[0].Size; got != sa {
		t.Errorf("alice's device is %d KiB after a smaller peer connected, was %d", got, sa)
	}
	if got := p.ok(p.a, "dstate", "r0"); !strings.HasPrefix(got, "UpToDate/") {
		t.Errorf("alice's disk: %s", got)
	}
}

// TestRestartKeepsState: after both daemons stop cleanly (SIGTERM) and
// start again, up finds the disks UpToDate and in sync: nothing moves,
// and either node can be promoted without --force.
func TestRestartKeepsState(t *testing.T) {
	p := newPair(t, "C")
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	data := make([]byte, 64<<10)
	rand.Read(data)
	src := filepath.Join(t.TempDir(), "data")
	os.WriteFile(src, data, 0o644)
	nbdcopy(t, src, p.a.nbdURI())
	for _, n := range []*node{p.a, p.b} {
		if !n.proc.Stop(10 * time.Second) {
			t.Fatalf("%s's godrbd did not stop on SIGTERM", n.name)
		}
	}
	// alice comes up with up, bob with adjust (as the systemd unit does).
	p.start(p.a)
	p.ok(p.a, "up", "r0")
	p.start(p.b)
	p.ok(p.b, "adjust", "r0")
	p.ok(p.b, "adjust", "r0") // nothing left to do
	p.waitState(p.a, "cstate", "Connected")
	p.waitSynced()
	if got := p.ok(p.a, "role", "r0"); got != "Secondary/Secondary" {
		t.Errorf("role after the restart: %q", got)
	}
	for _, n := range []*node{p.a, p.b} {
		pd := n.status().Connections[0].PeerDevices[0]
		if pd.ResyncBlocksReceived != 0 || pd.ResyncBlocksSent != 0 {
			t.Errorf("%s: %d blocks received, %d sent after a clean restart, want none", n.name, pd.ResyncBlocksReceived, pd.ResyncBlocksSent)
		}
	}
	p.ok(p.b, "primary", "r0")
	dst := filepath.Join(t.TempDir(), "out")
	nbdcopy(t, p.b.nbdURI(), dst)
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got[:len(data)], data) {
		t.Fatal("bob does not read back alice's data after the restart")
	}
	proc := p.ok(p.b, "proc")
	if !strings.Contains(proc, " 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----\n    ns:") {
		t.Errorf("godrbdadm proc:\n%s", proc)
	}
}

// TestVerify: online verify finds a block changed behind godrbd's back
// on the secondary's disk, marks it out of sync, and the next resync
// moves it back.
func TestVerify(t *testing.T) {
	p := newPairNet(t, "C", "verify-alg sha1; ")
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()

	// Change 4 KiB at 1 MiB on bob's backing file directly.
	f, err := os.OpenFile(p.b.disk, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 4096)
	rand.Read(junk)
	f.WriteAt(junk, 1<<20)
	f.Close()

	p.ok(p.a, "verify", "r0")
	p.waitState(p.a, "cstate", "Connected")
	p.waitState(p.b, "cstate", "Connected")
	if got := p.a.status().Connections[0].PeerDevices[0].OutOfSync; got != 4 {
		t.Fatalf("verify marked %d KiB out of sync, want 4", got)
	}
	if !strings.Contains(p.a.proc.Output(), "Online verify found 1 4k block out of sync!") {
		t.Error("no 'Online verify found' log line")
	}
	before := p.b.status().Connections[0].PeerDevices[0].ResyncBlocksReceived
	p.ok(p.a, "disconnect", "r0")
	p.ok(p.a, "connect", "r0")
	p.waitSynced()
	if moved := p.b.status().Connections[0].PeerDevices[0].ResyncBlocksReceived - before; moved != 1 {
		t.Errorf("the resync after verify moved %d blocks, want 1", moved)
	}
	a, _ := os.ReadFile(p.a.disk)
	b, _ := os.ReadFile(p.b.disk)
	if !bytes.Equal(a[1<<20:1<<20+4096], b[1<<20:1<<20+4096]) {
		t.Error("bob's block was not repaired")
	}
}

// TestSkipInitialSync: new-current-uuid --clear-bitmap on a fresh
// connected pair makes both disks UpToDate without a sync.
func TestSkipInitialSync(t *testing.T) {
	p := newPair(t, "C")
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "new-current-uuid", "--clear-bitmap", "r0")
	p.waitSynced()
	for _, n := range []*node{p.a, p.b} {
		pd := n.status().Connections[0].PeerDevices[0]
		if pd.ResyncBlocksReceived != 0 || pd.ResyncBlocksSent != 0 || pd.OutOfSync != 0 {
			t.Errorf("%s: %+v, want no resync and nothing out of sync", n.name, pd)
		}
	}
	gi := func(n *node) string { return strings.SplitN(p.ok(n, "get-gi", "r0"), ":", 2)[0] }
	if a, b := gi(p.a), gi(p.b); a != b {
		t.Errorf("current UUIDs differ: %s and %s", a, b)
	}
	p.ok(p.b, "primary", "r0")
}

// TestTwoVolumes: both volumes of a resource sync and replicate, each
// with its own NBD export.
func TestTwoVolumes(t *testing.T) {
	needTool(t, "nbdcopy")
	p := &pair{t: t, adm: testutil.Bin(t, "godrbdadm"), bin: testutil.Bin(t, "godrbd")}
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "drbd.conf")
	disks := map[string][2]string{}
	for _, name := range []string{"alice", "bob"} {
		os.MkdirAll(filepath.Join(dir, name), 0o755)
		var d [2]string
		for i := range d {
			d[i] = filepath.Join(dir, name, fmt.Sprintf("disk%d", i))
			os.WriteFile(d[i], nil, 0o644)
			os.Truncate(d[i], 4<<20)
		}
		disks[name] = d
	}
	host := func(name, ip string) string {
		d := disks[name]
		return fmt.Sprintf(`  on %s { address %s:%d;
    volume 0 { device /dev/drbd0; disk %s; meta-disk internal; }
    volume 1 { device /dev/drbd1; disk %s; meta-disk internal; }
  }
`, name, ip, port, d[0], d[1])
	}
	text := "global { disable-ip-verification; }\nresource r0 {\n  protocol C;\n" + host("alice", "127.0.0.1") + host("bob", "127.0.0.2") + "}\n"
	os.WriteFile(conf, []byte(text), 0o644)
	p.a = &node{t: t, name: "alice", dir: filepath.Join(dir, "alice"), rundir: filepath.Join(dir, "alice", "run"), conf: conf}
	p.b = &node{t: t, name: "bob", dir: filepath.Join(dir, "bob"), rundir: filepath.Join(dir, "bob", "run"), conf: conf}
	for _, n := range []*node{p.a, p.b} {
		p.start(n)
		p.ok(n, "create-md", "r0")
		p.ok(n, "up", "r0")
	}
	both := "UpToDate/UpToDate\nUpToDate/UpToDate"
	p.waitState(p.a, "cstate", "Connected\nConnected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitState(p.a, "dstate", both)
	p.waitState(p.b, "dstate", both)

	var want [2][]byte
	for vnr := range want {
		want[vnr] = make([]byte, 256<<10)
		rand.Read(want[vnr])
		src := filepath.Join(t.TempDir(), "data")
		os.WriteFile(src, want[vnr], 0o644)
		nbdcopy(t, src, "nbd+unix:///?socket="+daemon.NBDPath(p.a.rundir, "r0", vnr))
	}
	p.ok(p.a, "secondary", "r0")
	p.ok(p.b, "primary", "r0")
	for vnr := range want {
		dst := filepath.Join(t.TempDir(), "out")
		nbdcopy(t, "nbd+unix:///?socket="+daemon.NBDPath(p.b.rundir, "r0", vnr), dst)
		got, _ := os.ReadFile(dst)
		if !bytes.Equal(got[:len(want[vnr])], want[vnr]) {
			t.Errorf("volume %d: bob does not read back what alice wrote", vnr)
		}
	}
	st := p.ok(p.b, "status", "r0")
	if wantSt := "r0 role:Primary\n  volume:0 disk:UpToDate\n  volume:1 disk:UpToDate\n  alice role:Secondary\n    volume:0 replication:Established peer-disk:UpToDate\n    volume:1 replication:Established peer-disk:UpToDate"; st != wantSt {
		t.Errorf("status:\n%s\nwant:\n%s", st, wantSt)
	}
}

// TestResyncRateAndPause: the fixed-rate controller (c-plan-ahead 0)
// holds the resync to resync-rate, and pause-sync on the target stops
// it until resume-sync.
func TestResyncRateAndPause(t *testing.T) {
	p := newPairWith(t, "C", "", "disk { c-plan-ahead 0; resync-rate 8M; }")
	p.waitState(p.a, "cstate", "Connected")
	start := time.Now()
	p.ok(p.a, "primary", "--force", "r0")
	p.waitState(p.b, "cstate", "SyncTarget")
	p.ok(p.b, "pause-sync", "r0")
	oos := func() uint64 { return p.b.status().Connections[0].PeerDevices[0].OutOfSync }
	before := oos()
	time.Sleep(500 * time.Millisecond) // observe that nothing moves while paused
	if after := oos(); after < before-rsWindowKiB {
		t.Errorf("the resync went on while paused: %d KiB out of sync, then %d", before, after)
	}
	if before == 0 {
		t.Fatal("the resync finished before it could be paused")
	}
	p.ok(p.b, "resume-sync", "r0")
	p.waitSynced()
	// 8 MiB at 8 MiB/s, less the pause: at least half a second of syncing.
	if took := time.Since(start) - 500*time.Millisecond; took < 500*time.Millisecond {
		t.Errorf("the resync of 8 MiB at 8 MiB/s took only %v", took)
	}
}

// rsWindowKiB is what may still arrive after a pause: the requests in
// flight.
const rsWindowKiB = 16 * 128

// TestWritesDuringResync: writes that race with a resync of the same
// blocks leave both disks identical.
func TestWritesDuringResync(t *testing.T) {
	p := newPairWith(t, "C", "", "disk { c-plan-ahead 0; resync-rate 16M; }")
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	p.ok(p.a, "disconnect", "r0")
	write := func(off int64, n int) {
		data := make([]byte, n)
		rand.Read(data)
		w := dialNBD(t, daemon.NBDPath(p.a.rundir, "r0", 0))
		defer w.c.Close()
		for o := 0; o < n; o += 64 << 10 {
			if err := w.write(uint64(o), uint64(off)+uint64(o), data[o:o+64<<10]); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(0, 4<<20)
	p.ok(p.a, "connect", "r0")
	p.waitState(p.a, "cstate", "SyncSource")
	write(2<<20, 4<<20) // overlaps the blocks being resynced
	p.waitSynced()
	size := p.a.status().Devices[0].Size * 1024
	a, _ := os.ReadFile(p.a.disk)
	b, _ := os.ReadFile(p.b.disk)
	if !bytes.Equal(a[:size], b[:size]) {
		for i := int64(0); i < size; i += 4096 {
			if !bytes.Equal(a[i:i+4096], b[i:i+4096]) {
				t.Fatalf("the disks differ, first at block %d", i/4096)
			}
		}
	}
}

// TestDetachAttach: a secondary that detaches and attaches again while
// connected renegotiates (Negotiating) and receives only the blocks
// written meanwhile.
func TestDetachAttach(t *testing.T) {
	p := newPair(t, "C")
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	p.ok(p.b, "detach", "r0")
	if got := p.ok(p.a, "dstate", "r0"); got != "UpToDate/Diskless" {
		t.Errorf("dstate with the peer detached: %q", got)
	}
	data := make([]byte, 8192)
	rand.Read(data)
	src := filepath.Join(t.TempDir(), "d")
	os.WriteFile(src, data, 0o644)
	nbdcopy(t, src, p.a.nbdURI())
	if got := p.a.status().Connections[0].PeerDevices[0].OutOfSync; got != 8 {
		t.Errorf("out of sync with the peer diskless: %d KiB, want 8", got)
	}
	before := p.b.status().Connections[0].PeerDevices[0].ResyncBlocksReceived
	p.ok(p.b, "attach", "r0")
	p.waitSynced()
	if moved := p.b.status().Connections[0].PeerDevices[0].ResyncBlocksReceived - before; moved != 2 {
		t.Errorf("after attach %d blocks moved, want 2", moved)
	}
	a, _ := os.ReadFile(p.a.disk)
	b, _ := os.ReadFile(p.b.disk)
	if !bytes.Equal(a[:8192], b[:8192]) || !bytes.Equal(b[:8192], data) {
		t.Error("bob does not hold the blocks written while it was detached")
	}
}

// TestTwoPrimaries: with allow-two-primaries both nodes are Primary and
// each one's writes reach the other.
func TestTwoPrimaries(t *testing.T) {
	p := newPairNet(t, "C", "allow-two-primaries; ")
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	p.ok(p.b, "primary", "r0")
	if got := p.ok(p.a, "role", "r0"); got != "Primary/Primary" {
		t.Fatalf("role: %q", got)
	}
	var want [2][]byte
	for i, n := range []*node{p.a, p.b} {
		want[i] = make([]byte, 64<<10)
		rand.Read(want[i])
		w := dialNBD(t, daemon.NBDPath(n.rundir, "r0", 0))
		if err := w.write(1, uint64(i)<<20, want[i]); err != nil {
			t.Fatal(err)
		}
		w.c.Close()
	}
	for _, n := range []*node{p.a, p.b} {
		dst := filepath.Join(t.TempDir(), "out")
		nbdcopy(t, n.nbdURI(), dst)
		got, _ := os.ReadFile(dst)
		for i := range want {
			if !bytes.Equal(got[i<<20:i<<20+len(want[i])], want[i]) {
				t.Errorf("%s lacks the write made on %s", n.name, []string{"alice", "bob"}[i])
			}
		}
	}
}
