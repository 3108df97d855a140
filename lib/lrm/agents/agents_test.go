package agents

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	ps "github.com/mitchellh/go-ps"
	"golang.org/x/sys/unix"

	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/lrm"

	"github.com/linux-ha-go/ha/lib/testutil"
)

func abs(t testing.TB, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// testRunner runs the project's test agents (testdata) and, for the
// ocf class, those under ocfRoot.
func testRunner(t testing.TB, ocfRoot string) *Runner {
	d := DefaultDirs(abs(t, "testdata"))
	d.OCFRoot = ocfRoot
	d.LSB = abs(t, "testdata/init.d")
	d.Fence = []string{abs(t, "../../../contrib/fence")}
	return &Runner{Dirs: d, Grace: 500 * time.Millisecond}
}

func realOCF(t testing.TB, paths ...string) *Runner {
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s is not installed (Debian packages resource-agents, pacemaker-resource-agents; make test installs them)", p)
		}
	}
	return testRunner(t, "/usr/lib/ocf")
}

func hbtestOCF(t testing.TB) *Runner { return testRunner(t, abs(t, "testdata/ocf")) }

type step struct {
	action string
	rc     exitcode.Code
}

func lifecycle(t *testing.T, r *Runner, a lrm.Agent, params map[string]string, steps []step) {
	t.Helper()
	for i, s := range steps {
		res := r.Exec(context.Background(), &lrm.Op{Resource: "rsc1", Agent: a, Action: s.action, Params: params, Timeout: 30 * time.Second})
		if res.Status != lrm.StatusDone || res.RC != s.rc {
			t.Fatalf("step %d %s %s: rc %d (%s) status %s, want rc %d\nreason: %s\nstdout: %s\nstderr: %s",
				i, a, s.action, res.RC, res.RCName, res.StatusName, s.rc, res.ExitReason, res.Stdout, res.Stderr)
		}
	}
}

func TestOCFDummyLifecycle(t *testing.T) {
	t.Parallel()
	r := realOCF(t, "/usr/lib/ocf/resource.d/heartbeat/Dummy")
	state := filepath.Join(t.TempDir(), "dummy.state")
	lifecycle(t, r, lrm.Agent{Class: lrm.OCF, Provider: "heartbeat", Type: "Dummy"}, map[string]string{"state": state}, []step{
		{"monitor", 7}, {"validate-all", 0}, {"start", 0}, {"monitor", 0}, {"start", 0}, {"reload", 0},
		{"migrate_to", 0}, {"migrate_from", 0}, {"monitor", 0}, {"stop", 0}, {"monitor", 7}, {"stop", 0},
	})
	x, err := r.Metadata(context.Background(), lrm.Agent{Class: lrm.OCF, Provider: "heartbeat", Type: "Dummy"})
	if err != nil || !strings.Contains(x, `<resource-agent name="Dummy"`) {
		t.Fatalf("meta-data: %v\n%.200s", err, x)
	}
}

func TestOCFStatefulLifecycle(t *testing.T) {
	t.Parallel()
	for _, prov := range []string{"pacemaker", "heartbeat"} {
		t.Run(prov, func(t *testing.T) {
			t.Parallel()
			r := realOCF(t, "/usr/lib/ocf/resource.d/"+prov+"/Stateful")
			state := filepath.Join(t.TempDir(), "stateful.state")
			lifecycle(t, r, lrm.Agent{Class: lrm.OCF, Provider: prov, Type: "Stateful"}, map[string]string{"state": state}, []step{
				{"monitor", 7}, {"start", 0}, {"monitor", 0}, {"promote", 0}, {"monitor", 8},
				{"demote", 0}, {"monitor", 0}, {"stop", 0}, {"monitor", 7},
			})
		})
	}
}

