package daemon_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/daemon"
	"github.com/linux-ha-go/ha/lib/testutil"
)

// sbDisk is the backing file size of the split-brain pairs: small, so
// that a case takes about a second.
const sbDisk = 2 << 20

// writeBlocks writes n random 4 KiB blocks at off through n's NBD
// export and returns them.
func writeBlocks(t *testing.T, n *node, off int64, nblk int) []byte {
	t.Helper()
	data := make([]byte, nblk*4096)
	rand.Read(data)
	w := dialNBD(t, daemon.NBDPath(n.rundir, "r0", 0))
	defer w.c.Close()
	if err := w.write(1, uint64(off), data); err != nil {
		t.Fatal(err)
	}
	return data
}

// splitBrain makes a split brain on purpose: alice is Primary when the
// nodes part (the "older" Primary: the primary bit of her bitmap UUID is
// set), bob is promoted afterwards (the "younger" one); alice writes na
// blocks at 0, bob nb blocks at 1 MiB. The roles at reconnection are
// then aPri and bPri.
func splitBrain(t *testing.T, netOpts, extra string, na, nb int, aPri, bPri bool) (p *pair, aData, bData []byte) {
	t.Helper()
	p = newPairSized(t, "C", netOpts, extra, sbDisk, sbDisk)
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "new-current-uuid", "--clear-bitmap", "r0")
	p.waitSynced()
	p.ok(p.a, "primary", "r0")
	p.ok(p.a, "disconnect", "r0")
	p.ok(p.b, "disconnect", "r0")
	p.ok(p.b, "primary", "r0")
	if na > 0 {
		aData = writeBlocks(t, p.a, 0, na)
	}
	if nb > 0 {
		bData = writeBlocks(t, p.b, 1<<20, nb)
	}
	if !aPri {
		p.ok(p.a, "secondary", "r0")
	}
	if !bPri {
		p.ok(p.b, "secondary", "r0")
	}
	p.ok(p.a, "connect", "r0")
	p.ok(p.b, "connect", "r0")
	return p, aData, bData
}

// region reads n bytes at off of a node's backing file.
func region(t *testing.T, n *node, off int64, size int) []byte {
	t.Helper()
	f, err := os.Open(n.disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, size)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b
}

// unresolved is the log line of a split brain no policy resolved, in
// DRBD's words.
const unresolved = "Split-Brain detected but unresolved, dropping connection!"

