package daemon_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/linux-ha-go/ha/lib/drbd/daemon"
)

// TestALPrefetchSequential: a sequential writer pays one activity-log
// transaction per 32 MiB (its cold extent and the seven after it), a
// writer that jumps pays one per cold extent, and the extents brought in
// ahead are in the log on disk: when the Primary is killed, the
// returning node gets them back by resync with the written ones.
func TestALPrefetchSequential(t *testing.T) {
	const mib = 1 << 20
	p := newPairSized(t, "C", "", "", 80*mib, 80*mib)
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "new-current-uuid", "--clear-bitmap", "r0")
	p.waitSynced()
	p.ok(p.a, "primary", "r0")
	alWrites := func() uint64 { return p.a.status().Devices[0].ALWrites }

	w := dialNBD(t, daemon.NBDPath(p.a.rundir, "r0", 0))
	defer w.c.Close()
	data := bytes.Repeat([]byte("sequential"), mib/10+1)[:mib]
	h := uint64(0)
	put := func(off int) {
		t.Helper()
		h++
		if err := w.write(h, uint64(off), data); err != nil {
			t.Fatal(err)
		}
	}

	// 0–24 MiB in order: extent 0 cold (a transaction of its own, the
	// first write follows nothing), then extent 1 with 2–8 ahead.
	before := alWrites()
	for off := 0; off < 24*mib; off += mib {
		put(off)
	}
	if n := alWrites() - before; n != 2 {
		t.Errorf("sequential 24 MiB from 0: %d AL transactions, want 2 (extent 0; extents 1-8)", n)
	}
	// Jumps into three cold extents: a transaction each, nothing ahead.
	before = alWrites()
	for _, off := range []int{60 * mib, 44 * mib, 52 * mib} {
		put(off)
	}
	if n := alWrites() - before; n != 3 {
		t.Errorf("three jumps into cold extents: %d AL transactions, want 3", n)
	}
	// Extents 12 and 14 (after 44 and 52 MiB, not written) were not
	// brought in: a write there is cold again.
	before = alWrites()
	put(48 * mib)
	if n := alWrites() - before; n != 1 {
		t.Errorf("write after a jump: %d AL transactions, want 1", n)
	}
	if err := w.flush(h + 1); err != nil {
		t.Fatal(err)
	}

	// Hot now: extents 0-8 (24 MiB written, 36 MiB brought in), 11, 12,
	// 13 and 15. After a kill -9 of the Primary, apply-al marks all 13
	// out of sync and the returning node receives them whole, from bob.
	p.a.proc.Kill()
	p.waitState(p.b, "cstate", "WFConnection")
	p.ok(p.b, "primary", "r0")
	p.start(p.a)
	p.ok(p.a, "up", "r0")
	p.waitSynced()
	if moved := p.a.status().Connections[0].PeerDevices[0].ResyncBlocksReceived; moved != 13*1024 {
		t.Errorf("the returning node received %d blocks, want the %d of 13 hot extents", moved, 13*1024)
	}
	dst := filepath.Join(t.TempDir(), "out")
	nbdcopy(t, p.b.nbdURI(), dst)
	got, _ := os.ReadFile(dst)
	for _, off := range []int{0, 23 * mib, 44 * mib, 48 * mib, 52 * mib, 60 * mib} {
		if !bytes.Equal(got[off:off+mib], data) {
			t.Fatalf("bob lacks the write at %d MiB", off/mib)
		}
	}
}
