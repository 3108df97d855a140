package daemon_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/testutil"
)

// TestCsumsResync: with net { csums-alg } a resync moves only the blocks
// whose digests differ (P_CSUM_RS_REQUEST / P_RS_IS_IN_SYNC): the
// initial sync of two zeroed disks and an invalidate of identical data
// move nothing, an invalidate after two blocks were damaged behind
// godrbd's back moves only their requests and repairs them; without
// csums-alg the same invalidate moves every block.
func TestCsumsResync(t *testing.T) {
	p := newPairNet(t, "C", "csums-alg md5; ")
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	blocks := uint64(p.b.status().Devices[0].Size / 4)
	pd := func(n *node) (moved, same uint64) {
		s := n.status().Connections[0].PeerDevices[0]
		return s.ResyncBlocksReceived + s.ResyncBlocksSent, s.ResyncSameCsum
	}
	if moved, same := pd(p.b); moved != 0 || same != blocks {
		t.Errorf("initial sync of zeroed disks: %d blocks moved, %d equal; want 0, %d", moved, same, blocks)
	}
	if moved, same := pd(p.a); moved != 0 || same != blocks {
		t.Errorf("initial sync, source: %d blocks moved, %d equal; want 0, %d", moved, same, blocks)
	}

	// Data on both through the Primary.
	data := make([]byte, 1<<20)
	rand.Read(data)
	src := filepath.Join(t.TempDir(), "data")
	os.WriteFile(src, data, 0o644)
	nbdcopy(t, src, p.a.nbdURI())

	// Identical data: invalidate moves nothing.
	m0, s0 := pd(p.b)
	p.ok(p.b, "invalidate", "r0")
	p.waitSynced()
	p.waitState(p.b, "cstate", "Connected")
	m1, s1 := pd(p.b)
	if m1-m0 != 0 || s1-s0 != blocks {
		t.Errorf("invalidate of identical data: %d blocks moved, %d equal; want 0, %d", m1-m0, s1-s0, blocks)
	}

	// Two blocks damaged on bob's disk: only their requests move.
	f, err := os.OpenFile(p.b.disk, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 4096)
	rand.Read(junk)
	for _, off := range []int64{4096, 3 << 20} {
		if _, err := f.WriteAt(junk, off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	p.ok(p.b, "invalidate", "r0")
	p.waitSynced()
	p.waitState(p.b, "cstate", "Connected")
	m2, s2 := pd(p.b)
	moved, same := m2-m1, s2-s1
	const perReq = 128 / 4 // a resync request is 128 KiB
	if moved == 0 || moved > 2*perReq || moved+same != blocks {
		t.Errorf("invalidate after 2 damaged blocks: %d blocks moved, %d equal; want 1..%d and %d in all", moved, same, 2*perReq, blocks)
	}
	t.Logf("csums-alg resync after 2 damaged blocks: %d of %d blocks moved", moved, blocks)
	report := fmt.Sprintf("%d %% had equal checksums, eliminated: %dK; transferred %dK total %dK", same*100/blocks, same*4, moved*4, blocks*4)
	testutil.WaitFor(t, 5*time.Second, "bob's log: "+report, func() bool { return strings.Contains(p.b.proc.Output(), report) })
	size := int(p.b.status().Devices[0].Size) * 1024
	da, _ := os.ReadFile(p.a.disk)
	db, _ := os.ReadFile(p.b.disk)
	if len(da) < size || len(db) < size || !bytes.Equal(da[:size], db[:size]) {
		t.Error("the disks differ after the csums-alg resync")
	}

	// Without csums-alg (the configuration rewritten) every block moves.
	text, _ := os.ReadFile(p.a.conf)
	os.WriteFile(p.a.conf, []byte(strings.Replace(string(text), "csums-alg md5; ", "", 1)), 0o644)
	p.ok(p.a, "net-options", "r0")
	p.ok(p.b, "invalidate", "r0")
	p.waitSynced()
	p.waitState(p.b, "cstate", "Connected")
	m3, s3 := pd(p.b)
	if m3-m2 != blocks || s3 != s2 {
		t.Errorf("invalidate without csums-alg: %d blocks moved, %d equal; want %d, 0", m3-m2, s3-s2, blocks)
	}
}
