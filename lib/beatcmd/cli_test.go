package beatcmd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/linux-ha-go/ha/lib/testutil"
)

func confdir(t *testing.T, hacf, authkeys string, mode os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ha.cf"), []byte(hacf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authkeys"), []byte(authkeys), mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

const goodCf = "keepalive 1\ndeadtime 5\nudpport 16999\nucast lo 127.0.0.1\nnode node1 node2\n"

// Bad configuration: one clear error naming file:line, exit 6 (not
// configured, as heartbeat), nothing started.
func TestRunRefusesBadConfig(t *testing.T) {
	bin := testutil.Bin(t, "hb-beat")
	cases := []struct {
		name, hacf, keys string
		mode             os.FileMode
		want             string
	}{
		{"typo", goodCf + "keepaliv 2\n", "auth 1\n1 sha1 k\n", 0o600, "ha.cf:6: illegal directive [keepaliv]"},
		{"unit", "keepalive 2s\n" + goodCf, "auth 1\n1 sha1 k\n", 0o600, `ha.cf:1: keepalive: "2s" is not a time`},
		{"perms", goodCf, "auth 1\n1 sha1 k\n", 0o644, "bad permissions on keyfile (mode 0644)"},
		{"method", goodCf, "auth 1\n1 sha256 k\n", 0o600, "authkeys:2: invalid authtype [sha256]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := confdir(t, tc.hacf, tc.keys, tc.mode)
			run := t.TempDir()
			_, errOut, code := testutil.Run(t, nil, bin, "--confdir", dir, "--rundir", run, "--statedir", t.TempDir(), "--node", "node1", "run")
			if code != 6 {
				t.Errorf("exit %d, want 6", code)
			}
			if !strings.Contains(errOut, "hb-beat: error: "+dir) || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "hb-beat: hint: ") {
				t.Errorf("stderr:\n%s\nwant it to contain %q", errOut, tc.want)
			}
			if ents, _ := os.ReadDir(run); len(ents) != 0 {
				t.Errorf("a refused start left %v in the rundir", ents)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	bin := testutil.Bin(t, "hb-beat")
	dir := confdir(t, goodCf+"respawn hacluster /usr/lib/heartbeat/ipfail\n", "auth 1\n1 sha1 k\n", 0o600)
	out, errOut, code := testutil.Run(t, nil, bin, "--confdir", dir, "--node", "node1", "check")
	if code != 0 || !strings.Contains(out, "OK: 2 nodes (node1, node2), 1 ucast; keepalive 1000 ms, deadtime 5000 ms") {
		t.Fatalf("check: %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "accepted, has no effect here: respawn") {
		t.Fatalf("no warning for respawn: %s", errOut)
	}
	_, errOut, code = testutil.Run(t, nil, bin, "--confdir", dir, "--node", "node9", "check")
	if code != 6 || !strings.Contains(errOut, "current node [node9] not in configuration") {
		t.Fatalf("wrong node: %d %s", code, errOut)
	}
}

func TestClientWithoutDaemon(t *testing.T) {
	bin := testutil.Bin(t, "hb-beat")
	run := t.TempDir()
	_, errOut, code := testutil.Run(t, nil, bin, "--rundir", run, "nodes")
	want := "hb-beat: error: hb-beat is not running: nothing answers on " + filepath.Join(run, "beat.sock") + "\n"
	if code != 7 || !strings.HasPrefix(errOut, want) {
		t.Fatalf("nodes without daemon: %d %q", code, errOut)
	}
	out, _, code := testutil.Run(t, nil, bin, "--rundir", run, "cl-status", "hbstatus")
	if code != 1 || out != "Heartbeat is stopped on this machine.\n" {
		t.Fatalf("hbstatus without daemon: %d %q", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	bin := testutil.Bin(t, "hb-beat")
	_, errOut, code := testutil.Run(t, nil, bin, "nodez")
	if code != 64 || strings.Count(errOut, "\n") != 2 || !strings.Contains(errOut, "try 'hb-beat --help'") {
		t.Fatalf("unknown command: %d %q", code, errOut)
	}
	_, errOut, code = testutil.Run(t, nil, bin, "nodes", "--output-as", "yaml")
	if code != 64 || !strings.Contains(errOut, "--output-as") || !strings.Contains(errOut, "try 'hb-beat nodes --help'") {
		t.Fatalf("bad format: %d %q", code, errOut)
	}
}