// TestAfterSplitBrainPolicies: a split brain made on purpose is detected
// when the nodes meet again, and each after-sb policy does what
// drbd.conf(5) says: the node it names becomes SyncTarget and receives
// exactly the blocks either side changed, or both go StandAlone.
func TestAfterSplitBrainPolicies(t *testing.T) {
	// alice is the older Primary (Primary when the nodes parted), bob the
	// younger one.
	const (
		standAlone = ""
		alice      = "alice"
		bob        = "bob"
		// rrConflict: bob, the Primary, would become SyncTarget;
		// rr-conflict disconnect makes him drop the connection
		// (StandAlone) while alice waits for him (WFConnection).
		rrConflict = "rr-conflict"
	)
	cases := []struct {
		name       string
		net        string
		na, nb     int
		aPri, bPri bool
		survivor   string // the sync source, or standAlone
		demoted    string // the node call-pri-lost-after-sb demotes
		handlers   bool   // check that the split-brain handlers run
	}{
		// No Primary at reconnection: after-sb-0pri.
		{name: "0pri/disconnect", net: "after-sb-0pri disconnect;", na: 2, nb: 1, survivor: standAlone, handlers: true},
		{name: "0pri/discard-younger-primary", net: "after-sb-0pri discard-younger-primary;", na: 1, nb: 2, survivor: alice},
		{name: "0pri/discard-older-primary", net: "after-sb-0pri discard-older-primary;", na: 2, nb: 1, survivor: bob},
		{name: "0pri/discard-zero-changes/bob-none", net: "after-sb-0pri discard-zero-changes;", na: 2, nb: 0, survivor: alice},
		{name: "0pri/discard-zero-changes/alice-none", net: "after-sb-0pri discard-zero-changes;", na: 0, nb: 2, survivor: bob},
		{name: "0pri/discard-zero-changes/both", net: "after-sb-0pri discard-zero-changes;", na: 1, nb: 1, survivor: standAlone},
		{name: "0pri/discard-least-changes/alice-more", net: "after-sb-0pri discard-least-changes;", na: 3, nb: 1, survivor: alice},
		{name: "0pri/discard-least-changes/bob-more", net: "after-sb-0pri discard-least-changes;", na: 1, nb: 3, survivor: bob},
		{name: "0pri/discard-node-bob", net: "after-sb-0pri discard-node-bob;", na: 1, nb: 3, survivor: alice},
		{name: "0pri/discard-node-alice", net: "after-sb-0pri discard-node-alice;", na: 3, nb: 1, survivor: bob},

		// One Primary: after-sb-1pri.
		{name: "1pri/disconnect", net: "after-sb-0pri discard-younger-primary; after-sb-1pri disconnect;", na: 1, nb: 1, bPri: true, survivor: standAlone},
		{name: "1pri/discard-secondary", net: "after-sb-1pri discard-secondary;", na: 3, nb: 1, bPri: true, survivor: bob},
		{name: "1pri/consensus/agree", net: "after-sb-0pri discard-younger-primary; after-sb-1pri consensus;", na: 1, nb: 2, aPri: true, survivor: alice},
		{name: "1pri/consensus/disagree", net: "after-sb-0pri discard-younger-primary; after-sb-1pri consensus;", na: 1, nb: 2, bPri: true, survivor: standAlone},
		{name: "1pri/call-pri-lost-after-sb", net: "after-sb-0pri discard-younger-primary; after-sb-1pri call-pri-lost-after-sb;", na: 1, nb: 2, bPri: true, survivor: alice, demoted: bob},
		{name: "1pri/violently-as0p", net: "after-sb-0pri discard-younger-primary; after-sb-1pri violently-as0p; rr-conflict violently;", na: 1, nb: 2, bPri: true, survivor: alice},
		{name: "1pri/violently-as0p/rr-conflict-disconnect", net: "after-sb-0pri discard-younger-primary; after-sb-1pri violently-as0p;", na: 1, nb: 2, bPri: true, survivor: rrConflict},

		// Two Primaries: after-sb-2pri (allow-two-primaries lets them connect).
		{name: "2pri/disconnect", net: "allow-two-primaries; after-sb-0pri discard-younger-primary; after-sb-2pri disconnect;", na: 1, nb: 1, aPri: true, bPri: true, survivor: standAlone},
		{name: "2pri/call-pri-lost-after-sb", net: "allow-two-primaries; after-sb-0pri discard-younger-primary; after-sb-1pri call-pri-lost-after-sb; after-sb-2pri call-pri-lost-after-sb;", na: 1, nb: 2, aPri: true, bPri: true, survivor: alice, demoted: bob},
		{name: "2pri/violently-as0p", net: "allow-two-primaries; after-sb-0pri discard-younger-primary; after-sb-1pri violently-as0p; after-sb-2pri violently-as0p; rr-conflict violently;", na: 1, nb: 2, aPri: true, bPri: true, survivor: alice},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			extra, ran := "", filepath.Join(t.TempDir(), "handlers")
			if c.handlers {
				extra = handlerSection(ran)
			}
			p, aData, bData := splitBrain(t, c.net+" ", extra, c.na, c.nb, c.aPri, c.bPri)
			both := func(s string) bool {
				return strings.Contains(p.a.proc.Output(), s) && strings.Contains(p.b.proc.Output(), s)
			}
			if c.survivor == rrConflict {
				p.waitState(p.b, "cstate", "StandAlone")
				p.waitState(p.a, "cstate", "WFConnection")
				if !strings.Contains(p.b.proc.Output(), "I shall become SyncTarget, but I am primary!") {
					t.Error("bob's log does not name the rr-conflict")
				}
				if !bytes.Equal(region(t, p.b, 1<<20, len(bData)), bData) {
					t.Error("bob lost his writes")
				}
				// bob's status says so and how to give in; doing it
				// resyncs bob from alice.
				st := p.ok(p.b, "status", "r0")
				advice := fmt.Sprintf("to take alice's data (bob's %d KiB of changes are lost): on bob: godrbdadm secondary r0; godrbdadm connect r0", c.nb*4)
				if !strings.Contains(st, "resolved against this node, but it is Primary (rr-conflict)") || !strings.Contains(st, advice) {
					t.Fatalf("bob's status after the rr-conflict:\n%s", st)
				}
				p.ok(p.b, "secondary", "r0")
				p.ok(p.b, "connect", "r0")
				p.waitSynced()
				if !bytes.Equal(region(t, p.a, 0, 1<<20+4*4096), region(t, p.b, 0, 1<<20+4*4096)) {
					t.Error("following the advice did not give bob alice's data")
				}
				return
			}
			if c.survivor == standAlone {
				p.waitState(p.a, "cstate", "StandAlone")
				p.waitState(p.b, "cstate", "StandAlone")
				testutil.WaitFor(t, 5*time.Second, "the split brain in both logs", func() bool {
					return both(unresolved)
				})
				// Each side keeps its own data.
				if c.na > 0 && !bytes.Equal(region(t, p.a, 0, len(aData)), aData) {
					t.Error("alice lost her writes")
				}
				if c.nb > 0 && !bytes.Equal(region(t, p.b, 1<<20, len(bData)), bData) {
					t.Error("bob lost his writes")
				}
				if c.handlers {
					waitHandlers(t, ran, "initial-split-brain 127.0.0.1", "initial-split-brain 127.0.0.2", "split-brain 127.0.0.1", "split-brain 127.0.0.2")
				}
				checkSplitBrainStatus(t, p, c.na, c.nb, c.aPri, c.bPri)
				return
			}
			win, lose := p.a, p.b
			if c.survivor == bob {
				win, lose = p.b, p.a
			}
			testutil.WaitFor(t, 20*time.Second, "the resync to end", func() bool {
				out, _, _ := p.adm_(lose, "dstate", "r0")
				cs, _, _ := p.adm_(lose, "cstate", "r0")
				return strings.TrimSpace(out) == "UpToDate/UpToDate" && strings.TrimSpace(cs) == "Connected"
			})
			if !both("Split-Brain detected") || !strings.Contains(p.a.proc.Output()+p.b.proc.Output(), "automatically solved") {
				t.Errorf("no \"Split-Brain detected, … automatically solved\" in the logs:\n%s\n%s", p.a.proc.Output(), p.b.proc.Output())
			}
			if got, want := lose.status().Connections[0].PeerDevices[0].ResyncBlocksReceived, uint64(c.na+c.nb); got != want {
				t.Errorf("%s (the victim) received %d blocks, want %d (the union of both sides' changes)", lose.name, got, want)
			}
			if got := win.status().Connections[0].PeerDevices[0].ResyncBlocksReceived; got != 0 {
				t.Errorf("%s (the survivor) received %d blocks", win.name, got)
			}
			size := int(1<<20 + 4*4096)
			if w, l := region(t, win, 0, size), region(t, lose, 0, size); !bytes.Equal(w, l) {
				t.Errorf("%s does not hold %s's data after the resync", lose.name, win.name)
			}
			if c.survivor == alice && c.na > 0 && !bytes.Equal(region(t, p.b, 0, len(aData)), aData) {
				t.Error("bob lacks alice's writes")
			}
			if c.survivor == bob && c.nb > 0 && !bytes.Equal(region(t, p.a, 1<<20, len(bData)), bData) {
				t.Error("alice lacks bob's writes")
			}
			if c.demoted != "" {
				n := p.a
				if c.demoted == bob {
					n = p.b
				}
				if got := p.ok(n, "role", "r0"); !strings.HasPrefix(got, "Secondary/") {
					t.Errorf("%s's role after call-pri-lost-after-sb: %s, want Secondary", n.name, got)
				}
				if !strings.Contains(n.proc.Output(), "Successfully gave up primary role.") {
					t.Errorf("%s's log does not say it gave up the primary role", n.name)
				}
			}
		})
	}
}

