package beat_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/beat"
	"github.com/linux-ha-go/ha/lib/nettest"
	"github.com/linux-ha-go/ha/lib/testutil"
)

const heartbeatBin = "/usr/libexec/heartbeat/heartbeat"

// realHeartbeat is Debian's heartbeat 3.0.6 running as one node in its
// own network, UTS and mount namespaces, with private /etc/ha.d,
// /var/lib/heartbeat and /run (shared/reference/heartbeat.md, section 6).
type realHeartbeat struct {
	t   *testing.T
	dir string
	pid int
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from+"/.", to).CombinedOutput(); err != nil {
		t.Fatalf("cp %s: %v: %s", from, err, out)
	}
}

func startHeartbeat(t *testing.T, net *nettest.Net, host, hacf string) *realHeartbeat {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "heartbeat-"+host)
	h := &realHeartbeat{t: t, dir: dir}
	for _, d := range []string{"etc", "lib", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyTree(t, "/etc/ha.d", filepath.Join(dir, "etc"))
	copyTree(t, "/var/lib/heartbeat", filepath.Join(dir, "lib"))
	write := func(name, text string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, "etc", name), []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("ha.cf", hacf+"logfile /var/lib/heartbeat/ha-log\nuse_logd no\n", 0o644)
	write("authkeys", "auth 1\n1 sha1 hbtestkey\n", 0o600)
	write("haresources", "# no resource groups: hb-beat answers the R1 protocol's starting with resource none\n", 0o644)
	script := strings.Join([]string{
		"set -e", "hostname " + host,
		"mount --bind " + filepath.Join(dir, "etc") + " /etc/ha.d",
		"mount --bind " + filepath.Join(dir, "lib") + " /var/lib/heartbeat",
		"mount --bind " + filepath.Join(dir, "run") + " /run",
		"mkdir -p /run/heartbeat",
		"exec " + heartbeatBin,
	}, "\n")
	argv := net.Exec(host, "unshare", "--uts", "--mount", "--propagation", "private", "sh", "-c", script)
	out, errOut, code := testutil.Run(t, nil, argv[0], argv[1:]...)
	if code != 0 {
		t.Fatalf("heartbeat did not start (rc %d):\n%s%s\nlog:\n%s", code, out, errOut, h.log())
	}
	testutil.WaitFor(t, 10*time.Second, "heartbeat's pidfile", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "run", "heartbeat.pid"))
		if err != nil {
			return false
		}
		h.pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && h.pid > 0
	})
	t.Cleanup(func() {
		h.kill()
		if t.Failed() {
			t.Logf("--- heartbeat %s log ---\n%s", host, h.log())
		}
	})
	return h
}

func (h *realHeartbeat) log() string {
	b, _ := os.ReadFile(filepath.Join(h.dir, "lib", "ha-log"))
	return string(b)
}

// clStatus runs the real cl_status inside the node's namespaces.
func (h *realHeartbeat) clStatus(args ...string) (string, int) {
	argv := append([]string{"-t", strconv.Itoa(h.pid), "-n", "-m", "-u", "cl_status"}, args...)
	out, _, code := testutil.Run(h.t, nil, "nsenter", argv...)
	return strings.TrimSpace(out), code
}

// kill crashes the node: SIGKILL to every process in its namespaces.
func (h *realHeartbeat) kill() {
	if h.pid > 0 {
		nettest.KillNamespace(h.pid)
		h.pid = 0
	}
}