func TestOCFEnvironment(t *testing.T) {
	os.Setenv("HBTEST_DAEMON_SECRET", "leak")
	defer os.Unsetenv("HBTEST_DAEMON_SECRET")
	r := hbtestOCF(t)
	res := r.Exec(context.Background(), &lrm.Op{Resource: "db-ip", Agent: lrm.Agent{Class: lrm.OCF, Provider: "hbtest", Type: "envdump"},
		Action: "monitor", Params: map[string]string{"ip": "10.0.0.5"}, Meta: map[string]string{"notify-type": "pre"},
		Interval: 10 * time.Second, Timeout: 15 * time.Second})
	if res.RC != 0 {
		t.Fatalf("%+v", res)
	}
	for _, want := range []string{"ARGS=monitor\n", "OCF_RESKEY_ip=10.0.0.5\n", "OCF_RESKEY_CRM_meta_timeout=15000\n",
		"OCF_RESKEY_CRM_meta_interval=10000\n", "OCF_RESKEY_CRM_meta_notify_type=pre\n", "OCF_RESOURCE_INSTANCE=db-ip\n",
		"OCF_RESOURCE_TYPE=envdump\n", "OCF_RESOURCE_PROVIDER=hbtest\n", "OCF_ROOT=" + r.Dirs.OCFRoot + "\n"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("environment lacks %q:\n%s", want, res.Stdout)
		}
	}
	if strings.Contains(res.Stdout, "HBTEST_DAEMON_SECRET") {
		t.Error("the daemon's environment leaked into the agent's")
	}
}

// inNamespaces runs fn on a thread of its own in new network and mount
// namespaces: processes started from it (the agents) live there too, and
// the thread is thrown away afterwards.
func inNamespaces(t *testing.T, flags int, fn func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for namespaces")
	}
	done := make(chan any, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		defer func() { done <- recover() }()
		if err := unix.Unshare(flags); err != nil {
			panic("unshare: " + err.Error())
		}
		if flags&unix.CLONE_NEWNS != 0 {
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				panic("make / private: " + err.Error())
			}
		}
		fn()
	}()
	if p := <-done; p != nil {
		t.Fatal(p)
	}
}

func sh(cmd string) (string, error) {
	b, err := exec.Command("/bin/sh", "-c", cmd).CombinedOutput()
	return string(b), err
}

func TestIPaddr2InNetns(t *testing.T) {
	t.Parallel()
	r := realOCF(t, "/usr/lib/ocf/resource.d/heartbeat/IPaddr2")
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip(8): install iproute2")
	}
	var errs []string
	fail := func(f string, a ...any) { errs = append(errs, strings.TrimSpace(sprintf(f, a...))) }
	inNamespaces(t, unix.CLONE_NEWNET, func() {
		if out, err := sh("ip link set lo up && ip link add hbt0 type veth peer name hbt1 && ip link set hbt1 up && ip link set hbt0 up"); err != nil {
			fail("set up the namespace: %v %s", err, out)
			return
		}
		ip2 := lrm.Agent{Class: lrm.OCF, Provider: "heartbeat", Type: "IPaddr2"}
		params := map[string]string{"ip": "10.99.0.5", "cidr_netmask": "24", "nic": "hbt0"}
		run := func(action string, want exitcode.Code) {
			res := r.Exec(context.Background(), &lrm.Op{Resource: "vip", Agent: ip2, Action: action, Params: params, Timeout: 30 * time.Second})
			if res.RC != want || res.Status != lrm.StatusDone {
				fail("IPaddr2 %s: rc %d want %d (%s)\n%s\n%s", action, res.RC, want, res.ExitReason, res.Stdout, res.Stderr)
			}
		}
		has := func(addr string) bool {
			out, _ := sh("ip -o addr show dev hbt0")
			return strings.Contains(out, addr)
		}
		run("monitor", 7)
		run("start", 0)
		if !has("10.99.0.5/24") {
			fail("after start, hbt0 lacks 10.99.0.5/24")
		}
		run("monitor", 0)
		run("stop", 0)
		if has("10.99.0.5/") {
			fail("after stop, hbt0 still has 10.99.0.5")
		}
		run("monitor", 7)

		// heartbeat 3's own resource.d/IPaddr2 wrapper, haresources style
		if _, err := os.Stat("/etc/ha.d/resource.d/IPaddr2"); err != nil {
			return
		}
		hb, hp, _ := lrm.ParseHaresource("IPaddr2::10.99.0.6/24/hbt0")
		hr := testRunner(t, "/usr/lib/ocf")
		hr.Dirs.Heartbeat = []string{"/etc/ha.d/resource.d"}
		hrun := func(action string, want exitcode.Code) {
			res := hr.Exec(context.Background(), &lrm.Op{Resource: "vip2", Agent: hb, Action: action, Params: hp, Timeout: 30 * time.Second})
			if res.RC != want || res.Status != lrm.StatusDone {
				fail("heartbeat:IPaddr2 %s: rc %d want %d (%s)\n%s\n%s", action, res.RC, want, res.ExitReason, res.Stdout, res.Stderr)
			}
		}
		hrun("status", 7)
		hrun("start", 0)
		if !has("10.99.0.6/24") {
			fail("after heartbeat:IPaddr2 start, hbt0 lacks 10.99.0.6/24")
		}
		hrun("status", 0)
		hrun("stop", 0)
		if has("10.99.0.6/") {
			fail("after heartbeat:IPaddr2 stop, hbt0 still has 10.99.0.6")
		}
		hrun("monitor", 7)

		// haresources' bare address is heartbeat's IPaddr
		hb, hp, _ = lrm.ParseHaresource("10.99.0.7/24/hbt0")
		if hb.Type != "IPaddr" {
			fail("10.99.0.7/24/hbt0 is %s", hb)
		}
		hrun("start", 0)
		if !has("10.99.0.7/24") {
			fail("after heartbeat:IPaddr start, hbt0 lacks 10.99.0.7/24")
		}
		hrun("status", 0)
		hrun("stop", 0)
		if has("10.99.0.7/") {
			fail("after heartbeat:IPaddr stop, hbt0 still has 10.99.0.7")
		}
	})
	if len(errs) > 0 {
		t.Fatal(strings.Join(errs, "\n"))
	}
}