// checkSplitBrainStatus: after an unresolved split brain, godrbdadm
// status on each node says so, says how much each side's choice loses,
// and gives the commands that recover; running the ones that keep
// alice's data (as printed on bob) reconnects the pair and gives bob
// alice's data.
func checkSplitBrainStatus(t *testing.T, p *pair, na, nb int, aPri, bPri bool) {
	t.Helper()
	text := map[*node]string{}
	for _, n := range []*node{p.a, p.b} {
		text[n] = p.ok(n, "status", "r0")
		if !strings.Contains(text[n], "connection:StandAlone\n  split-brain: detected ") {
			t.Fatalf("%s's status does not report the split brain:\n%s", n.name, text[n])
		}
	}
	t.Logf("status on alice after the split brain:\n%s", text[p.a])
	want := []string{
		fmt.Sprintf("alice (this node) changed %d KiB since; bob changed %d KiB", na*4, nb*4),
		fmt.Sprintf("to keep alice's data (bob's %d KiB of changes are lost): on bob: godrbdadm disconnect r0; %sgodrbdadm connect --discard-my-data r0; then on alice, if StandAlone: godrbdadm connect r0", nb*4, secondaryIf(bPri)),
		fmt.Sprintf("to keep bob's data (alice's %d KiB of changes are lost): on alice: godrbdadm disconnect r0; %sgodrbdadm connect --discard-my-data r0; then on bob, if StandAlone: godrbdadm connect r0", na*4, secondaryIf(aPri)),
	}
	for _, w := range want {
		if !strings.Contains(text[p.a], w) {
			t.Errorf("alice's status lacks %q:\n%s", w, text[p.a])
		}
	}
	if !strings.Contains(text[p.b], fmt.Sprintf("bob (this node) changed %d KiB since; alice changed %d KiB", nb*4, na*4)) {
		t.Errorf("bob's status does not count the changes:\n%s", text[p.b])
	}

	// Follow the advice printed on bob to keep alice's data.
	var line string
	for _, l := range strings.Split(text[p.b], "\n") {
		if strings.Contains(l, "to keep alice's data") {
			line = l
		}
	}
	_, steps, _ := strings.Cut(line, ": on ")
	for _, step := range strings.Split(steps, "; then on ") {
		who, cmds, _ := strings.Cut(step, ": ")
		who, cond, _ := strings.Cut(who, ", ")
		n := map[string]*node{"alice": p.a, "bob": p.b}[who]
		if n == nil || (cond != "" && cond != "if StandAlone") {
			t.Fatalf("cannot follow %q", line)
		}
		if cond != "" && p.ok(n, "cstate", "r0") != "StandAlone" {
			continue
		}
		for _, cmd := range strings.Split(cmds, "; ") {
			args := strings.Fields(cmd)
			if args[0] != "godrbdadm" {
				t.Fatalf("not a godrbdadm command: %q", cmd)
			}
			p.ok(n, args[1:]...)
		}
	}
	testutil.WaitFor(t, 20*time.Second, "bob to hold alice's data", func() bool {
		out, _, _ := p.adm_(p.b, "dstate", "r0")
		return strings.TrimSpace(out) == "UpToDate/UpToDate"
	})
	size := int(1<<20 + 4*4096)
	if !bytes.Equal(region(t, p.a, 0, size), region(t, p.b, 0, size)) {
		t.Error("following the printed commands did not give bob alice's data")
	}
	if got := p.ok(p.b, "status", "r0"); strings.Contains(got, "split-brain") {
		t.Errorf("the split brain is still reported after the recovery:\n%s", got)
	}
}

