package daemon_test

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// statusJSON runs godrbdadm status with args and parses drbdsetup
// status --json's layout generically, as a third-party parser would.
func (p *pair) statusJSON(n *node, args ...string) []map[string]any {
	p.t.Helper()
	out := p.ok(n, append([]string{"status"}, args...)...)
	var v []map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		p.t.Fatalf("status %v is not a JSON array: %v\n%s", args, err, out)
	}
	return v
}

func field(t *testing.T, m map[string]any, path ...any) any {
	t.Helper()
	var cur any = m
	for _, k := range path {
		switch k := k.(type) {
		case string:
			mm, ok := cur.(map[string]any)
			if !ok {
				t.Fatalf("%v: no object at %v in %v", path, k, m)
			}
			v, ok := mm[k]
			if !ok {
				t.Fatalf("%v: no field %q in %v", path, k, mm)
			}
			cur = v
		case int:
			a, ok := cur.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("%v: no element %d in %v", path, k, cur)
			}
			cur = a[k]
		}
	}
	return cur
}

// TestStatusJSON: godrbdadm status --output-as json (and --json) prints
// drbdsetup status --json's fields, before and after the initial sync.
func TestStatusJSON(t *testing.T) {
	p := newPair(t, "C")
	p.waitState(p.a, "cstate", "Connected")
	p.waitState(p.b, "dstate", "Inconsistent/Inconsistent")

	st := p.statusJSON(p.b, "--output-as", "json", "r0")
	if len(st) != 1 {
		t.Fatalf("want 1 resource, got %d: %v", len(st), st)
	}
	r := st[0]
	for path, want := range map[string]any{
		"name": "r0", "role": "Secondary", "suspended": false,
	} {
		if got := field(t, r, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if got := field(t, r, "devices", 0, "disk-state"); got != "Inconsistent" {
		t.Errorf("disk-state = %v", got)
	}
	if got := field(t, r, "devices", 0, "size"); got.(float64) <= 0 {
		t.Errorf("size = %v", got)
	}
	if got := field(t, r, "connections", 0, "connection-state"); got != "Connected" {
		t.Errorf("connection-state = %v", got)
	}
	if got := field(t, r, "connections", 0, "name"); got != "alice" {
		t.Errorf("connections[0].name = %v", got)
	}
	if got := field(t, r, "connections", 0, "peer_devices", 0, "replication-state"); got != "Established" {
		t.Errorf("replication-state = %v", got)
	}
	if got, ok := field(t, r, "connections", 0, "peer_devices", 0, "out-of-sync").(float64); !ok || got < 0 {
		t.Errorf("out-of-sync = %v, want a number", got)
	}

	p.ok(p.a, "primary", "--force", "r0")
	p.waitSynced()
	// --json is the same; no resource means all.
	st = p.statusJSON(p.a, "--json")
	if len(st) != 1 {
		t.Fatalf("want 1 resource, got %d: %v", len(st), st)
	}
	r = st[0]
	checks := []struct {
		path []any
		want any
	}{
		{[]any{"role"}, "Primary"},
		{[]any{"devices", 0, "volume"}, 0.0},
		{[]any{"devices", 0, "disk-state"}, "UpToDate"},
		{[]any{"connections", 0, "peer-role"}, "Secondary"},
		{[]any{"connections", 0, "connection-state"}, "Connected"},
		{[]any{"connections", 0, "peer_devices", 0, "peer-disk-state"}, "UpToDate"},
		{[]any{"connections", 0, "peer_devices", 0, "replication-state"}, "Established"},
		{[]any{"connections", 0, "peer_devices", 0, "out-of-sync"}, 0.0},
		{[]any{"connections", 0, "peer_devices", 0, "resync-suspended"}, "no"},
		{[]any{"connections", 0, "peer_devices", 0, "percent-in-sync"}, 100.0},
	}
	for _, c := range checks {
		if got := field(t, r, c.path...); got != c.want {
			t.Errorf("%v = %v, want %v", c.path, got, c.want)
		}
	}
	if sent := field(t, r, "connections", 0, "peer_devices", 0, "sent"); sent.(float64) <= 0 {
		t.Errorf("sent = %v after a full sync", sent)
	}

	// Text stays DRBD 9's layout.
	if out := p.ok(p.a, "status", "r0"); out != "r0 role:Primary\n  disk:UpToDate\n  bob role:Secondary\n    replication:Established peer-disk:UpToDate" {
		t.Errorf("text status:\n%s", out)
	}
}

// TestWaitSyncProgress: wait-sync waits for the end of a resync; with
// stdout not a terminal it prints nothing, on a terminal (script(1)'s
// pty) it draws a progress bar with percent, speed and time left.
func TestWaitSyncProgress(t *testing.T) {
	p := newPairWith(t, "C", "", "disk { c-plan-ahead 0; resync-rate 8M; }")
	p.waitState(p.a, "cstate", "Connected")
	p.ok(p.a, "primary", "--force", "r0")
	p.waitState(p.b, "cstate", "SyncTarget")
	out, errOut, code := p.adm_(p.b, "wait-sync", "r0")
	if code != 0 || out != "" || errOut != "" {
		t.Fatalf("wait-sync without a terminal: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if ds := p.ok(p.b, "dstate", "r0"); ds != "UpToDate/UpToDate" {
		t.Errorf("after wait-sync: dstate %s", ds)
	}

	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script not installed (Debian package util-linux)")
	}
	p.ok(p.b, "invalidate", "r0")
	p.waitState(p.b, "cstate", "SyncTarget")
	cmd := strings.Join([]string{p.adm, "-c", p.b.conf, "--node", p.b.name, "--rundir", p.b.rundir, "wait-sync", "r0"}, " ")
	tty, err := exec.Command("script", "-qec", cmd, "/dev/null").CombinedOutput()
	if err != nil {
		t.Fatalf("script -c %q: %v\n%s", cmd, err, tty)
	}
	text := string(tty)
	for _, want := range []string{"r0/0", "100%", "MB/s", "/8.3 MB,"} {
		if !strings.Contains(text, want) {
			t.Errorf("progress bar lacks %q:\n%q", want, text)
		}
	}
	if !regexp.MustCompile(`\[[0-9]+s:[0-9]+s\]`).MatchString(text) {
		t.Errorf("progress bar lacks the elapsed:left times:\n%q", text)
	}
	if ds := p.ok(p.b, "dstate", "r0"); ds != "UpToDate/UpToDate" {
		t.Errorf("after wait-sync on a terminal: dstate %s", ds)
	}
}
