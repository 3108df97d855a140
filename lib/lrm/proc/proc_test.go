package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	ps "github.com/mitchellh/go-ps"
	"pgregory.net/rapid"

	"github.com/linux-ha-go/ha/lib/testutil"
)

func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "agent")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// pidsIn reads the PIDs a test script wrote, one a line.
func pidsIn(t *testing.T, file string) []int {
	t.Helper()
	var out []int
	testutil.WaitFor(t, 5*time.Second, "PIDs in "+file, func() bool {
		b, _ := os.ReadFile(file)
		out = out[:0]
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
		return len(out) > 0
	})
	return out
}

// waitGone polls go-ps until none of pids is a live process (zombies of
// reaped orphans vanish within moments).
func waitGone(t *testing.T, pids []int) {
	t.Helper()
	var left []int
	testutil.WaitFor(t, 5*time.Second, "every process gone", func() bool {
		left = left[:0]
		for _, pid := range pids {
			p, err := ps.FindProcess(pid)
			if err != nil {
				t.Fatal(err)
			}
			if p != nil && !isZombie(pid) {
				left = append(left, pid)
			}
		}
		if len(left) > 0 {
			t.Logf("left behind: %v", left)
		}
		return len(left) == 0
	})
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] == 'Z'
}

func TestExitStatusAndCleanEnv(t *testing.T) {
	os.Setenv("HBTEST_LEAK", "secret")
	defer os.Unsetenv("HBTEST_LEAK")
	p := script(t, `echo "out:$FOO:${HBTEST_LEAK:-none}:$(pwd)"; echo err >&2; exit 7`)
	o, err := Run(context.Background(), &Spec{Path: p, Env: []string{"FOO=bar", "PATH=/usr/bin:/bin"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if o.Exit != 7 || o.TimedOut || o.Stdout != "out:bar:none:/\n" || o.Stderr != "err\n" {
		t.Fatalf("%+v", o)
	}
}

func TestStdin(t *testing.T) {
	p := script(t, `cat`)
	o, err := Run(context.Background(), &Spec{Path: p, Stdin: []byte("action=on\nport=n1\n")}, "")
	if err != nil || o.Stdout != "action=on\nport=n1\n" {
		t.Fatalf("%v %+v", err, o)
	}
}

func TestTimeoutKillsTheWholeGroup(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pids")
	p := script(t, `sleep 1000 & echo $! >> `+pidfile+`
sleep 1000 & echo $! >> `+pidfile+`
echo $$ >> `+pidfile+`
wait`)
	start := time.Now()
	o, err := Run(context.Background(), &Spec{Path: p, Timeout: 300 * time.Millisecond, Grace: time.Second}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !o.TimedOut || o.Exit != -1 {
		t.Fatalf("not reported as a timeout: %+v", o)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %s", d)
	}
	pids := pidsIn(t, pidfile)
	if len(pids) != 3 {
		t.Fatalf("pids %v", pids)
	}
	waitGone(t, pids)
}

func TestTimeoutEscalatesToKill(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pids")
	// the agent and its child ignore TERM
	p := script(t, `trap '' TERM
sh -c 'trap "" TERM; echo $$ >> `+pidfile+`; while :; do sleep 1; done' &
echo $$ >> `+pidfile+`
while :; do sleep 1; done`)
	start := time.Now()
	o, err := Run(context.Background(), &Spec{Path: p, Timeout: 300 * time.Millisecond, Grace: 300 * time.Millisecond}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !o.TimedOut {
		t.Fatalf("%+v", o)
	}
	if d := time.Since(start); d < 600*time.Millisecond || d > 4*time.Second {
		t.Fatalf("TERM-ignoring agent ended after %s; want timeout+grace", d)
	}
	pids := pidsIn(t, pidfile)
	if len(pids) < 2 {
		t.Fatalf("pids %v", pids)
	}
	waitGone(t, pids)
}

func TestBoundedOutputKeepsHeadTailAndReason(t *testing.T) {
	// 4 MB on each stream, the exit reason in the middle of stderr
	p := script(t, `head -c 2000000 /dev/zero | tr '\0' a
head -c 2000000 /dev/zero | tr '\0' b >&2
echo >&2
echo "ocf-exit-reason:disk on fire" >&2
head -c 2000000 /dev/zero | tr '\0' c >&2
head -c 2000000 /dev/zero | tr '\0' d
exit 1`)
	o, err := Run(context.Background(), &Spec{Path: p, Limit: 64 << 10, Timeout: 30 * time.Second}, "ocf-exit-reason:")
	if err != nil {
		t.Fatal(err)
	}
	if o.Exit != 1 || !o.Truncated {
		t.Fatalf("exit %d truncated %v", o.Exit, o.Truncated)
	}
	if len(o.Stdout) > 70<<10 || len(o.Stderr) > 70<<10 {
		t.Fatalf("output not bounded: %d %d", len(o.Stdout), len(o.Stderr))
	}
	if !strings.HasPrefix(o.Stdout, "aaa") || !strings.HasSuffix(o.Stdout, "ddd") || !strings.Contains(o.Stdout, "bytes dropped") {
		t.Fatalf("stdout keeps head and tail: %q…%q", o.Stdout[:10], o.Stdout[len(o.Stdout)-10:])
	}
	if o.ReasonLine != "ocf-exit-reason:disk on fire" {
		t.Fatalf("reason line %q", o.ReasonLine)
	}
}

func TestBackgroundChildHoldingThePipe(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pids")
	// a start action that leaves a daemon behind with stdout still open
	p := script(t, `sleep 30 & echo $! > `+pidfile+`
echo started
exit 0`)
	start := time.Now()
	o, err := Run(context.Background(), &Spec{Path: p, Timeout: 10 * time.Second}, "")
	if err != nil {
		t.Fatal(err)
	}
	if o.Exit != 0 || o.Stdout != "started\n" {
		t.Fatalf("%+v", o)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("waited %s for a pipe held by a background child", d)
	}
	// the daemon a start leaves behind is not killed
	pids := pidsIn(t, pidfile)
	if pr, _ := ps.FindProcess(pids[0]); pr == nil {
		t.Fatal("the background child of a successful action was killed")
	}
	pr, _ := os.FindProcess(pids[0])
	pr.Kill()
	waitGone(t, pids)
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Run(context.Background(), &Spec{Path: filepath.Join(dir, "missing")}, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	noexec := filepath.Join(dir, "noexec")
	os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644)
	if os.Geteuid() == 0 {
		// root may execute nothing without an x bit either
		if _, err := Run(context.Background(), &Spec{Path: noexec}, ""); !errors.Is(err, ErrNotExecutable) {
			t.Fatalf("not executable: %v", err)
		}
	}
	badint := filepath.Join(dir, "badint")
	os.WriteFile(badint, []byte("#!/nonexistent/interpreter\n"), 0o755)
	_, err := Run(context.Background(), &Spec{Path: badint}, "")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "interpreter") {
		t.Fatalf("bad interpreter: %v", err)
	}
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte{0x7f, 'E', 'L', 'F', 0, 1, 2, 3}, 0o755)
	if _, err := Run(context.Background(), &Spec{Path: garbage}, ""); !errors.Is(err, ErrNotExecutable) {
		t.Fatalf("garbage binary: %v", err)
	}
	if _, err := Run(context.Background(), &Spec{Path: dir}, ""); !errors.Is(err, ErrNotExecutable) {
		t.Fatalf("directory: %v", err)
	}
}

func TestCaptureBound(t *testing.T) {
	c := newCapture(10, "R:")
	for _, s := range []string{"0123", "4567", "89ab", "cdef", "x\nR:", "why\nend"} {
		c.Write([]byte(s))
	}
	s, trunc := c.String()
	if !trunc || !strings.HasPrefix(s, "01234") || !strings.HasSuffix(s, "y\nend") {
		t.Fatalf("%q %v", s, trunc)
	}
	if c.reason() != "R:why" {
		t.Fatalf("reason %q", c.reason())
	}
}

// The bounded capture keeps exactly the head and tail of what was
// written, however the writes are cut.
func TestCaptureProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		limit := rapid.IntRange(2, 64).Draw(t, "limit")
		data := rapid.SliceOfN(rapid.SampledFrom([]byte("ab\nR:x")), 0, 300).Draw(t, "data")
		c := newCapture(limit, "R:")
		rest := data
		for len(rest) > 0 {
			n := rapid.IntRange(1, len(rest)).Draw(t, "chunk")
			c.Write(rest[:n])
			rest = rest[n:]
		}
		got, trunc := c.String()
		if len(data) <= limit {
			if trunc || got != string(data) {
				t.Fatalf("short input changed: %q -> %q", data, got)
			}
		} else {
			head := limit - limit/2
			tail := limit / 2
			want := fmt.Sprintf("%s\n[... %d bytes dropped ...]\n%s", data[:head], len(data)-head-tail, data[len(data)-tail:])
			if !trunc || got != want {
				t.Fatalf("got %q want %q", got, want)
			}
		}
		// the reason line is the last line holding the prefix
		var want string
		for _, l := range strings.Split(string(data), "\n") {
			if strings.Contains(l, "R:") {
				want = l
			}
		}
		if r := c.reason(); r != want {
			t.Fatalf("reason %q want %q in %q", r, want, data)
		}
	})
}