func sprintf(f string, a ...any) string { return strings.TrimSpace(fmt.Sprintf(f, a...)) }

func TestFilesystemOnLoop(t *testing.T) {
	t.Parallel()
	r := realOCF(t, "/usr/lib/ocf/resource.d/heartbeat/Filesystem")
	for _, tool := range []string{"mkfs.ext4", "losetup", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: install e2fsprogs and util-linux", tool)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for loop devices and mounts")
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "fs.img")
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	if out, err := sh("truncate -s 16M " + img + " && mkfs.ext4 -q -F " + img); err != nil {
		t.Fatalf("mkfs: %v %s", err, out)
	}
	out, err := sh("losetup -f --show " + img)
	if err != nil {
		t.Fatalf("losetup (root, util-linux installed): %v %s", err, out)
	}
	loop := strings.TrimSpace(out)
	t.Cleanup(func() {
		sh("umount " + mnt + " 2>/dev/null")
		if o, err := sh("losetup -d " + loop); err != nil {
			t.Errorf("losetup -d %s: %v %s", loop, err, o)
		}
	})
	var errs []string
	inNamespaces(t, unix.CLONE_NEWNS, func() {
		fs := lrm.Agent{Class: lrm.OCF, Provider: "heartbeat", Type: "Filesystem"}
		params := map[string]string{"device": loop, "directory": mnt, "fstype": "ext4"}
		run := func(action string, want exitcode.Code) {
			res := r.Exec(context.Background(), &lrm.Op{Resource: "fs", Agent: fs, Action: action, Params: params, Timeout: 60 * time.Second})
			if res.RC != want || res.Status != lrm.StatusDone {
				errs = append(errs, sprintf("Filesystem %s: rc %d want %d (%s)\n%s\n%s", action, res.RC, want, res.ExitReason, res.Stdout, res.Stderr))
			}
		}
		mounted := func() bool {
			b, _ := os.ReadFile("/proc/thread-self/mounts")
			return strings.Contains(string(b), " "+mnt+" ext4 ")
		}
		run("monitor", 7)
		run("start", 0)
		if !mounted() {
			errs = append(errs, "after start, "+mnt+" is not mounted")
		}
		if err := os.WriteFile(filepath.Join(mnt, "hello"), []byte("hi"), 0o644); err != nil {
			errs = append(errs, "write on the mounted fs: "+err.Error())
		}
		run("monitor", 0)
		run("stop", 0)
		if mounted() {
			errs = append(errs, "after stop, "+mnt+" is still mounted")
		}
		run("monitor", 7)

		// heartbeat 3's resource.d/Filesystem, haresources style
		if _, err := os.Stat("/etc/ha.d/resource.d/Filesystem"); err != nil {
			return
		}
		hb, hp, _ := lrm.ParseHaresource("Filesystem::" + loop + "::" + mnt + "::ext4")
		hr := testRunner(t, "/usr/lib/ocf")
		hr.Dirs.Heartbeat = []string{"/etc/ha.d/resource.d"}
		hrun := func(action string, want exitcode.Code) {
			res := hr.Exec(context.Background(), &lrm.Op{Resource: "fs2", Agent: hb, Action: action, Params: hp, Timeout: 60 * time.Second})
			if res.RC != want || res.Status != lrm.StatusDone {
				errs = append(errs, sprintf("heartbeat:Filesystem %s: rc %d want %d (%s)\n%s\n%s", action, res.RC, want, res.ExitReason, res.Stdout, res.Stderr))
			}
		}
		hrun("status", 7)
		hrun("start", 0)
		if !mounted() {
			errs = append(errs, "after heartbeat:Filesystem start, "+mnt+" is not mounted")
		}
		hrun("status", 0)
		hrun("stop", 0)
		if mounted() {
			errs = append(errs, "after heartbeat:Filesystem stop, "+mnt+" is still mounted")
		}
	})
	if len(errs) > 0 {
		t.Fatal(strings.Join(errs, "\n"))
	}
	// the file written is on the image
	if out, err := sh("debugfs -R 'cat /hello' " + img + " 2>/dev/null"); err == nil && out != "hi" {
		t.Errorf("the image holds %q, want hi", out)
	}
}

