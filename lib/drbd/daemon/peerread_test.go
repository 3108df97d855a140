package daemon_test

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/daemon"
	"github.com/linux-ha-go/ha/lib/testutil"
)

// read is one NBD_CMD_READ; an error reply is returned as an error.
func (w *nbdWriter) read(handle, off uint64, n int) ([]byte, error) {
	be := binary.BigEndian
	b := be.AppendUint32(nil, 0x25609513)
	b = be.AppendUint16(b, 0)
	b = be.AppendUint16(b, 0) // NBD_CMD_READ
	b = be.AppendUint64(b, handle)
	b = be.AppendUint64(b, off)
	b = be.AppendUint32(b, uint32(n))
	if _, err := w.c.Write(b); err != nil {
		return nil, err
	}
	var rep [16]byte
	if _, err := io.ReadFull(w.c, rep[:]); err != nil {
		return nil, err
	}
	if e := be.Uint32(rep[4:]); e != 0 {
		return nil, fmt.Errorf("nbd error %d", e)
	}
	data := make([]byte, n)
	_, err := io.ReadFull(w.c, data)
	return data, err
}

// dataArea is the first size bytes of a node's backing file: the data
// (the meta data is internal, at the end).
func dataArea(t *testing.T, n *node, size int64) []byte {
	t.Helper()
	b, err := os.ReadFile(n.disk)
	if err != nil {
		t.Fatal(err)
	}
	return b[:size]
}

func firstDiff(a, b []byte) int64 {
	for i := 0; i < len(a); i += 4096 {
		if !bytes.Equal(a[i:min(i+4096, len(a))], b[i:min(i+4096, len(b))]) {
			return int64(i / 4096)
		}
	}
	return -1
}

// TestDisklessPrimary: a node that detached its disk is promoted while
// connected to an UpToDate peer; it reads the peer's data and its writes
// land on the peer's disk. Losing the connection gives I/O errors and a
// status that says why; a disk attached later is resynced with the
// blocks written meanwhile.
func TestDisklessPrimary(t *testing.T) {
	p := newPair(t, "C")
	data := p.primaryWithData()
	size := int64(len(data))

	p.ok(p.b, "detach", "r0")
	p.waitState(p.b, "dstate", "Diskless/UpToDate")
	// alice is Primary: a second one is refused, diskless or not.
	if _, errOut, code := p.adm_(p.b, "primary", "r0"); code != 11 || !strings.Contains(errOut, "(-1) Multiple primaries") {
		t.Fatalf("primary while the peer is Primary: exit %d, %q", code, errOut)
	}
	p.ok(p.a, "secondary", "r0")
	p.ok(p.b, "primary", "r0")
	if got := p.ok(p.b, "role", "r0"); got != "Primary/Secondary" {
		t.Fatalf("role on bob: %q", got)
	}

	// Every block comes from alice.
	dst := filepath.Join(t.TempDir(), "out")
	nbdcopy(t, p.b.nbdURI(), dst)
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got, data) {
		t.Fatalf("bob (diskless) reads other data than alice holds, first at block %d", firstDiff(got, data))
	}

	// A write through bob lands on alice's disk, and bob reads it back.
	w := dialNBD(t, daemon.NBDPath(p.b.rundir, "r0", 0))
	defer w.c.Close()
	blk := make([]byte, 64<<10)
	rand.Read(blk)
	const off = 1<<20 + 512 // not 4 KiB aligned
	if err := w.write(1, off, blk); err != nil {
		t.Fatal(err)
	}
	copy(data[off:], blk)
	if a := dataArea(t, p.a, size); !bytes.Equal(a[off:off+len(blk)], blk) {
		t.Fatal("a write through the diskless Primary is not on alice's disk")
	}
	if back, err := w.read(2, off-100, len(blk)+200); err != nil || !bytes.Equal(back, data[off-100:off+len(blk)+100]) {
		t.Fatalf("unaligned read back through bob: %v", err)
	}
	if oos := p.a.status().Connections[0].PeerDevices[0].OutOfSync; oos < 64 {
		t.Errorf("alice marks %d KiB out of sync for the diskless peer's write, want ≥ 64", oos)
	}

	// The connection goes: bob stays Primary without data.
	p.ok(p.a, "disconnect", "r0")
	p.waitState(p.b, "cstate", "WFConnection")
	if _, err := w.read(3, 0, 4096); err == nil {
		t.Error("bob served a read with no data in reach")
	}
	if err := w.write(4, 0, blk[:4096]); err == nil {
		t.Error("bob acknowledged a write with no data in reach")
	}
	text := p.ok(p.b, "status", "r0")
	if !strings.Contains(text, "disk:Diskless\n    no-data: Diskless Primary without a connection") {
		t.Errorf("status does not say why I/O fails:\n%s", text)
	}
	if st := p.b.status(); !strings.Contains(st.Devices[0].NoData, "Diskless Primary") {
		t.Errorf("status --json godrbd-no-data: %q", st.Devices[0].NoData)
	}
	w.c.Close()

	// bob's old disk is not the data it exposed: it may not attach it
	// while Primary without the peer.
	if _, errOut, code := p.adm_(p.b, "attach", "r0"); code == 0 || !strings.Contains(errOut, "Can only attach to the data we lost last") {
		t.Errorf("attaching an old disk to the diskless Primary: exit %d, %q", code, errOut)
	}
	// alice's data becomes another generation meanwhile: bob does not
	// connect to it (it would change the data under its users).
	p.ok(p.a, "new-current-uuid", "r0")
	p.ok(p.a, "connect", "r0")
	p.waitState(p.b, "cstate", "StandAlone")

	// bob demotes, connects, attaches its old disk and gets the current
	// data, with what it wrote while diskless.
	p.ok(p.b, "secondary", "r0")
	p.ok(p.b, "connect", "r0")
	p.waitState(p.b, "dstate", "Diskless/UpToDate")
	p.ok(p.b, "attach", "r0")
	p.waitSynced()
	a, b := dataArea(t, p.a, size), dataArea(t, p.b, size)
	if !bytes.Equal(a, data) {
		t.Fatalf("alice's disk differs from what was written, first at block %d", firstDiff(a, data))
	}
	if !bytes.Equal(b, a) {
		t.Fatalf("bob's re-attached disk differs from alice's, first at block %d", firstDiff(b, a))
	}
}