// One hb-beat node and one Debian heartbeat 3.0.6 node, in two network
// namespaces joined by a veth pair, with the same ha.cf and authkeys: each
// sees the other active, and each sees the other dead within deadtime plus
// one keepalive after it is killed.
func TestHeartbeat306Interop(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	testutil.Root(t, "network, UTS and mount namespaces for the heartbeat node")
	if _, err := os.Stat(heartbeatBin); err != nil {
		t.Fatalf("Debian's heartbeat is not installed (%v): make test installs it", err)
	}
	nettest.BecomeSubreaper()
	net := nettest.New(t)
	net.Host("node1")
	net.Host("node2")
	net.Veth("node1", "10.97.0.1/24", "node2", "10.97.0.2/24", "hb0")
	const keepalive, deadtime = time.Second, 3 * time.Second
	hacf := `keepalive 1
deadtime 3
warntime 2
initdead 6
udpport 694
ucast hb0 10.97.0.1
ucast hb0 10.97.0.2
node node1 node2
crm no
auto_failback on
`
	hb := startHeartbeat(t, net, "node1", hacf)
	ours := newNode(t, "node2", hacf, []string{"ip", "netns", "exec", net.NS("node2")})

	testutil.WaitFor(t, 20*time.Second, "heartbeat sees node2 active and hb-beat sees node1 active", func() bool {
		st, _ := hb.clStatus("nodestatus", "node2")
		return st == "active" && ours.nodes(t)["node1"].Status == beat.StatusActive
	})
	if st, code := hb.clStatus("hblinkstatus", "node2", "hb0"); st != "up" || code != 0 {
		t.Errorf("heartbeat: link node2:hb0 is %q (rc %d)", st, code)
	}
	if st, code := hb.clStatus("hbstatus"); code != 0 || st != "Heartbeat is running on this machine." {
		t.Errorf("heartbeat's API is not up: %q rc %d", st, code)
	}
	if out, _, code := ours.run(t, "cl-status", "nodestatus", "node1"); code != 0 || out != "active\n" {
		t.Errorf("hb-beat cl-status nodestatus node1: %q rc %d", out, code)
	}
	for _, bad := range []string{"authtoken does not match", "authentication failed", "Bad/invalid auth", "failed authentication"} {
		if strings.Contains(hb.log(), bad) {
			t.Errorf("heartbeat logged %q", bad)
		}
	}

	// kill -9 hb-beat once past its startup grace (it advertises
	// deadtime+2s for 5 s); heartbeat must see it dead in time.
	testutil.WaitFor(t, 15*time.Second, "hb-beat past its startup grace", func() bool {
		return ours.nodes(t)["node2"].DeadtimeMS == deadtime.Milliseconds()
	})
	ours.proc.Kill()
	took := testutil.WaitFor(t, 10*time.Second, "heartbeat sees node2 dead", func() bool {
		st, _ := hb.clStatus("nodestatus", "node2")
		return st == "dead"
	})
	t.Logf("heartbeat 3.0.6 saw hb-beat dead %v after kill -9 (deadtime %v, keepalive %v)", took, deadtime, keepalive)
	if took > deadtime+keepalive {
		t.Errorf("heartbeat saw node2 dead after %v, want within deadtime+keepalive %v", took, deadtime+keepalive)
	}

	// start hb-beat again, then crash the heartbeat node
	ours.start(t)
	testutil.WaitFor(t, 20*time.Second, "both active again", func() bool {
		st, _ := hb.clStatus("nodestatus", "node2")
		return st == "active" && ours.nodes(t)["node1"].Status == beat.StatusActive
	})
	w := ours.watch(t)
	testutil.WaitFor(t, 5*time.Second, "watching", func() bool { _, ok := w.find("node1", beat.StatusActive, time.Time{}); return ok })
	killed := time.Now()
	hb.kill()
	var ev beat.Event
	testutil.WaitFor(t, 10*time.Second, "hb-beat sees node1 dead", func() bool {
		var ok bool
		ev, ok = w.find("node1", beat.StatusDead, killed)
		return ok
	})
	took = ev.Time.Sub(killed)
	t.Logf("hb-beat saw heartbeat 3.0.6 dead %v after kill -9", took)
	if took > deadtime+keepalive {
		t.Errorf("hb-beat saw node1 dead after %v, want within deadtime+keepalive %v", took, deadtime+keepalive)
	}
}