func lsbRunner(t *testing.T) (*Runner, string) {
	if _, err := os.Stat("/lib/lsb/init-functions"); err != nil {
		t.Skip("no /lib/lsb/init-functions (Debian package lsb-base / sysvinit-utils)")
	}
	if _, err := exec.LookPath("start-stop-daemon"); err != nil {
		t.Skip("no start-stop-daemon")
	}
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "hbtest-lsb.pid")
	b, err := os.ReadFile("testdata/init.d/hbtest-lsb")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "hbtest-lsb"), []byte(strings.ReplaceAll(string(b), "@PIDFILE@", pidfile)), 0o755)
	r := hbtestOCF(t)
	r.Dirs.LSB = dir
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidfile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
	})
	return r, pidfile
}

func TestLSBLifecycle(t *testing.T) {
	t.Parallel()
	r, pidfile := lsbRunner(t)
	a := lrm.Agent{Class: lrm.LSB, Type: "hbtest-lsb"}
	lifecycle(t, r, a, nil, []step{{"status", 7}, {"monitor", 7}, {"start", 0}, {"status", 0}, {"monitor", 0}})
	// start on a running service is success, though the script says 1
	res := r.Exec(context.Background(), &lrm.Op{Agent: a, Action: "start"})
	if res.RC != 0 || res.AgentExit != 1 || !strings.Contains(res.ExitReason, "running") {
		t.Fatalf("start while running: %+v", res)
	}
	b, _ := os.ReadFile(pidfile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	lifecycle(t, r, a, nil, []step{{"stop", 0}, {"status", 7}})
	if p, _ := ps.FindProcess(pid); p != nil && !zombie(pid) {
		t.Fatalf("daemon %d still runs after stop", pid)
	}
	// stop on a stopped service is success, though the script says 1
	res = r.Exec(context.Background(), &lrm.Op{Agent: a, Action: "stop"})
	if res.RC != 0 || res.AgentExit != 1 {
		t.Fatalf("stop while stopped: %+v", res)
	}
	// a dead daemon with its pid file left: LSB status 1 is "not running"
	os.WriteFile(pidfile, []byte("999999\n"), 0o644)
	res = r.Exec(context.Background(), &lrm.Op{Agent: a, Action: "status"})
	if res.RC != exitcode.OCFNotRunning || res.AgentExit != 1 {
		t.Fatalf("dead with pid file: %+v", res)
	}
	os.Remove(pidfile)
	x, err := r.Metadata(context.Background(), a)
	if err != nil || !strings.Contains(x, "<Provides>hbtest-lsb</Provides>") || !strings.Contains(x, "hb-lrmd test service") {
		t.Fatalf("meta-data: %v\n%s", err, x)
	}

	// Pacemaker's service: class runs the init script when there is one
	svc := lrm.Agent{Class: lrm.Service, Type: "hbtest-lsb"}
	lifecycle(t, r, svc, nil, []step{{"monitor", 7}, {"start", 0}, {"monitor", 0}, {"stop", 0}, {"monitor", 7}})
	if x, err := r.Metadata(context.Background(), svc); err != nil || !strings.Contains(x, "<Provides>hbtest-lsb</Provides>") {
		t.Fatalf("service meta-data: %v", err)
	}
	list, err := r.List(context.Background(), lrm.Service, "")
	if err != nil || !containsAgent(list, "service:hbtest-lsb") {
		t.Fatalf("service list %v %v", list, err)
	}
	// … and the systemd unit otherwise
	if r.SystemdRunning() != nil {
		res := r.Exec(context.Background(), &lrm.Op{Agent: lrm.Agent{Class: lrm.Service, Type: "no-such-script"}, Action: "start"})
		if res.RC != exitcode.OCFErrInstalled || !strings.Contains(res.ExitReason, "systemd is not running") || res.Agent != "service:no-such-script" {
			t.Fatalf("service without script or systemd: %+v", res)
		}
	}
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] == 'Z'
}