// TestSyncTargetPrimary: an Inconsistent SyncTarget is promoted while
// a slow resync runs; it reads the source's data (in-sync blocks
// locally, the rest from the peer), and its writes, racing with the
// resync of the same blocks, land on both disks.
func TestSyncTargetPrimary(t *testing.T) {
	const size32 = 32 << 20
	p := newPairSized(t, "C", "", "disk { c-plan-ahead 0; resync-rate 3M; }", size32, size32)
	p.waitState(p.a, "cstate", "Connected")
	size := p.a.status().Devices[0].Size * 1024
	// alice's data, before the initial sync copies it.
	data := make([]byte, size)
	rand.Read(data)
	f, err := os.OpenFile(p.a.disk, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(data, 0)
	f.Close()

	p.ok(p.a, "primary", "--force", "r0")
	p.waitState(p.b, "cstate", "SyncTarget")
	// bob cannot be Primary next to alice (no allow-two-primaries).
	if _, errOut, code := p.adm_(p.b, "primary", "r0"); code != 11 || !strings.Contains(errOut, "(-1) Multiple primaries") {
		t.Fatalf("SyncTarget primary next to a Primary: exit %d, %q", code, errOut)
	}
	p.ok(p.a, "secondary", "r0")
	oos := func() int64 { return int64(p.b.status().Connections[0].PeerDevices[0].OutOfSync) * 1024 }
	// Let part of the disk be in sync, so that reads mix both sources.
	testutil.WaitFor(t, 20*time.Second, "a tenth of the resync", func() bool { return oos() < size*9/10 })
	p.ok(p.b, "primary", "r0")
	if got := p.ok(p.b, "dstate", "r0"); got != "Inconsistent/UpToDate" {
		t.Fatalf("bob promoted, dstate %q", got)
	}

	before := p.b.status()
	dst := filepath.Join(t.TempDir(), "out")
	nbdcopy(t, p.b.nbdURI(), dst)
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got, data) {
		t.Fatalf("bob (SyncTarget) reads other data than alice holds, first at block %d", firstDiff(got, data))
	}
	// Both sources served: the blocks in sync from bob's disk, the
	// others from alice.
	after := p.b.status()
	local := after.Devices[0].Read - before.Devices[0].Read
	remote := after.Connections[0].PeerDevices[0].Received - before.Connections[0].PeerDevices[0].Received
	if local == 0 || remote == 0 || local+remote < uint64(size/1024) {
		t.Errorf("reading %d KiB: %d KiB from the local disk, %d KiB from the peer", size/1024, local, remote)
	}
	t.Logf("read %d KiB: %d KiB locally; %d KiB received from the peer meanwhile (reads and resync)", size/1024, local, remote)

	// Writes at the resync's front, again and again, race with the
	// resync requests of the same blocks. The full sync requests the
	// blocks in order, so the next request starts after the blocks
	// received so far.
	w := dialNBD(t, daemon.NBDPath(p.b.rundir, "r0", 0))
	defer w.c.Close()
	buf := make([]byte, 16<<10)
	writes := 0
	// For 3 seconds at most, and not beyond three quarters of the disk:
	// the last blocks must still be out of sync below.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && oos() > size/4 {
		front := int64(p.b.status().Connections[0].PeerDevices[0].ResyncBlocksReceived) * 4096
		for i := int64(0); i < 32; i++ {
			off := front + (i%8)*int64(len(buf))
			if off+int64(len(buf)) > size {
				continue
			}
			rand.Read(buf)
			if err := w.write(uint64(writes), uint64(off), buf); err != nil {
				t.Fatal(err)
			}
			copy(data[off:], buf)
			writes++
		}
	}
	if c := p.ok(p.b, "cstate", "r0"); c != "SyncTarget" {
		t.Fatalf("the resync ended (%s) before the racing writes did: the test proves nothing; lower resync-rate", c)
	}
	if a := dataArea(t, p.a, size); !bytes.Equal(a, data) {
		t.Fatalf("a write during the resync is not on alice's disk, first at block %d", firstDiff(a, data))
	}
	if back, err := w.read(1<<40, 0, int(size)); err != nil || !bytes.Equal(back, data) {
		t.Fatalf("bob reads back other data during the resync: %v", err)
	}

	// The connection goes in the middle of the resync: blocks in sync
	// here are still read, the others and every write fail.
	p.ok(p.a, "disconnect", "r0")
	p.waitState(p.b, "cstate", "WFConnection")
	if got, err := w.read(1<<41, 0, 4096); err != nil || !bytes.Equal(got, data[:4096]) {
		t.Errorf("bob cannot read a block in sync without the peer: %v", err)
	}
	if _, err := w.read(1<<42, uint64(size-4096), 4096); err == nil {
		t.Error("bob served a block out of sync with the peer gone")
	}
	if err := w.write(1<<43, 0, buf[:4096]); err == nil {
		t.Error("bob acknowledged a write with no UpToDate data in reach")
	}
	if text := p.ok(p.b, "status", "r0"); !strings.Contains(text, "no-data: local disk Inconsistent and no connection to an UpToDate peer") {
		t.Errorf("status does not say why I/O fails:\n%s", text)
	}
	// Back, the resync resumes with bob still Primary.
	p.ok(p.a, "connect", "r0")
	p.waitState(p.b, "cstate", "SyncTarget")
	if got, err := w.read(1<<44, uint64(size-4096), 4096); err != nil || !bytes.Equal(got, data[size-4096:]) {
		t.Errorf("bob does not read through the peer again after the reconnect: %v", err)
	}
	w.c.Close()
	p.waitSynced()
	a, b := dataArea(t, p.a, size), dataArea(t, p.b, size)
	if !bytes.Equal(a, data) {
		t.Fatalf("alice's disk differs from what was written, first at block %d", firstDiff(a, data))
	}
	if !bytes.Equal(b, a) {
		t.Fatalf("after the resync bob's disk differs from alice's, first at block %d (%d racing writes)", firstDiff(b, a), writes)
	}
	t.Logf("%d writes raced with the resync", writes)
}

