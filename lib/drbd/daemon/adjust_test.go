package daemon_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/testutil"
)

// TestAdjust: adjust on a running pair takes only the steps that differ
// from the file: nothing when nothing differs; one disk-options line
// when the resync-rate changed, one net-options line when the protocol
// changed; connect after a disconnect, attach after a detach. After it,
// a dry run of adjust prints nothing.
func TestAdjust(t *testing.T) {
	p := newPairWith(t, "C", "", "disk { c-plan-ahead 0; resync-rate 8M; }")
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	upToDate := func() {
		t.Helper()
		if out := p.ok(p.a, "-d", "adjust", "r0"); out != "" {
			t.Fatalf("adjust on an up-to-date resource would do:\n%s", out)
		}
	}
	upToDate()
	if out := p.ok(p.a, "adjust", "r0"); out != "" {
		t.Errorf("adjust with nothing to do printed %q", out)
	}
	upToDate()

	edit := func(from, to string) {
		t.Helper()
		b, err := os.ReadFile(p.a.conf)
		if err != nil || !strings.Contains(string(b), from) {
			t.Fatalf("%s does not hold %q", p.a.conf, from)
		}
		os.WriteFile(p.a.conf, []byte(strings.Replace(string(b), from, to, 1)), 0o644)
	}
	oneLine := func(re string) {
		t.Helper()
		out := p.ok(p.a, "-d", "adjust", "r0")
		if !regexp.MustCompile(`^` + re + `$`).MatchString(out) {
			t.Fatalf("-d adjust printed\n%s\nwant one line matching %s", out, re)
		}
	}

	edit("resync-rate 8M", "resync-rate 16M")
	oneLine(`godrbd disk-options 0 --set-defaults (.* )?--resync-rate=16M( .*)?`)
	p.ok(p.a, "adjust", "r0")
	upToDate()

	// disk-options changes the running volume only: adjust puts the
	// file's options back.
	p.ok(p.a, "disk-options", "--resync-rate=20M", "r0")
	oneLine(`godrbd disk-options 0 --set-defaults (.* )?--resync-rate=16M( .*)?`)
	p.ok(p.a, "adjust", "r0")
	upToDate()

	edit("protocol C", "protocol B")
	oneLine(`godrbd net-options ipv4:127\.0\.0\.1:\d+ ipv4:127\.0\.0\.2:\d+ --set-defaults --protocol=B( .*)?`)
	p.ok(p.a, "adjust", "r0")
	upToDate()
	if proc := p.ok(p.a, "proc"); !strings.Contains(proc, "UpToDate/UpToDate B ") {
		t.Errorf("after adjust to protocol B, proc shows\n%s", proc)
	}
	p.ok(p.b, "adjust", "r0") // bob's file is the same: protocol B there too
	p.waitState(p.a, "cstate", "Connected")

	p.ok(p.a, "disconnect", "r0")
	oneLine(`godrbd connect r0 ipv4:127\.0\.0\.1:\d+ ipv4:127\.0\.0\.2:\d+ .*--protocol=B.*`)
	p.ok(p.a, "adjust", "r0")
	p.waitState(p.a, "cstate", "Connected")
	upToDate()

	p.ok(p.a, "secondary", "r0")
	p.ok(p.a, "detach", "r0")
	out := p.ok(p.a, "-d", "adjust", "r0")
	if lines := strings.Split(out, "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "godrbd apply-al 0 ") || !strings.HasPrefix(lines[1], "godrbd attach 0 ") {
		t.Fatalf("-d adjust of a detached volume printed\n%s", out)
	}
	p.ok(p.a, "adjust", "r0")
	p.waitSynced()
	upToDate()
}

// TestAdjustDuringResync: adjust changes the resync-rate of a running
// resync; the sync target's controller takes it at its next step (its
// rate, /proc/drbd's want:, follows).
func TestAdjustDuringResync(t *testing.T) {
	p := newPairWith(t, "C", "", "disk { c-plan-ahead 0; resync-rate 1M; }")
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitState(p.b, "cstate", "SyncTarget")
	testutil.WaitFor(t, 10*time.Second, "want: 1,024 on bob", func() bool {
		return strings.Contains(p.ok(p.b, "proc"), "want: 1,024 K/sec")
	})
	b, _ := os.ReadFile(p.b.conf)
	// 4M: the rest of the 8 MiB takes about two seconds, long enough
	// for proc to be seen at the new rate on a loaded machine.
	os.WriteFile(p.b.conf, []byte(strings.Replace(string(b), "resync-rate 1M", "resync-rate 4M", 1)), 0o644)
	if out := p.ok(p.b, "-d", "adjust", "r0"); !regexp.MustCompile(`^godrbd disk-options 0 --set-defaults .*--resync-rate=4M`).MatchString(out) {
		t.Fatalf("-d adjust during the resync printed\n%s", out)
	}
	p.ok(p.b, "adjust", "r0")
	seen := false
	testutil.WaitFor(t, 20*time.Second, "bob synced", func() bool {
		proc := p.ok(p.b, "proc")
		seen = seen || strings.Contains(proc, "want: 4,096 K/sec")
		return strings.Contains(proc, "ds:UpToDate/UpToDate")
	})
	if !seen {
		t.Error("/proc/drbd never showed the new rate (want: 4,096) after adjust")
	}
}