func TestLSBDistroScriptStatus(t *testing.T) {
	// a real Debian init script, asked only for its status
	for _, name := range []string{"dbus", "procps", "hwclock.sh"} {
		if _, err := os.Stat("/etc/init.d/" + name); err != nil {
			continue
		}
		r := hbtestOCF(t)
		r.Dirs.LSB = "/etc/init.d"
		res := r.Exec(context.Background(), &lrm.Op{Agent: lrm.Agent{Class: lrm.LSB, Type: name}, Action: "meta-data"})
		if res.RC != 0 || CheckMetadata(res.Stdout) != nil {
			t.Fatalf("lsb:%s meta-data: %+v", name, res)
		}
		if name == "dbus" && !dbusRuns() {
			res = r.Exec(context.Background(), &lrm.Op{Agent: lrm.Agent{Class: lrm.LSB, Type: name}, Action: "status"})
			if res.RC != exitcode.OCFNotRunning || res.AgentExit != 3 {
				t.Fatalf("lsb:dbus status with no dbus: rc %d exit %d\n%s", res.RC, res.AgentExit, res.Stdout)
			}
		}
		return
	}
	t.Skip("no Debian init script found in /etc/init.d")
}

func dbusRuns() bool {
	_, err := os.Stat("/run/dbus/pid")
	return err == nil
}

func TestHeartbeatClass(t *testing.T) {
	r := hbtestOCF(t)
	state := filepath.Join(t.TempDir(), "hb.state")
	a, params, err := lrm.ParseHaresource("hbtest-hb::" + state + "::web")
	if err != nil {
		t.Fatal(err)
	}
	// status exits 3 whatever the state: only its words count
	lifecycle(t, r, a, params, []step{{"status", 7}, {"start", 0}, {"status", 0}, {"monitor", 0}, {"stop", 0}, {"monitor", 7}})
	// stop when stopped: the script says 1, its status says stopped
	res := r.Exec(context.Background(), &lrm.Op{Agent: a, Action: "stop", Params: params})
	if res.RC != 0 || res.AgentExit != 1 {
		t.Fatalf("stop when stopped: %+v", res)
	}
	// the arguments come before the action, in order
	res = r.Exec(context.Background(), &lrm.Op{Agent: a, Action: "start", Params: params})
	if b, _ := os.ReadFile(state); string(b) != "web\n" || !strings.Contains(res.Stdout, "web started") {
		t.Fatalf("arguments not passed in order: state %q, out %q", b, res.Stdout)
	}
	x, err := r.Metadata(context.Background(), a)
	if err != nil || CheckMetadata(x) != nil {
		t.Fatalf("meta-data %v", err)
	}
}