// TestReadBalancingPreferRemote: with read-balancing prefer-remote an
// UpToDate Primary reads from its UpToDate peer, and gets the same data.
func TestReadBalancingPreferRemote(t *testing.T) {
	p := newPairWith(t, "C", "", "disk { read-balancing prefer-remote; }")
	data := p.primaryWithData()
	size := int64(len(data))
	readBefore := p.a.status().Devices[0].Read
	sentBefore := p.b.status().Connections[0].PeerDevices[0].Sent
	dst := filepath.Join(t.TempDir(), "out")
	start := time.Now()
	nbdcopy(t, p.a.nbdURI(), dst)
	t.Logf("read %d MiB through the peer in %v", size>>20, time.Since(start))
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got, data) {
		t.Fatalf("reads from the peer differ, first at block %d", firstDiff(got, data))
	}
	if d := p.a.status().Devices[0].Read - readBefore; d != 0 {
		t.Errorf("alice read %d KiB from its own disk with prefer-remote", d)
	}
	if s := p.b.status().Connections[0].PeerDevices[0].Sent - sentBefore; s < uint64(size/1024) {
		t.Errorf("bob sent %d KiB, want the whole device (%d KiB)", s, size/1024)
	}
}

// TestDetachWhilePrimary: a Primary that detaches its disk (as after an
// I/O error) goes on serving its open clients from the peer; attached
// again it is SyncTarget of the blocks written meanwhile, and Primary
// throughout. Its first write is 8 MiB in one request: more than a
// P_DATA carries, it is split.
func TestDetachWhilePrimary(t *testing.T) {
	p := newPair(t, "C")
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	size := p.a.status().Devices[0].Size * 1024
	data := make([]byte, size)
	rand.Read(data)
	w := dialNBD(t, daemon.NBDPath(p.a.rundir, "r0", 0))
	defer w.c.Close()
	if err := w.write(1, 0, data); err != nil {
		t.Fatal(err)
	}

	p.ok(p.a, "detach", "r0")
	if got := p.ok(p.a, "dstate", "r0"); got != "Diskless/UpToDate" {
		t.Fatalf("dstate after detach: %q", got)
	}
	if got := p.ok(p.a, "role", "r0"); got != "Primary/Secondary" {
		t.Fatalf("role after detach: %q", got)
	}
	// The same client connection reads and writes on.
	if got, err := w.read(2, 0, int(size)); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("reading after the detach: %v (first difference at block %d, bob %d)", err, firstDiff(got, data), firstDiff(dataArea(t, p.b, size), data))
	}
	blk := make([]byte, 256<<10)
	rand.Read(blk)
	if err := w.write(3, 2<<20, blk); err != nil {
		t.Fatal(err)
	}
	copy(data[2<<20:], blk)
	if b := dataArea(t, p.b, size); !bytes.Equal(b, data) {
		t.Fatalf("bob's disk lacks a write of the diskless Primary, first at block %d", firstDiff(b, data))
	}

	p.ok(p.a, "attach", "r0")
	p.waitSynced()
	if got := p.ok(p.a, "role", "r0"); got != "Primary/Secondary" {
		t.Fatalf("role after attach: %q", got)
	}
	// The disk was detached by a Primary: its activity log's extents
	// are resynced as well as the blocks written meanwhile.
	if st := p.a.status().Connections[0].PeerDevices[0]; st.ResyncBlocksReceived < 64 {
		t.Errorf("the re-attached disk received %d blocks, want at least the 64 written while diskless", st.ResyncBlocksReceived)
	}
	if a := dataArea(t, p.a, size); !bytes.Equal(a, data) {
		t.Fatalf("alice's re-attached disk differs, first at block %d", firstDiff(a, data))
	}
	if got, err := w.read(4, 0, int(size)); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("reading after the re-attach: %v", err)
	}
}

