package beat_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	stdnet "net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/beat"
	"github.com/linux-ha-go/ha/lib/nettest"
	"github.com/linux-ha-go/ha/lib/testutil"
)

// hbNode is one hb-beat process with its own directories.
type hbNode struct {
	name string
	dir  string
	env  []string
	wrap []string // argv prefix (ip netns exec …)
	proc *testutil.Proc
}

func writeConf(t *testing.T, dir, hacf string) {
	t.Helper()
	conf := filepath.Join(dir, "conf")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "ha.cf"), []byte(hacf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "authkeys"), []byte("auth 1\n1 sha1 hbtestkey\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func newNode(t *testing.T, name, hacf string, wrap []string, runArgs ...string) *hbNode {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	writeConf(t, dir, hacf)
	n := &hbNode{name: name, dir: dir, wrap: wrap, env: []string{
		"HA_CONFDIR=" + filepath.Join(dir, "conf"), "HA_STATEDIR=" + filepath.Join(dir, "state"),
		"HA_RUNDIR=" + filepath.Join(dir, "run"), "HA_NODENAME=" + name}}
	n.start(t, runArgs...)
	return n
}

func (n *hbNode) argv(t *testing.T, args ...string) (string, []string) {
	full := append(append([]string{}, n.wrap...), testutil.Bin(t, "hb-beat"))
	full = append(full, args...)
	return full[0], full[1:]
}

func (n *hbNode) start(t *testing.T, runArgs ...string) {
	prog, args := n.argv(t, append([]string{"run"}, runArgs...)...)
	n.proc = testutil.Start(t, n.name, n.env, prog, args...)
}

func (n *hbNode) run(t *testing.T, args ...string) (string, string, int) {
	prog, a := n.argv(t, args...)
	return testutil.Run(t, n.env, prog, a...)
}

func (n *hbNode) nodes(t *testing.T) map[string]beat.NodeInfo {
	out, _, code := n.run(t, "nodes", "--output-as", "json")
	m := map[string]beat.NodeInfo{}
	if code != 0 {
		return m
	}
	var list []beat.NodeInfo
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("nodes json: %v\n%s", err, out)
	}
	for _, x := range list {
		m[x.Name] = x
	}
	return m
}

// watcher collects a node's status events with the daemon's timestamps.
type watcher struct {
	mu     sync.Mutex
	events []beat.Event
}

func (n *hbNode) watch(t *testing.T) *watcher {
	prog, args := n.argv(t, "watch", "--output-as", "json")
	cmd := exec.Command(prog, args...)
	cmd.Env = append(os.Environ(), n.env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	w := &watcher{}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var ev beat.Event
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				w.mu.Lock()
				w.events = append(w.events, ev)
				w.mu.Unlock()
			}
		}
	}()
	return w
}

func (w *watcher) find(node, status string, after time.Time) (beat.Event, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ev := range w.events {
		if ev.Kind == "node" && ev.Node == node && ev.Status == status && ev.Time.After(after) {
			return ev, true
		}
	}
	return beat.Event{}, false
}

func (w *watcher) count(node, status string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, ev := range w.events {
		if ev.Kind == "node" && ev.Node == node && ev.Status == status {
			n++
		}
	}
	return n
}

func allSee(t *testing.T, nodes []*hbNode, status string, names ...string) func() bool {
	return func() bool {
		for _, n := range nodes {
			m := n.nodes(t)
			for _, name := range names {
				if m[name].Status != status {
					return false
				}
			}
		}
		return true
	}
}

// steady waits until every node's peers advertise the configured
// deadtime (the first 5 s after a start they advertise deadtime+2s).
func steady(t *testing.T, nodes []*hbNode, deadtimeMS int64) {
	testutil.WaitFor(t, 15*time.Second, "peers past their startup grace", func() bool {
		for _, n := range nodes {
			for name, info := range n.nodes(t) {
				if name != n.name && info.Type == beat.TypeNormal && info.Status != beat.StatusDead && info.DeadtimeMS != deadtimeMS {
					return false
				}
			}
		}
		return true
	})
}