func TestStonithFenceAgent(t *testing.T) {
	t.Parallel()
	r := hbtestOCF(t)
	a := lrm.Agent{Class: lrm.Stonith, Type: "fence_hbtest"}
	sd := t.TempDir()
	p := func(port string) map[string]string {
		m := map[string]string{"hostlist": "node1,node2", "statedir": sd}
		if port != "" {
			m["port"] = port
		}
		return m
	}
	run := func(action, port string, want exitcode.Code) *lrm.Result {
		t.Helper()
		res := r.Exec(context.Background(), &lrm.Op{Agent: a, Action: action, Params: p(port)})
		if res.RC != want || res.Status != lrm.StatusDone {
			t.Fatalf("%s %s: rc %d want %d: %s\n%s", action, port, res.RC, want, res.ExitReason, res.Stderr)
		}
		return res
	}
	run("monitor", "", 0)
	if res := run("list", "", 0); res.Stdout != "node1,\nnode2,\n" {
		t.Fatalf("list %q", res.Stdout)
	}
	run("status", "node2", 0)
	run("off", "node2", 0)
	run("status", "node2", 7)
	run("on", "node2", 0)
	run("reboot", "node1", 0)
	run("status", "node1", 0)
	res := run("off", "node3", 1)
	if !strings.Contains(res.Stderr, "not in hostlist") {
		t.Fatalf("unknown port: %q", res.Stderr)
	}
	log, _ := os.ReadFile(filepath.Join(sd, "log"))
	if strings.Count(string(log), "\n") != 4 || !strings.Contains(string(log), "reboot node1 -> on") {
		t.Fatalf("fence log:\n%s", log)
	}
	x, err := r.Metadata(context.Background(), a)
	if err != nil || !strings.Contains(x, `name="fence_hbtest"`) {
		t.Fatalf("metadata %v", err)
	}
	list, err := r.List(context.Background(), lrm.Stonith, "")
	if err != nil || !containsAgent(list, "stonith:fence_hbtest") {
		t.Fatalf("list %v %v", list, err)
	}
}

func TestStonithGluePlugin(t *testing.T) {
	r := hbtestOCF(t)
	if _, err := os.Stat(r.Dirs.StonithCmd); err != nil {
		t.Skip("cluster-glue's stonith(8) is not installed (Debian package cluster-glue)")
	}
	if _, err := os.Stat(filepath.Join(r.Dirs.StonithPlugins, "stonith2", "null.so")); err != nil {
		t.Skip("cluster-glue's null plugin is not installed")
	}
	a := lrm.Agent{Class: lrm.Stonith, Type: "null"}
	params := map[string]string{"hostlist": "node1 node2"}
	res := r.Exec(context.Background(), &lrm.Op{Agent: a, Action: "list", Params: params})
	if res.RC != 0 || res.Stdout != "node1\nnode2\n" {
		t.Fatalf("list: %+v", res)
	}
	for _, action := range []string{"monitor", "status"} {
		if res := r.Exec(context.Background(), &lrm.Op{Agent: a, Action: action, Params: params}); res.RC != 0 {
			t.Fatalf("%s: %+v", action, res)
		}
	}
	params["port"] = "node2"
	if res := r.Exec(context.Background(), &lrm.Op{Agent: a, Action: "reboot", Params: params}); res.RC != 0 {
		t.Fatalf("reboot: %+v", res)
	}
	if x, err := r.Metadata(context.Background(), a); err != nil || CheckMetadata(x) != nil {
		t.Fatalf("metadata: %v", err)
	}
	if res := r.Exec(context.Background(), &lrm.Op{Agent: a, Action: "promote", Params: params}); res.Status != lrm.StatusNotSupported {
		t.Fatalf("promote on a stonith plugin: %+v", res)
	}
}

func TestSystemdNotRunning(t *testing.T) {
	r := hbtestOCF(t)
	r.Dirs.SystemdRun = filepath.Join(t.TempDir(), "no-systemd-here")
	start := time.Now()
	res := r.Exec(context.Background(), &lrm.Op{Agent: lrm.Agent{Class: lrm.Systemd, Type: "cron"}, Action: "start", Timeout: 20 * time.Second})
	if res.RC != exitcode.OCFErrInstalled || res.Status != lrm.StatusNotConnected || !strings.Contains(res.ExitReason, "systemd is not running") {
		t.Fatalf("%+v", res)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %s: should fail at once", d)
	}
	if _, err := r.List(context.Background(), lrm.Systemd, ""); err == nil {
		t.Fatal("listing systemd units with no systemd did not fail")
	}
	if _, err := r.List(context.Background(), "", ""); err != nil {
		t.Fatalf("listing everything must skip systemd: %v", err)
	}
}