func secondaryIf(pri bool) string {
	if pri {
		return "godrbdadm secondary r0; "
	}
	return ""
}

// handlerSection makes every split-brain handler append its name and
// the peer's address to the file ran.
func handlerSection(ran string) string {
	var b strings.Builder
	b.WriteString("handlers {")
	for _, h := range []string{"initial-split-brain", "split-brain", "pri-lost-after-sb"} {
		fmt.Fprintf(&b, " %s \"echo %s $DRBD_PEER_ADDRESS >> %s\";", h, h, ran)
	}
	return b.String() + " }"
}

// waitHandlers waits until the handlers wrote (at least) the lines want.
func waitHandlers(t *testing.T, ran string, want ...string) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("the handlers %q", want), func() bool {
		b, _ := os.ReadFile(ran)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		for _, w := range want {
			if !slices.Contains(lines, w) {
				return false
			}
		}
		return true
	})
}

// TestCallPriLostHeldOpen: after-sb-1pri call-pri-lost-after-sb when the
// Primary that loses cannot be demoted (its device is open): the
// pri-lost-after-sb handler runs there, the split brain stays
// unresolved (that node goes StandAlone, the other waits in
// WFConnection) and no data moves.
func TestCallPriLostHeldOpen(t *testing.T) {
	ran := filepath.Join(t.TempDir(), "handlers")
	p := newPairSized(t, "C", "after-sb-0pri discard-younger-primary; after-sb-1pri call-pri-lost-after-sb; ", handlerSection(ran), sbDisk, sbDisk)
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "new-current-uuid", "--clear-bitmap", "r0")
	p.waitSynced()
	p.ok(p.a, "primary", "r0")
	p.ok(p.a, "disconnect", "r0")
	p.ok(p.b, "disconnect", "r0")
	p.ok(p.b, "primary", "r0")
	aData := writeBlocks(t, p.a, 0, 1)
	bData := writeBlocks(t, p.b, 1<<20, 2)
	p.ok(p.a, "secondary", "r0")
	w := dialNBD(t, daemon.NBDPath(p.b.rundir, "r0", 0)) // bob's device stays open
	defer w.c.Close()
	p.ok(p.a, "connect", "r0")
	p.ok(p.b, "connect", "r0")
	p.waitState(p.b, "cstate", "StandAlone")
	p.waitState(p.a, "cstate", "WFConnection")
	waitHandlers(t, ran, "pri-lost-after-sb 127.0.0.1", "split-brain 127.0.0.1")
	if !strings.Contains(p.b.proc.Output(), unresolved) {
		t.Errorf("bob's log lacks %q", unresolved)
	}
	if st := p.ok(p.b, "status", "r0"); !strings.Contains(st, "split-brain: detected") {
		t.Errorf("bob's status does not report the split brain:\n%s", st)
	}
	if got := p.ok(p.b, "role", "r0"); got != "Primary/Unknown" {
		t.Errorf("bob's role: %s, want Primary/Unknown", got)
	}
	if !bytes.Equal(region(t, p.a, 0, len(aData)), aData) || !bytes.Equal(region(t, p.b, 1<<20, len(bData)), bData) {
		t.Error("data moved although the split brain stayed unresolved")
	}
}
