package units

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/api"
	"github.com/linux-ha-go/ha/lib/testutil"
)

const unitDir = "../../../contrib/systemd"

// installed copies the units into a directory with /usr/sbin/ rewritten
// to the built programs, as make install rewrites it to $(SBINDIR).
func installed(t *testing.T) string {
	t.Helper()
	bin := filepath.Dir(testutil.Bin(t, "godrbdadm"))
	testutil.Bin(t, "godrbd")
	dir := t.TempDir()
	for _, name := range []string{"godrbd.service", "godrbd@.service"} {
		b, err := os.ReadFile(filepath.Join(unitDir, name))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), "/usr/sbin/", bin+"/")
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// systemd-analyze verify accepts godrbd.service and an instance of
// godrbd@.service (loaded from the template next to it) without a word.
func TestSystemdAnalyzeVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("no systemd-analyze (Debian package systemd)")
	}
	dir := installed(t)
	for _, unit := range []string{"godrbd.service", "godrbd@r0.service"} {
		out, err := exec.Command("systemd-analyze", "verify", "--man=no", filepath.Join(dir, "godrbd.service"), filepath.Join(dir, unit)).CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) != 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
		}
	}
}

// directives returns the unit's Key=value lines (the last value wins for
// single-valued keys; the test looks only at those).
func directives(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok {
			m[k] = v
		}
	}
	return m
}

// godrbd@.service is a oneshot that stays active, runs adjust/down on
// its instance from /usr/sbin, and is bound to godrbd.service.
func TestTemplateUnitShape(t *testing.T) {
	d := directives(t, filepath.Join(unitDir, "godrbd@.service"))
	want := map[string]string{
		"Type":            "oneshot",
		"RemainAfterExit": "yes",
		"ExecStart":       "/usr/sbin/godrbdadm adjust %i",
		"ExecStop":        "/usr/sbin/godrbdadm down %i",
		"Requires":        "godrbd.service",
		"PartOf":          "godrbd.service",
		"WantedBy":        "multi-user.target",
	}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("godrbd@.service: %s=%q, want %q", k, d[k], v)
		}
	}
	if !strings.Contains(d["After"], "godrbd.service") {
		t.Errorf("godrbd@.service: After=%q does not order it after godrbd.service", d["After"])
	}
	if !strings.Contains(d["Documentation"], "man:godrbd@.service(8)") {
		t.Errorf("godrbd@.service: Documentation=%q lacks its man page", d["Documentation"])
	}
	if _, err := os.Stat("../../../man/godrbd@.service.8"); err != nil {
		t.Error(err)
	}
	if _, err := exec.LookPath("mandoc"); err == nil {
		out, err := exec.Command("mandoc", "-Tlint", "-Wwarning", "../../../man/godrbd@.service.8").CombinedOutput()
		if err != nil {
			t.Errorf("mandoc -Tlint: %v\n%s", err, out)
		}
	}
}

// The template's ExecStart and ExecStop, run as systemd would for
// godrbd@r0 (with %i expanded, the programs from the build and the test's
// drbd.conf, rundir and node name added in front of the arguments), bring
// r0 up on a real godrbd, re-apply it when run again (a restart), and
// take it down.
func TestTemplateCommands(t *testing.T) {
	adm := testutil.Bin(t, "godrbdadm")
	bin := testutil.Bin(t, "godrbd")
	d := directives(t, filepath.Join(unitDir, "godrbd@.service"))
	dir := t.TempDir()
	rundir := filepath.Join(dir, "run")
	disk := filepath.Join(dir, "disk")
	if err := os.WriteFile(disk, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(disk, 8<<20); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := filepath.Join(dir, "drbd.conf")
	text := "global { disable-ip-verification; usage-count no; }\nresource r0 {\n  protocol C;\n" +
		"  on alice { device /dev/drbd0; disk " + disk + "; address 127.0.0.1:" + itoa(port) + "; meta-disk internal; }\n" +
		"  on bob   { device /dev/drbd0; disk /dev/null; address 127.0.0.2:" + itoa(port) + "; meta-disk internal; }\n}\n"
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"-c", conf, "--node", "alice", "--rundir", rundir}
	run := func(args ...string) (string, int) {
		t.Helper()
		out, errOut, code := testutil.Run(t, nil, adm, append(common, args...)...)
		return strings.TrimSpace(out + errOut), code
	}
	// unit runs one Exec line of the unit.
	unit := func(key string) {
		t.Helper()
		f := strings.Fields(strings.ReplaceAll(d[key], "%i", "r0"))
		if len(f) < 2 || f[0] != "/usr/sbin/godrbdadm" {
			t.Fatalf("%s=%q: want /usr/sbin/godrbdadm ...", key, d[key])
		}
		if out, code := run(f[1:]...); code != 0 {
			t.Fatalf("%s (godrbdadm %s): exit %d\n%s", key, strings.Join(f[1:], " "), code, out)
		}
	}
	p := testutil.Start(t, "godrbd", nil, bin, "--rundir", rundir, "--statedir", filepath.Join(dir, "state"), "--node", "alice", "run")
	testutil.WaitFor(t, 5*time.Second, "godrbd's socket", func() bool {
		c, err := net.Dial("unix", filepath.Join(rundir, api.SocketName))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if out, code := run("create-md", "r0"); code != 0 {
		t.Fatalf("create-md: exit %d\n%s", code, out)
	}
	cstate := func() string { out, _ := run("cstate", "r0"); return out }
	dstate := func() string { out, _ := run("dstate", "r0"); return out }
	down := cstate()

	unit("ExecStart") // systemctl start godrbd@r0
	if got := dstate(); got != "Inconsistent/DUnknown" {
		t.Errorf("after ExecStart: dstate %q, want Inconsistent/DUnknown (attached)", got)
	}
	up := cstate()
	if up != "WFConnection" || !strings.Contains(down, "minor not allocated") {
		t.Errorf("cstate before ExecStart %q, after %q: want unconfigured, then WFConnection (no peer runs)", down, up)
	}
	unit("ExecStart") // systemctl restart godrbd@r0: adjust again is harmless
	if got := dstate(); got != "Inconsistent/DUnknown" {
		t.Errorf("after a second ExecStart: dstate %q", got)
	}
	unit("ExecStop") // systemctl stop godrbd@r0
	if got := cstate(); got != down {
		t.Errorf("after ExecStop: cstate %q, want %q as before ExecStart", got, down)
	}
	if got := dstate(); got == "Inconsistent/DUnknown" {
		t.Errorf("after ExecStop: dstate %q, want detached", got)
	}
	if !p.Stop(10 * time.Second) {
		t.Error("godrbd did not end on SIGTERM")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