func TestSystemdDBus(t *testing.T) {
	r := hbtestOCF(t)
	if err := r.SystemdRunning(); err != nil {
		t.Skipf("systemd is not running on this machine, so the D-Bus path cannot be tested: %v", err)
	}
	if _, err := os.Stat("/run/dbus/system_bus_socket"); err != nil {
		t.Skip("no system D-Bus socket")
	}
	res := r.Exec(context.Background(), &lrm.Op{Agent: lrm.Agent{Class: lrm.Systemd, Type: "hbtest-does-not-exist"}, Action: "monitor", Timeout: 20 * time.Second})
	if res.Status != lrm.StatusNotInstalled || res.RC != exitcode.OCFErrInstalled {
		t.Fatalf("status of a unit that does not exist: %+v", res)
	}
	list, err := r.List(context.Background(), lrm.Systemd, "")
	if err != nil || len(list) == 0 {
		t.Fatalf("list units: %v", err)
	}
}

// TestSystemdBusWithoutSystemd runs a real D-Bus daemon with no systemd
// behind it: the systemd class must fail at once with a clear reason.
func TestSystemdBusWithoutSystemd(t *testing.T) {
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("no dbus-daemon (Debian package dbus-daemon)")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "bus")
	cmd := exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile", "--address=unix:path="+sock)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	testutil.WaitFor(t, 10*time.Second, "dbus-daemon creating its socket", func() bool {
		_, err := os.Stat(sock)
		return err == nil
	})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+sock)
	r := hbtestOCF(t)
	r.Dirs.SystemdRun = dir // pretend systemd booted the machine
	for _, action := range []string{"start", "monitor"} {
		start := time.Now()
		res := r.Exec(context.Background(), &lrm.Op{Agent: lrm.Agent{Class: lrm.Systemd, Type: "cron"}, Action: action, Timeout: 20 * time.Second})
		if res.RC != exitcode.OCFErrInstalled || res.Status != lrm.StatusNotConnected || !strings.Contains(res.ExitReason, "systemd does not answer on the system D-Bus") {
			t.Fatalf("%s: %+v", action, res)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("%s took %s: should fail at once", action, d)
		}
	}
}

func containsAgent(l []lrm.Agent, name string) bool {
	for _, a := range l {
		if a.String() == name {
			return true
		}
	}
	return false
}

func TestBrokenAgents(t *testing.T) {
	r := hbtestOCF(t)
	ag := func(t string) lrm.Agent { return lrm.Agent{Class: lrm.OCF, Provider: "hbtest", Type: t} }
	exec := func(typ, action string) *lrm.Result {
		return r.Exec(context.Background(), &lrm.Op{Agent: ag(typ), Action: action, Timeout: 10 * time.Second})
	}
	for _, c := range []struct {
		typ    string
		rc     exitcode.Code
		status lrm.OpStatus
		reason string
	}{
		{"missing", exitcode.OCFErrInstalled, lrm.StatusNotInstalled, "is not installed (looked for "},
		{"noexec", exitcode.OCFErrPerm, lrm.StatusError, "chmod +x"},
		{"badinterp", exitcode.OCFErrInstalled, lrm.StatusNotInstalled, "interpreter"},
		{"garbage", exitcode.OCFErrGeneric, lrm.StatusDone, "exited with 42, which is not an OCF exit code"},
		{"reason", exitcode.OCFErrConfigured, lrm.StatusDone, "config file /etc/x.conf is missing"},
	} {
		res := exec(c.typ, "start")
		if res.RC != c.rc || res.Status != c.status || !strings.Contains(res.ExitReason, c.reason) {
			t.Errorf("%s: rc %d status %s reason %q; want rc %d status %s reason ~%q", c.typ, res.RC, res.Status, res.ExitReason, c.rc, c.status, c.reason)
		}
	}
	_, err := r.Metadata(context.Background(), ag("garbage"))
	if err == nil || !strings.Contains(err.Error(), "not valid resource-agent XML") {
		t.Errorf("garbage meta-data: %v", err)
	}
	_, err = r.Metadata(context.Background(), ag("missing"))
	if exitcode.Of(err) != exitcode.NoSuch {
		t.Errorf("missing meta-data: %v", err)
	}
}