func testPort() int { return 20000 + os.Getpid()%20000 }

// Three nodes on 127.0.0.1-3 without root: kill -9 one, the others see it
// dead within deadtime + keepalive; stop one cleanly, the others see it
// dead within 1 s; messages flow in order; cl-status answers.
func TestThreeNodesOnLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	const keepalive, deadtime = 100 * time.Millisecond, 500 * time.Millisecond
	hacf := fmt.Sprintf(`keepalive 100ms
deadtime 500ms
warntime 300ms
initdead 3
udpport %d
ucast lo 127.0.0.1
ucast lo 127.0.0.2
ucast lo 127.0.0.3
node node1 node2 node3
`, testPort())
	var nodes []*hbNode
	for i := 1; i <= 3; i++ {
		nodes = append(nodes, newNode(t, fmt.Sprintf("node%d", i), hacf, nil, "--bind", fmt.Sprintf("127.0.0.%d", i)))
	}
	testutil.WaitFor(t, 10*time.Second, "all three nodes active everywhere", allSee(t, nodes, beat.StatusActive, "node1", "node2", "node3"))

	// cl-status answers as cl_status does
	n1 := nodes[0]
	if out, _, code := n1.run(t, "cl-status", "hbstatus"); code != 0 || out != "Heartbeat is running on this machine.\n" {
		t.Errorf("hbstatus: %d %q", code, out)
	}
	if out, _, code := n1.run(t, "cl-status", "nodestatus", "node2"); code != 0 || out != "active\n" {
		t.Errorf("nodestatus: %d %q", code, out)
	}
	if out, _, code := n1.run(t, "cl-status", "listhblinks", "node2"); code != 0 || out != "\tlo\n" {
		t.Errorf("listhblinks: %d %q", code, out)
	}
	if out, _, code := n1.run(t, "cl-status", "hblinkstatus", "node2", "lo"); code != 0 || out != "up\n" {
		t.Errorf("hblinkstatus: %d %q", code, out)
	}
	if out, _, code := n1.run(t, "cl-status", "hbparameter", "-p", "keepalive"); code != 0 || out != "100ms\n" {
		t.Errorf("hbparameter: %d %q", code, out)
	}
	if _, errOut, code := n1.run(t, "cl-status", "nodestatus", "nodeX"); code != 11 || !strings.Contains(errOut, "incorrect node name") {
		t.Errorf("unknown node: %d %q", code, errOut)
	}
	if _, errOut, code := n1.run(t, "cl-status", "bogus"); code != 11 || errOut != "ERROR: bogus: invalid sub-command.\n" {
		t.Errorf("bogus: %d %q", code, errOut)
	}

	// messages: node2 sends three, node1 receives them once and in order
	prog, args := n1.argv(t, "recv", "--type", "app", "-n", "3")
	recv := exec.Command(prog, args...)
	recv.Env = append(os.Environ(), n1.env...)
	var recvOut strings.Builder
	recv.Stdout = &recvOut
	if err := recv.Start(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "recv subscribed", func() bool {
		out, _, code := n1.run(t, "status", "--output-as", "json")
		var st beat.StatusReply
		return code == 0 && json.Unmarshal([]byte(out), &st) == nil && st.Receivers == 1
	})
	for i := 1; i <= 3; i++ {
		if out, errOut, code := nodes[1].run(t, "send", "app", fmt.Sprintf("n=%d", i)); code != 0 {
			t.Fatalf("send: %d %s %s", code, out, errOut)
		}
	}
	done := make(chan error, 1)
	go func() { done <- recv.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("recv: %v", err)
		}
	case <-time.After(10 * time.Second):
		recv.Process.Kill()
		t.Fatalf("recv got only %q", recvOut.String())
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(recvOut.String()), "\n") {
		var m beat.ClusterMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m.From != "node2" || m.Type != "app" {
			t.Fatalf("message %+v", m)
		}
		got = append(got, m.Fields["n"])
	}
	if strings.Join(got, ",") != "1,2,3" {
		t.Fatalf("received %v", got)
	}

	steady(t, nodes, deadtime.Milliseconds())
	w1, w2 := nodes[0].watch(t), nodes[1].watch(t)
	testutil.WaitFor(t, 5*time.Second, "watchers connected", func() bool {
		_, ok1 := w1.find("node3", beat.StatusActive, time.Time{})
		_, ok2 := w2.find("node3", beat.StatusActive, time.Time{})
		return ok1 && ok2
	})
	killed := time.Now()
	nodes[2].proc.Kill()
	for _, w := range []*watcher{w1, w2} {
		var ev beat.Event
		testutil.WaitFor(t, 5*time.Second, "node3 reported dead", func() bool {
			var ok bool
			ev, ok = w.find("node3", beat.StatusDead, killed)
			return ok
		})
		took := ev.Time.Sub(killed)
		t.Logf("kill -9 to dead: %v (deadtime %v, keepalive %v)", took, deadtime, keepalive)
		// the daemon's own event time; the 20 ms covers its 10 ms tick
		if took > deadtime+keepalive+20*time.Millisecond {
			t.Errorf("node3 declared dead %v after the kill, want within deadtime+keepalive = %v", took, deadtime+keepalive)
		}
	}
	stopped := time.Now()
	if !nodes[1].proc.Stop(5 * time.Second) {
		t.Fatal("node2 did not stop on SIGTERM")
	}
	ev := beat.Event{}
	testutil.WaitFor(t, 3*time.Second, "node2 reported dead after a clean stop", func() bool {
		var ok bool
		ev, ok = w1.find("node2", beat.StatusDead, stopped)
		return ok
	})
	if took := ev.Time.Sub(stopped); took > time.Second {
		t.Errorf("clean stop seen after %v, want within 1 s", took)
	}
	if out, _, code := n1.run(t, "cl-status", "nodestatus", "node2"); code != 1 || out != "dead\n" {
		t.Errorf("nodestatus of a dead node: %d %q", code, out)
	}
}