// TestNeverAttachedDisklessPrimary: a node whose disk never attached
// (its meta data is gone) still connects, takes the peer's size, and
// serves the peer's data as a Diskless Primary.
func TestNeverAttachedDisklessPrimary(t *testing.T) {
	p := newPair(t, "C")
	data := p.primaryWithData()
	size := int64(len(data))
	p.ok(p.a, "secondary", "r0")

	p.ok(p.b, "down", "r0")
	p.ok(p.b, "wipe-md", "r0")
	if _, errOut, code := p.adm_(p.b, "up", "r0"); code == 0 {
		t.Fatalf("up without meta data succeeded: %s", errOut)
	}
	p.ok(p.b, "connect", "r0")
	p.waitState(p.b, "dstate", "Diskless/UpToDate")
	p.ok(p.b, "primary", "r0")
	if got := p.b.status().Devices[0].Size * 1024; got != size {
		t.Errorf("the diskless node's device has %d bytes, want the peer's %d", got, size)
	}
	dst := filepath.Join(t.TempDir(), "out")
	nbdcopy(t, p.b.nbdURI(), dst)
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Fatalf("the never-attached Primary reads other data, first at block %d", firstDiff(got, data))
	}
}

// primaryWithData makes alice Primary with the initial sync done and
// random data written over the whole device through her export (with
// nbdcopy), and returns that data.
func (p *pair) primaryWithData() []byte {
	t := p.t
	t.Helper()
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	data := make([]byte, p.a.status().Devices[0].Size*1024)
	rand.Read(data)
	src := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	nbdcopy(t, src, p.a.nbdURI())
	return data
}
