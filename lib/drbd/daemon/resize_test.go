package daemon_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/meta"
	"github.com/linux-ha-go/ha/lib/testutil"
)

const (
	rsDisk = 4 << 20 // backing files before the resize
	rsGrow = 8 << 20 // what they grow by
)

// usable is the device size a file of size bytes with internal meta data
// gives.
func usable(t *testing.T, size uint64) int64 {
	l, err := meta.NewLayout(meta.Internal, size)
	if err != nil {
		t.Fatal(err)
	}
	return int64(l.MaxUsableSect*512) &^ 4095
}

func grow(t *testing.T, n *node, by int64) {
	t.Helper()
	st, err := os.Stat(n.disk)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(n.disk, st.Size()+by); err != nil {
		t.Fatal(err)
	}
}

// scribble writes random bytes into n's backing file at off, below the
// device (as a grown LV may hold old data there).
func scribble(t *testing.T, n *node, off int64, size int) {
	t.Helper()
	f, err := os.OpenFile(n.disk, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, size)
	rand.Read(b)
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func (p *pair) waitSize(want int64) {
	p.t.Helper()
	testutil.WaitFor(p.t, 20*time.Second, fmt.Sprintf("device size %d KiB on both", want>>10), func() bool {
		return p.a.status().Devices[0].Size == want>>10 && p.b.status().Devices[0].Size == want>>10
	})
}

// syncedPair is a pair of rsDisk files (extra: more drbd.conf), alice
// Primary and both UpToDate.
func syncedPair(t *testing.T, extra string) *pair {
	t.Helper()
	return newPairSized(t, "C", "", extra, rsDisk, rsDisk).promoted()
}

// grownTo waits until both devices have nw bytes and are in sync, and
// checks that the resync since base moved want blocks and that the two
// data areas agree.
func (p *pair) grownTo(nw int64, base, want uint64) {
	p.t.Helper()
	p.waitSize(nw)
	p.waitSynced()
	if moved := rsReceived(p.b) - base; moved != want {
		p.t.Errorf("the resync after the grow to %d KiB moved %d blocks, want %d", nw>>10, moved, want)
	}
	if dataHash(p.t, p.a) != dataHash(p.t, p.b) {
		p.t.Error("the data areas differ after the grow")
	}
}

func rsReceived(n *node) uint64 {
	return n.status().Connections[0].PeerDevices[0].ResyncBlocksReceived
}

func nbdSize(t *testing.T, n *node) string {
	t.Helper()
	out, err := exec.Command("nbdinfo", "--size", n.nbdURI()).Output()
	if err != nil {
		t.Fatalf("nbdinfo --size: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestOnlineResize: both backing files grow; resize on the Primary moves
// both nodes' meta data to the new ends, the device grows to the smaller
// new size on both, the new area (and only it) is resynced from the
// Primary, the old data stays, and new NBD connections see the new size.
// Before the peer's disk grew, resize leaves the size alone and says why.
func TestOnlineResize(t *testing.T) {
	needTool(t, "nbdinfo")
	p := syncedPair(t, "")
	old := usable(t, rsDisk)
	if s := p.a.status().Devices[0].Size; s != old>>10 {
		t.Fatalf("size %d KiB, want %d", s, old>>10)
	}
	head := writeBlocks(t, p.a, 0, 64)
	tail := writeBlocks(t, p.a, old-8192, 2)
	base := rsReceived(p.b)

	// Nothing grew: nothing changes.
	p.ok(p.a, "resize", "r0")
	if s := p.a.status().Devices[0].Size; s != old>>10 {
		t.Fatalf("resize without growth: size %d KiB, want %d", s, old>>10)
	}

	// Only alice's disk grew: the device waits for bob's.
	grow(t, p.a, rsGrow)
	_, errOut, code := p.adm_(p.a, "resize", "r0")
	if code != 0 || !strings.Contains(errOut, "grow the peer's backing disk and run resize again") {
		t.Fatalf("resize with the peer's disk not grown: exit %d\n%s", code, errOut)
	}
	if s := p.b.status().Devices[0].Size; s != old>>10 {
		t.Fatalf("bob's size %d KiB, want %d", s, old>>10)
	}

	// bob's disk grows too, with old data in the new area.
	grow(t, p.b, rsGrow)
	scribble(t, p.b, rsDisk, 1<<20)
	p.ok(p.a, "resize", "r0")
	nw := usable(t, rsDisk+rsGrow)
	p.grownTo(nw, base, uint64(nw-old)/4096)
	if got := nbdSize(t, p.a); got != fmt.Sprint(nw) {
		t.Errorf("nbdinfo --size: %s, want %d", got, nw)
	}
	for _, n := range []*node{p.a, p.b} {
		if !bytes.Equal(region(t, n, 0, len(head)), head) || !bytes.Equal(region(t, n, old-8192, len(tail)), tail) {
			t.Errorf("%s: the old data changed", n.name)
		}
	}
	// The new area replicates like the rest.
	last := writeBlocks(t, p.a, nw-4096, 1)
	if !bytes.Equal(region(t, p.b, nw-4096, 4096), last) {
		t.Error("a write at the new end did not reach bob")
	}
	// The meta data is at the new ends, with the new la-size.
	for _, n := range []*node{p.a, p.b} {
		out := p.ok(n, "status", "r0")
		if !strings.Contains(out, "UpToDate") {
			t.Errorf("%s status: %s", n.name, out)
		}
	}
	proc, err := os.ReadFile(p.a.rundir + "/proc")
	if err != nil || !strings.Contains(string(proc), "ds:UpToDate/UpToDate") {
		t.Errorf("proc: %v\n%s", err, proc)
	}
	// After a restart both nodes find their meta data at the new end.
	p.ok(p.a, "secondary", "r0")
	for _, n := range []*node{p.a, p.b} {
		p.ok(n, "down", "r0")
		md, err := meta.Open(n.disk, meta.Internal, false)
		if err != nil {
			t.Fatal(err)
		}
		sb, err := md.Read()
		md.Close()
		if err != nil || sb.LaSizeSect != uint64(nw/512) {
			t.Fatalf("%s: meta data after the resize: %v, la-size-sect %v, want %d", n.name, err, sb, nw/512)
		}
	}
}

// TestResizeAssumeClean: with --assume-clean nothing is resynced; the
// device grows on both nodes.
func TestResizeAssumeClean(t *testing.T) {
	p := syncedPair(t, "")
	base := rsReceived(p.b)
	grow(t, p.a, rsGrow)
	grow(t, p.b, rsGrow)
	p.ok(p.a, "resize", "--assume-clean", "r0")
	nw := usable(t, rsDisk+rsGrow)
	// Nothing moves; both grown areas were zero: the data areas agree.
	p.grownTo(nw, base, 0)
	for _, n := range []*node{p.a, p.b} {
		if oos := n.status().Connections[0].PeerDevices[0].OutOfSync; oos != 0 {
			t.Errorf("%s: %d KiB out of sync after --assume-clean", n.name, oos)
		}
	}

	// --size beyond the disks is refused; --size below shrinks both.
	_, errOut, code := p.adm_(p.a, "resize", "--size=1G", "r0")
	if code != 10 || !strings.Contains(errOut, "0: Failure: (111) Low.dev. smaller than requested DRBD-dev. size.") {
		t.Errorf("resize --size=1G: exit %d\n%s", code, errOut)
	}
	p.ok(p.a, "resize", "--size=6M", "r0")
	p.waitSize(6 << 20)
	// Without --size it grows back; that area is resynced.
	base = rsReceived(p.b)
	p.ok(p.a, "resize", "r0")
	p.grownTo(nw, base, uint64(nw-6<<20)/4096)

	// --size lasts until the resource goes down, as in DRBD (where the
	// configuration's size is the lasting one): up finds the device at
	// its last agreed size, and the connection grows it to the disks'
	// and resyncs the new area (DRBD's resync after negotiation).
	p.ok(p.a, "resize", "--size=6M", "r0")
	p.waitSize(6 << 20)
	p.ok(p.a, "secondary", "r0")
	for _, n := range []*node{p.a, p.b} {
		p.ok(n, "down", "r0")
	}
	p.ok(p.a, "up", "r0")
	if s := p.a.status().Devices[0].Size; s != 6<<10 {
		t.Errorf("after up, before connecting: %d KiB, want the last agreed 6144", s)
	}
	p.ok(p.b, "up", "r0")
	p.grownTo(nw, 0, uint64(nw-6<<20)/4096)
}

// TestResizeFromSecondary: resize runs on the Secondary too; the Primary
// is still the one the new area is resynced from.
func TestResizeFromSecondary(t *testing.T) {
	p := syncedPair(t, "")
	base := rsReceived(p.b)
	grow(t, p.a, rsGrow)
	grow(t, p.b, rsGrow)
	scribble(t, p.b, rsDisk, 1<<20)
	p.ok(p.b, "resize", "r0")
	old, nw := usable(t, rsDisk), usable(t, rsDisk+rsGrow)
	p.grownTo(nw, base, uint64(nw-old)/4096)
}

// TestResizeRefusals: DRBD's refusals (no Primary, a resync running), a
// resize of a resource that is down, and a disk that grew while down.
func TestResizeRefusals(t *testing.T) {
	p := newPairSized(t, "C", "", "disk { c-plan-ahead 0; resync-rate 256k; }", rsDisk, rsDisk)
	p.waitState(p.a, "cstate", "Connected")
	_, errOut, code := p.adm_(p.a, "resize", "r0")
	if code != 10 || !strings.Contains(errOut, "0: Failure: (131) Need one Primary node to resize.") {
		t.Errorf("resize without a Primary: exit %d\n%s", code, errOut)
	}
	_, errOut, code = p.adm_(p.a, "resize", "--size=ten", "r0")
	if code != 1 || !strings.Contains(errOut, "--size=ten: not a size") {
		t.Errorf("resize --size=ten: exit %d\n%s", code, errOut)
	}
	p.ok(p.a, "primary", "--force", "r0")
	p.waitState(p.a, "cstate", "SyncSource")
	_, errOut, code = p.adm_(p.a, "resize", "r0")
	if code != 10 || !strings.Contains(errOut, "0: Failure: (130) Resize not allowed during resync.") {
		t.Errorf("resize during the resync: exit %d\n%s", code, errOut)
	}
	_, errOut, code = p.adm_(p.a, "resize", "--size=1G", "r0")
	if code != 10 || !strings.Contains(errOut, "(130)") {
		t.Errorf("resize --size=1G during the resync: exit %d\n%s", code, errOut)
	}

	p.ok(p.a, "secondary", "r0")
	p.ok(p.b, "down", "r0")
	_, errOut, code = p.adm_(p.b, "resize", "r0")
	if code != 10 || !strings.Contains(errOut, "not up") || !strings.Contains(errOut, "hint: grow the backing disks on both nodes") {
		t.Errorf("resize of a resource that is down: exit %d\n%s", code, errOut)
	}
	// bob's disk grows while down: check-resize says where the meta data
	// is, and up still finds it.
	grow(t, p.b, rsGrow)
	_, errOut, code = p.adm_(p.b, "check-resize", "r0")
	if code != 0 || !strings.Contains(errOut, "moves at the next online resize") {
		t.Errorf("check-resize after growing while down: exit %d\n%s", code, errOut)
	}
	p.ok(p.b, "up", "r0")
	if got := p.ok(p.b, "dstate", "r0"); strings.HasPrefix(got, "Diskless") {
		t.Errorf("up after the disk grew while down: dstate %s", got)
	}
	if s := p.b.status().Devices[0].Size; s > usable(t, rsDisk)>>10 || s == 0 {
		t.Errorf("bob's device after up: %d KiB, want at most the old %d", s, usable(t, rsDisk)>>10)
	}
}

// TestResizeDisconnected: a disconnected Primary grows only with
// --assume-peer-has-space; at the next connection the peer, whose disk
// grew too, takes the new size and the new area (with what the Primary
// wrote there meanwhile) is resynced.
func TestResizeDisconnected(t *testing.T) {
	p := syncedPair(t, "")
	p.ok(p.a, "disconnect", "r0")
	p.ok(p.b, "disconnect", "r0")
	grow(t, p.a, rsGrow)
	grow(t, p.b, rsGrow)
	scribble(t, p.b, rsDisk, 1<<20)
	old, nw := usable(t, rsDisk), usable(t, rsDisk+rsGrow)
	_, errOut, code := p.adm_(p.a, "resize", "r0")
	if code != 0 || !strings.Contains(errOut, "not connected") || p.a.status().Devices[0].Size != old>>10 {
		t.Fatalf("disconnected resize: exit %d, size %d KiB\n%s", code, p.a.status().Devices[0].Size, errOut)
	}
	p.ok(p.a, "resize", "--assume-peer-has-space", "r0")
	if s := p.a.status().Devices[0].Size; s != nw>>10 {
		t.Fatalf("forced resize: size %d KiB, want %d", s, nw>>10)
	}
	last := writeBlocks(t, p.a, nw-4096, 1)
	p.ok(p.a, "connect", "r0")
	p.ok(p.b, "connect", "r0")
	p.waitSize(nw)
	p.waitSynced()
	if !bytes.Equal(region(t, p.b, nw-4096, 4096), last) {
		t.Error("the block written at the new end while apart did not reach bob")
	}
	if dataHash(t, p.a) != dataHash(t, p.b) {
		t.Error("the data areas differ after the reconnection")
	}
}

// TestResizeConfigSize: the disk section's size caps resize and lasts
// across down and up.
func TestResizeConfigSize(t *testing.T) {
	p := syncedPair(t, "disk { size 6M; }")
	p.waitSize(usable(t, rsDisk))
	grow(t, p.a, rsGrow)
	grow(t, p.b, rsGrow)
	p.ok(p.a, "resize", "r0")
	p.waitSize(6 << 20)
	p.waitSynced()
	p.ok(p.a, "secondary", "r0")
	for _, n := range []*node{p.a, p.b} {
		p.ok(n, "down", "r0")
	}
	for _, n := range []*node{p.a, p.b} {
		p.ok(n, "up", "r0")
	}
	p.waitState(p.a, "cstate", "Connected")
	p.waitSynced()
	for _, n := range []*node{p.a, p.b} {
		if s := n.status().Devices[0].Size; s != 6<<10 {
			t.Errorf("%s after down and up: %d KiB, want 6144", n.name, s)
		}
	}
}

// TestResizeExternalMeta: with external meta data nothing moves; the
// bitmap grows within the meta-data device and the new area is resynced.
func TestResizeExternalMeta(t *testing.T) {
	needTool(t, "nbdcopy")
	p := &pair{t: t, adm: testutil.Bin(t, "godrbdadm"), bin: testutil.Bin(t, "godrbd")}
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "drbd.conf")
	mk := func(name string) *node {
		n := &node{t: t, name: name, dir: filepath.Join(dir, name), conf: conf}
		n.rundir = filepath.Join(n.dir, "run")
		n.disk = filepath.Join(n.dir, "disk")
		os.MkdirAll(n.dir, 0o755)
		for f, size := range map[string]int64{n.disk: rsDisk, filepath.Join(n.dir, "md"): 1 << 20} {
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			os.Truncate(f, size)
		}
		return n
	}
	p.a, p.b = mk("alice"), mk("bob")
	text := fmt.Sprintf(`global { disable-ip-verification; usage-count no; }
resource r0 {
  on alice { device /dev/drbd0; disk %s; address 127.0.0.1:%d; meta-disk %s; }
  on bob   { device /dev/drbd0; disk %s; address 127.0.0.2:%d; meta-disk %s; }
}
`, p.a.disk, port, filepath.Join(p.a.dir, "md"), p.b.disk, port, filepath.Join(p.b.dir, "md"))
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*node{p.a, p.b} {
		p.start(n)
		p.ok(n, "create-md", "--force", "r0")
		p.ok(n, "up", "r0")
	}
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	p.waitSize(rsDisk)
	base := rsReceived(p.b)
	grow(t, p.a, rsGrow)
	grow(t, p.b, rsGrow)
	scribble(t, p.b, rsDisk, 1<<20)
	p.ok(p.a, "resize", "r0")
	p.grownTo(rsDisk+rsGrow, base, uint64(rsGrow/4096))
	// The meta data records the new size.
	p.ok(p.a, "secondary", "r0")
	p.ok(p.a, "down", "r0")
	md, err := meta.Open(filepath.Join(p.a.dir, "md"), meta.FlexExternal, false)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	if sb, err := md.Read(); err != nil || sb.LaSizeSect != (rsDisk+rsGrow)/512 {
		t.Errorf("external meta data after the resize: %v %+v", err, sb)
	}
}