// Three nodes in network namespaces with two links each (bcast on one
// bridge, ucast on the other): cutting one link of a node changes that
// link's status and nothing else.
func TestOneLinkOfTwoCut(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	net := nettest.New(t)
	names := []string{"node1", "node2", "node3"}
	a, b := map[string]string{}, map[string]string{}
	for i, n := range names {
		net.Host(n)
		a[n] = fmt.Sprintf("10.98.1.%d/24", i+1)
		b[n] = fmt.Sprintf("10.98.2.%d/24", i+1)
	}
	net.Bridge("a", "hb0", a)
	net.Bridge("b", "hb1", b)
	hacf := `keepalive 100ms
deadtime 500ms
initdead 3
udpport 694
bcast hb0
ucast hb1 10.98.2.1
ucast hb1 10.98.2.2
ucast hb1 10.98.2.3
node node1 node2 node3
`
	var nodes []*hbNode
	for _, n := range names {
		nodes = append(nodes, newNode(t, n, hacf, []string{"ip", "netns", "exec", net.NS(n)}))
	}
	took := testutil.WaitFor(t, 10*time.Second, "all active", allSee(t, nodes, beat.StatusActive, names...))
	t.Logf("all active after %v", took)
	linkOf := func(n *hbNode, node, link string) string {
		for _, l := range n.nodes(t)[node].Links {
			if l.Name == link {
				return l.Status
			}
		}
		return "?"
	}
	testutil.WaitFor(t, 5*time.Second, "both links up", func() bool {
		return linkOf(nodes[0], "node3", "hb0") == "up" && linkOf(nodes[0], "node3", "hb1") == "up"
	})
	w := nodes[0].watch(t)
	net.SetLink("node3", "hb1", false)
	testutil.WaitFor(t, 5*time.Second, "node3's hb1 dead on node1", func() bool { return linkOf(nodes[0], "node3", "hb1") == "dead" })
	for i := 0; i < 10; i++ { // for a while: node3 stays active over hb0
		if s := nodes[0].nodes(t)["node3"].Status; s != beat.StatusActive {
			t.Fatalf("node3 is %s with one link left", s)
		}
	}
	if linkOf(nodes[0], "node3", "hb0") != "up" || w.count("node3", beat.StatusDead) != 0 {
		t.Fatal("cutting hb1 affected more than hb1")
	}
	net.SetLink("node3", "hb1", true)
	testutil.WaitFor(t, 5*time.Second, "hb1 back up", func() bool { return linkOf(nodes[0], "node3", "hb1") == "up" })
}

