package conf_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/linux-ha-go/ha/lib/drbd/adm"
	"github.com/linux-ha-go/ha/lib/drbd/api"
)

// oracleCase is one file of testdata/oracle: a configuration (with its
// includes) and commands, run through the real drbdadm 8.4 and through
// godrbdadm; stdout, stderr and exit code must be the same.
//
// Directives in the txtar comment:
//
//	node NAME        the node's name (uname -n for drbdadm)
//	ip ADDR          an address of this node (added to lo for drbdadm)
//	run ARGS...      a drbdadm command line (after -c drbd.conf)
type oracleCase struct {
	node string
	ips  []string
	runs [][]string
}

func parseCase(t *testing.T, a *txtar.Archive) oracleCase {
	c := oracleCase{node: "alice"}
	for _, line := range strings.Split(string(a.Comment), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "node":
			c.node = f[1]
		case "ip":
			c.ips = append(c.ips, f[1:]...)
		case "run":
			c.runs = append(c.runs, f[1:])
		default:
			t.Fatalf("unknown directive %q", line)
		}
	}
	return c
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// fataler is *testing.T or *rapid.T.
type fataler interface {
	Fatalf(format string, args ...any)
}

// realDrbdadm runs drbdadm 8.4 in fresh UTS and network namespaces with
// the node's name and addresses, once per command line of runs (one
// namespace for them all: creating network namespaces is slow).
func realDrbdadm(t fataler, dir string, c oracleCase, runs [][]string) []result {
	var sc strings.Builder
	sc.WriteString("ip link set lo up || exit 99\n")
	for _, a := range c.ips {
		pfx := "/32"
		if strings.Contains(a, ":") {
			pfx = "/128 nodad"
		}
		fmt.Fprintf(&sc, "ip addr add %s%s dev lo || exit 99\n", a, pfx)
	}
	fmt.Fprintf(&sc, "hostname %s || exit 99\n", c.node)
	out := filepath.Join(dir, ".oracle")
	os.RemoveAll(out)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatalf("%v", err)
	}
	for i, args := range runs {
		q := make([]string, len(args))
		for k, a := range args {
			q[k] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		fmt.Fprintf(&sc, "env DRBD_DRIVER_VERSION_OVERRIDE=8.4.11 drbdadm -c drbd.conf %s </dev/null >%s/%d.out 2>%s/%d.err; echo $? >%s/%d.rc\n",
			strings.Join(q, " "), out, i, out, i, out, i)
	}
	cmd := exec.Command("unshare", "--net", "--uts", "sh", "-c", sc.String())
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("running drbdadm in namespaces: %v\n%s", err, b)
	}
	res := make([]result, len(runs))
	for i := range runs {
		o, _ := os.ReadFile(fmt.Sprintf("%s/%d.out", out, i))
		e, _ := os.ReadFile(fmt.Sprintf("%s/%d.err", out, i))
		rc, err := os.ReadFile(fmt.Sprintf("%s/%d.rc", out, i))
		if err != nil {
			t.Fatalf("no exit code of drbdadm %v", runs[i])
		}
		code, _ := strconv.Atoi(strings.TrimSpace(string(rc)))
		res[i] = result{string(o), string(e), code}
	}
	os.RemoveAll(out)
	return res
}

// splitArgs separates drbdadm's global options from the command.
func splitArgs(args []string) (o adm.Options, cmd string, res []string, flags []api.Option) {
	for _, a := range args {
		switch {
		case a == "-d":
			o.DryRun++
		case a == "-v":
			o.Verbose = true
		case strings.HasPrefix(a, "--peer="):
			o.Peer = a[7:]
		case strings.HasPrefix(a, "--"):
			n, v, _ := strings.Cut(a[2:], "=")
			flags = append(flags, api.Option{Name: n, Value: v})
		case cmd == "":
			cmd = a
		default:
			res = append(res, a)
		}
	}
	return
}

func ours(t fataler, rundir string, c oracleCase, args []string) result {
	o, cmd, res, flags := splitArgs(args)
	var out, errb bytes.Buffer
	o.ConfigFile = "drbd.conf"
	o.Node = c.node
	o.NoTTY = true
	o.Rundir = rundir
	o.Stdout, o.Stderr = &out, &errb
	have := map[string]bool{}
	for _, a := range c.ips {
		have[a] = true
	}
	o.HaveIP = func(af, addr string) bool {
		if af != "ipv4" && af != "ipv6" {
			return true
		}
		return have[addr]
	}
	err := adm.Run(context.Background(), &o, cmd, res, flags)
	code, ok := adm.CodeOf(err)
	if err != nil && !ok {
		t.Fatalf("godrbdadm %v: %v", args, err)
	}
	return result{out.String(), errb.String(), int(code)}
}

var (
	timeoutBug = regexp.MustCompile(`(?m)^    cmd-timeout-(medium 600|long 0);\n`)
	setupName  = regexp.MustCompile(`(?m)^drbdsetup-84 `)
	metaLine   = regexp.MustCompile(`(?m)^drbdmeta (\S+) v08 (\S+) (\S+) (\S+)`)
)

// normalise removes what drbd-utils 9.22 prints that is not DRBD 8.4
// behaviour (the cmd-timeout lines of a bug in shared_main.c), and
// renames the helpers of a dry run: `drbdsetup-84 X` is `godrbd X`,
// `drbdmeta MINOR v08 DEV IDX CMD` is `godrbd CMD MINOR DEV IDX`.
func normalise(r result, conf string) result {
	if !strings.Contains(conf, "cmd-timeout") {
		r.stdout = timeoutBug.ReplaceAllString(r.stdout, "")
	}
	r.stdout = setupName.ReplaceAllString(r.stdout, "godrbd ")
	r.stdout = metaLine.ReplaceAllString(r.stdout, "godrbd $4 $1 $2 $3")
	return r
}

func needOracle(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("drbdadm"); err != nil {
		t.Skip("drbdadm (Debian package drbd-utils) is not installed: no oracle")
	}
	if _, err := os.Stat("/usr/lib/drbd/drbdadm-84"); err != nil {
		t.Skip("/usr/lib/drbd/drbdadm-84 is missing (drbd-utils without the 8.4 front end): no oracle")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to run drbdadm in its own UTS and network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) is missing")
	}
}

func TestOracleDrbdadm(t *testing.T) {
	needOracle(t)
	files, _ := filepath.Glob("testdata/oracle/*.txtar")
	if len(files) < minOracleCases {
		t.Fatalf("only %d oracle cases", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txtar"), func(t *testing.T) {
			a, err := txtar.ParseFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c := parseCase(t, a)
			dir := t.TempDir()
			var confText string
			for _, af := range a.Files {
				p := filepath.Join(dir, af.Name)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, af.Data, 0o644); err != nil {
					t.Fatal(err)
				}
				confText += string(af.Data)
			}
			t.Chdir(dir)
			real := realDrbdadm(t, dir, c, c.runs)
			for i, args := range c.runs {
				want := normalise(real[i], confText)
				got := ours(t, t.TempDir(), c, args)
				if got != want {
					t.Errorf("%s: drbdadm %s\n=== drbdadm:\n%s=== godrbdadm:\n%s", f, strings.Join(args, " "), want, got)
				}
			}
		})
	}
}

var minOracleCases = 20