func TestTimeoutLeavesNoProcess(t *testing.T) {
	t.Parallel()
	r := hbtestOCF(t)
	pidfile := filepath.Join(t.TempDir(), "pids")
	start := time.Now()
	res := r.Exec(context.Background(), &lrm.Op{Agent: lrm.Agent{Class: lrm.OCF, Provider: "hbtest", Type: "sleeper"},
		Action: "start", Params: map[string]string{"pidfile": pidfile}, Timeout: 500 * time.Millisecond})
	if res.Status != lrm.StatusTimeout || res.RC != exitcode.OCFErrGeneric || !strings.Contains(res.ExitReason, "timed out after 500ms") {
		t.Fatalf("%+v", res)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %s", d)
	}
	b, _ := os.ReadFile(pidfile)
	pids := strings.Fields(string(b))
	if len(pids) != 3 {
		t.Fatalf("pids %q", pids)
	}
	var left []string
	testutil.WaitFor(t, 5*time.Second, "every process of the agent gone", func() bool {
		left = left[:0]
		for _, s := range pids {
			pid, _ := strconv.Atoi(s)
			if p, _ := ps.FindProcess(pid); p != nil && !zombie(pid) {
				left = append(left, s+" "+p.Executable())
			}
		}
		if len(left) > 0 {
			t.Logf("left behind: %v", left)
		}
		return len(left) == 0
	})
}

func TestMegabytesOfOutput(t *testing.T) {
	t.Parallel()
	r := hbtestOCF(t)
	r.Limit = 128 << 10
	res := r.Exec(context.Background(), &lrm.Op{Agent: lrm.Agent{Class: lrm.OCF, Provider: "hbtest", Type: "chatty"}, Action: "start", Timeout: 30 * time.Second})
	if res.Status != lrm.StatusDone || res.RC != 1 || res.ExitReason != "printed 6 MB" || !res.Truncated {
		t.Fatalf("rc %d status %s reason %q truncated %v", res.RC, res.Status, res.ExitReason, res.Truncated)
	}
	if len(res.Stdout) > 130<<10 || len(res.Stderr) > 130<<10 {
		t.Fatalf("kept %d and %d bytes", len(res.Stdout), len(res.Stderr))
	}
}

func TestList(t *testing.T) {
	r := hbtestOCF(t)
	list, err := r.List(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ocf:hbtest:noop", "lsb:hbtest-lsb", "heartbeat:hbtest-hb", "stonith:fence_hbtest"} {
		if !containsAgent(list, want) {
			t.Errorf("list lacks %s", want)
		}
	}
	if containsAgent(list, "ocf:hbtest:noexec") {
		t.Error("a file that is not executable is listed as an agent")
	}
	provs, err := r.Providers()
	if err != nil || len(provs) != 1 || provs[0] != "hbtest" {
		t.Fatalf("providers %v %v", provs, err)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	r := realOCF(t, "/usr/lib/ocf/resource.d/heartbeat/Dummy")
	rep, err := r.Check(context.Background(), "chk", lrm.Agent{Class: lrm.OCF, Provider: "heartbeat", Type: "Dummy"},
		map[string]string{"state": filepath.Join(t.TempDir(), "s")}, 20*time.Second)
	if err != nil || rep.Failures != 0 || len(rep.Steps) < 10 {
		var b strings.Builder
		if rep != nil {
			rep.WriteText(&b)
		}
		t.Fatalf("Dummy: %v\n%s", err, b.String())
	}
	// heartbeat class: status judged by words
	h := hbtestOCF(t)
	a, p, _ := lrm.ParseHaresource("hbtest-hb::" + filepath.Join(t.TempDir(), "hb") + "::web")
	if rep, err := h.Check(context.Background(), "chk", a, p, 20*time.Second); err != nil || rep.Failures != 0 {
		t.Fatalf("heartbeat: %v %+v", err, rep)
	}
	// an agent with no meta-data whose probe finds it running though it
	// is not
	rep, err = h.Check(context.Background(), "chk", lrm.Agent{Class: lrm.OCF, Provider: "hbtest", Type: "flappy"}, nil, 20*time.Second)
	if err != nil || rep.Failures != 2 {
		t.Fatalf("flappy: %v %+v", err, rep)
	}
	var b strings.Builder
	rep.WriteText(&b)
	if !strings.Contains(b.String(), "FAIL  monitor        a probe finds the resource stopped: got 0 (ok), want 7 (not running)") {
		t.Fatalf("report:\n%s", b.String())
	}
	if _, err := h.Check(context.Background(), "chk", lrm.Agent{Class: lrm.Stonith, Type: "fence_hbtest"}, nil, time.Second); exitcode.Of(err) != exitcode.InvalidParam {
		t.Fatalf("stonith: %v", err)
	}
}