// Ping nodes answer ICMP echo for real: a host on the link shows "ping",
// an address nobody has shows "dead". hb-beat also tells systemd it is
// ready and how many nodes are alive (NOTIFY_SOCKET).
func TestPingNodesAndNotify(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	net := nettest.New(t)
	net.Host("node1")
	net.Host("gw")
	net.Veth("node1", "10.96.0.1/24", "gw", "10.96.0.254/24", "hb0")
	hacf := `keepalive 100ms
deadtime 500ms
initdead 1
udpport 694
ucast hb0 10.96.0.1
node node1
ping 10.96.0.254
ping_group far 10.96.0.200 10.96.0.201
`
	notify := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := listenUnixgram(notify)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	dir := filepath.Join(t.TempDir(), "node1")
	writeConf(t, dir, hacf)
	n := &hbNode{name: "node1", dir: dir, wrap: []string{"ip", "netns", "exec", net.NS("node1")}, env: []string{
		"HA_CONFDIR=" + filepath.Join(dir, "conf"), "HA_STATEDIR=" + filepath.Join(dir, "state"),
		"HA_RUNDIR=" + filepath.Join(dir, "run"), "HA_NODENAME=node1", "NOTIFY_SOCKET=" + notify}}
	n.start(t)
	testutil.WaitFor(t, 5*time.Second, "ping node 10.96.0.254 up and group far dead", func() bool {
		m := n.nodes(t)
		return m["10.96.0.254"].Status == beat.StatusPing && m["far"].Status == beat.StatusDead
	})
	if m := n.nodes(t); m["10.96.0.254"].Type != beat.TypePing || m["far"].Type != beat.TypePing {
		t.Fatalf("types: %+v", m)
	}
	if out, _, code := n.run(t, "cl-status", "nodetype", "far"); code != 0 || out != "ping\n" {
		t.Errorf("nodetype far: %d %q", code, out)
	}
	if out, _, code := n.run(t, "cl-status", "listnodes", "-p"); code != 0 || out != "10.96.0.254\nfar\n" {
		t.Errorf("listnodes -p: %d %q", code, out)
	}
	var got []string
	testutil.WaitFor(t, 5*time.Second, "READY=1 and a STATUS line", func() bool {
		for {
			select {
			case m := <-msgs:
				got = append(got, m)
			default:
				all := strings.Join(got, "\n")
				return strings.Contains(all, "READY=1") && strings.Contains(all, "STATUS=active: 1 of 1 nodes alive")
			}
		}
	})
	// the gateway goes away: its ping node dies
	net.SetLink("gw", "hb0", false)
	testutil.WaitFor(t, 5*time.Second, "ping node dead", func() bool { return n.nodes(t)["10.96.0.254"].Status == beat.StatusDead })
}

func listenUnixgram(path string) (*stdnet.UnixConn, error) {
	return stdnet.ListenUnixgram("unixgram", &stdnet.UnixAddr{Name: path, Net: "unixgram"})
}
