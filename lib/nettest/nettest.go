// Package nettest builds test hosts on this one machine: network
// namespaces joined by veth pairs or a bridge, each with its own name,
// directories and, where wanted, its own UTS and mount namespaces. Every
// namespace, link and process it makes is removed by name or PID when the
// test ends. It needs root (CI is root).
package nettest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Net is a set of namespaces made for one test; names carry a unique
// prefix so that parallel tests and other users' namespaces never clash.
type Net struct {
	t      testing.TB
	prefix string
	names  []string
}

// New makes an empty Net whose namespaces are deleted at cleanup.
func New(t testing.TB) *Net {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make network namespaces (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip (make test installs it)")
	}
	netSeq++
	// a fresh prefix per Net: names are never reused within one process
	n := &Net{t: t, prefix: fmt.Sprintf("hat%d%s-", os.Getpid()%100000, strconv.FormatInt(int64(netSeq), 36))}
	t.Cleanup(n.cleanup)
	return n
}

// NS returns the full name of a namespace made by Host.
func (n *Net) NS(host string) string { return n.prefix + host }

func (n *Net) ip(args ...string) {
	n.t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		n.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// Host makes a network namespace with lo up.
func (n *Net) Host(host string) {
	n.t.Helper()
	ns := n.NS(host)
	n.ip("netns", "add", ns)
	n.names = append(n.names, ns)
	n.ip("-n", ns, "link", "set", "lo", "up")
}

// Veth joins two hosts with a veth pair; both ends are named dev in their
// host and get the given addresses (CIDR) with a broadcast address.
func (n *Net) Veth(a, aAddr, b, bAddr, dev string) {
	n.t.Helper()
	ta, tb := n.tmpName(), n.tmpName()
	n.ip("link", "add", ta, "type", "veth", "peer", "name", tb)
	n.ip("link", "set", ta, "netns", n.NS(a))
	n.ip("link", "set", tb, "netns", n.NS(b))
	for _, x := range []struct{ host, tmp, addr string }{{a, ta, aAddr}, {b, tb, bAddr}} {
		ns := n.NS(x.host)
		n.ip("-n", ns, "link", "set", x.tmp, "name", dev)
		n.ip("-n", ns, "addr", "add", x.addr, "brd", "+", "dev", dev)
		n.ip("-n", ns, "link", "set", dev, "up")
	}
}

// Bridge makes a bridge in its own switch namespace and plugs each host
// into it with a veth whose host end is named dev and has the address.
func (n *Net) Bridge(name string, dev string, hostAddr map[string]string) {
	n.t.Helper()
	sw := "sw-" + name
	n.Host(sw)
	n.ip("-n", n.NS(sw), "link", "add", "br0", "type", "bridge")
	n.ip("-n", n.NS(sw), "link", "set", "br0", "up")
	for host, addr := range hostAddr {
		th, ts := n.tmpName(), n.tmpName()
		n.ip("link", "add", th, "type", "veth", "peer", "name", ts)
		n.ip("link", "set", th, "netns", n.NS(host))
		n.ip("link", "set", ts, "netns", n.NS(sw))
		n.ip("-n", n.NS(sw), "link", "set", ts, "master", "br0")
		n.ip("-n", n.NS(sw), "link", "set", ts, "up")
		n.ip("-n", n.NS(host), "link", "set", th, "name", dev)
		n.ip("-n", n.NS(host), "addr", "add", addr, "brd", "+", "dev", dev)
		n.ip("-n", n.NS(host), "link", "set", dev, "up")
	}
}

// SetLink brings a host's interface up or down (cutting a link).
func (n *Net) SetLink(host, dev string, up bool) {
	n.t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	n.ip("-n", n.NS(host), "link", "set", dev, state)
}

var tmpSeq, netSeq int

func (n *Net) tmpName() string {
	tmpSeq++
	return fmt.Sprintf("%sv%d", n.prefix, tmpSeq)
}

// Exec returns argv that runs prog inside a host's network namespace.
func (n *Net) Exec(host string, prog string, args ...string) []string {
	return append([]string{"ip", "netns", "exec", n.NS(host), prog}, args...)
}

func (n *Net) cleanup() {
	for i := len(n.names) - 1; i >= 0; i-- {
		_ = exec.Command("ip", "netns", "del", n.names[i]).Run()
	}
}

// NamespacePIDs lists the PIDs whose UTS namespace is the one of pid: the
// processes of one isolated host (used to crash it whole).
func NamespacePIDs(pid int) []int {
	want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/uts", pid))
	if err != nil {
		return nil
	}
	self, _ := os.Readlink("/proc/self/ns/uts")
	if want == self {
		return []int{pid} // not isolated: only the process itself
	}
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns/uts")); err == nil && l == want {
			out = append(out, p)
		}
	}
	return out
}

// KillNamespace SIGKILLs every process in pid's UTS namespace and waits
// until they are gone (reaping them if this process is their subreaper).
func KillNamespace(pid int) {
	pids := NamespacePIDs(pid)
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range pids {
		for time.Now().Before(deadline) {
			var ws syscall.WaitStatus
			if r, _ := syscall.Wait4(p, &ws, syscall.WNOHANG, nil); r == p {
				break
			}
			if err := syscall.Kill(p, 0); err != nil {
				break
			}
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p)); err == nil && strings.Contains(string(b), ") Z ") {
				break // zombie of someone else's; it is dead
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// BecomeSubreaper makes orphaned daemons (heartbeat daemonizes) children
// of the test process, so that they are reaped when killed.
func BecomeSubreaper() {
	_ = prctlSubreaper()
}
