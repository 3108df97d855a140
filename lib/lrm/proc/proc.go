// Package proc runs one resource agent process the way hb-lrmd needs it:
// in its own process group, with only the environment it is given, its
// stdin fed from memory, its stdout and stderr captured into bounded
// buffers, and a timeout that kills the whole group (TERM, then KILL after
// a grace period) and says so.
package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultLimit bounds each captured stream.
const DefaultLimit = 256 << 10

// Spec is one process to run.
type Spec struct {
	Path    string
	Args    []string // without argv[0]
	Env     []string // the whole environment
	Dir     string   // working directory; "/" when empty
	Stdin   []byte   // fed on stdin, then closed; nil gives /dev/null
	Timeout time.Duration
	// Grace is how long the group gets between TERM and KILL; 2s when 0.
	Grace time.Duration
	// Limit bounds each of stdout and stderr; DefaultLimit when 0.
	Limit int
	// Drain is how long to wait, after the process exited, for the pipes
	// to close (a child left in the background may hold them); 200ms when 0.
	Drain time.Duration
}

// Outcome is what happened.
type Outcome struct {
	// Exit is the exit status when the process exited by itself, else -1.
	Exit      int
	Signal    syscall.Signal // the signal that ended it, if any
	TimedOut  bool
	Stdout    string
	Stderr    string
	Truncated bool
	// ExitReasonLine is the last stderr line holding the exit reason
	// prefix given to Run, kept even when the middle of stderr was dropped.
	ReasonLine string
	Start      time.Time
	Duration   time.Duration
	PID        int
}

// ErrNotFound and friends say why a process could not be started.
var (
	ErrNotFound      = errors.New("not found")
	ErrNotExecutable = errors.New("not executable")
)

// StartError is a failure to start the process at all.
type StartError struct {
	Path string
	Err  error
}

func (e *StartError) Error() string { return fmt.Sprintf("cannot run %s: %v", e.Path, e.Err) }
func (e *StartError) Unwrap() error { return e.Err }

// Check reports whether path is an executable regular file, with a
// sentinel error saying what is wrong.
func Check(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return &StartError{path, ErrNotFound}
		}
		return &StartError{path, err}
	}
	if st.IsDir() {
		return &StartError{path, fmt.Errorf("%w: it is a directory", ErrNotExecutable)}
	}
	if unix.Access(path, unix.X_OK) != nil {
		return &StartError{path, fmt.Errorf("%w: mode %v", ErrNotExecutable, st.Mode().Perm())}
	}
	return nil
}

// Run runs spec and waits for it, its timeout, or ctx. Cancelling ctx
// kills the group like a timeout does. reasonPrefix, when not empty,
// makes Run keep the last stderr line containing it even if the
// buffer drops it.
func Run(ctx context.Context, spec *Spec, reasonPrefix string) (*Outcome, error) {
	if !filepath.IsAbs(spec.Path) {
		// the process runs in Dir, where a relative path means another file
		p, err := filepath.Abs(spec.Path)
		if err != nil {
			return nil, &StartError{spec.Path, err}
		}
		s := *spec
		s.Path = p
		spec = &s
	}
	if err := Check(spec.Path); err != nil {
		return nil, err
	}
	limit := spec.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	grace := spec.Grace
	if grace <= 0 {
		grace = 2 * time.Second
	}
	drain := spec.Drain
	if drain <= 0 {
		drain = 200 * time.Millisecond
	}
	dir := spec.Dir
	if dir == "" {
		dir = "/"
	}

	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, &StartError{spec.Path, err}
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, &StartError{spec.Path, err}
	}
	var inR, inW *os.File
	if spec.Stdin != nil {
		if inR, inW, err = os.Pipe(); err != nil {
			outR.Close()
			outW.Close()
			errR.Close()
			errW.Close()
			return nil, &StartError{spec.Path, err}
		}
	}
	cmd := &exec.Cmd{
		Path:        spec.Path,
		Args:        append([]string{spec.Path}, spec.Args...),
		Env:         spec.Env,
		Dir:         dir,
		Stdout:      outW,
		Stderr:      errW,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	if inR != nil {
		cmd.Stdin = inR
	}
	start := time.Now()
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if inR != nil {
		inR.Close()
	}
	if err != nil {
		outR.Close()
		errR.Close()
		if inW != nil {
			inW.Close()
		}
		return nil, &StartError{spec.Path, startErr(err)}
	}
	pgid := cmd.Process.Pid
	if inW != nil {
		go func() {
			_, _ = inW.Write(spec.Stdin)
			inW.Close()
		}()
	}
	stdout := newCapture(limit, "")
	stderr := newCapture(limit, reasonPrefix)
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { defer readers.Done(); _, _ = io.Copy(stdout, outR) }()
	go func() { defer readers.Done(); _, _ = io.Copy(stderr, errR) }()

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	var timer <-chan time.Time
	if spec.Timeout > 0 {
		t := time.NewTimer(spec.Timeout)
		defer t.Stop()
		timer = t.C
	}
	o := &Outcome{Exit: -1, Start: start, PID: pgid}
	var werr error
	select {
	case werr = <-waited:
	case <-timer:
		o.TimedOut = true
		werr = killGroup(pgid, grace, waited)
	case <-ctx.Done():
		o.TimedOut = true
		werr = killGroup(pgid, grace, waited)
	}
	o.Duration = time.Since(start)
	if o.TimedOut {
		// the leader is gone; make sure nothing of its group is left
		_ = unix.Kill(-pgid, unix.SIGKILL)
	}

	// Give the pipes a moment to reach EOF; a background child may hold
	// them open for good, so stop waiting after drain.
	drained := make(chan struct{})
	go func() { readers.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(drain):
		outR.Close()
		errR.Close()
		<-drained
	}
	outR.Close()
	errR.Close()

	var ee *exec.ExitError
	switch {
	case werr == nil:
		o.Exit = 0
	case errors.As(werr, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok {
			if ws.Signaled() {
				o.Signal = ws.Signal()
			} else {
				o.Exit = ws.ExitStatus()
			}
		}
	default:
		return nil, &StartError{spec.Path, werr}
	}
	if o.TimedOut {
		o.Exit = -1
	}
	o.Stdout, o.Truncated = stdout.String()
	var t bool
	o.Stderr, t = stderr.String()
	o.Truncated = o.Truncated || t
	o.ReasonLine = stderr.reason()
	return o, nil
}

func startErr(err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT):
		// the file exists (Check saw it): its interpreter does not
		return fmt.Errorf("%w: its interpreter (the #! line) is missing", ErrNotFound)
	case errors.Is(err, syscall.ENOEXEC):
		return fmt.Errorf("%w: not a program the kernel can run (no #! line?)", ErrNotExecutable)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%w: %v", ErrNotExecutable, err)
	}
	return err
}

// killGroup sends TERM to the group, waits up to grace for the leader,
// then KILLs the group and waits for the leader.
func killGroup(pgid int, grace time.Duration, waited <-chan error) error {
	_ = unix.Kill(-pgid, unix.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case err := <-waited:
		// the leader died; the rest of the group gets KILL below, after
		// the same grace at most
		deadline := time.Now().Add(grace)
		for time.Now().Before(deadline) && unix.Kill(-pgid, 0) == nil {
			time.Sleep(10 * time.Millisecond)
		}
		return err
	case <-t.C:
		_ = unix.Kill(-pgid, unix.SIGKILL)
		return <-waited
	}
}

// capture keeps the first and last half of a stream up to limit bytes,
// counting what it drops, and remembers the last line holding a prefix.
type capture struct {
	mu      sync.Mutex
	limit   int
	head    []byte
	tail    []byte // ring of the last limit/2 bytes once head is full
	dropped int64
	prefix  string
	line    []byte // the current partial line, bounded
	lastHit string
}

func newCapture(limit int, prefix string) *capture {
	return &capture{limit: limit, prefix: prefix}
}

const maxLine = 4096

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	if c.prefix != "" {
		c.scanLines(p)
	}
	half := c.limit / 2
	if room := c.limit - half - len(c.head); room > 0 {
		k := min(room, len(p))
		c.head = append(c.head, p[:k]...)
		p = p[k:]
	}
	if len(p) > 0 {
		c.tail = append(c.tail, p...)
		if over := len(c.tail) - half; over > 0 {
			c.dropped += int64(over)
			c.tail = append(c.tail[:0], c.tail[over:]...)
		}
	}
	return n, nil
}

func (c *capture) scanLines(p []byte) {
	for len(p) > 0 {
		i := indexByte(p, '\n')
		if i < 0 {
			if room := maxLine - len(c.line); room > 0 {
				c.line = append(c.line, p[:min(room, len(p))]...)
			}
			return
		}
		if room := maxLine - len(c.line); room > 0 {
			c.line = append(c.line, p[:min(room, i)]...)
		}
		if strings.Contains(string(c.line), c.prefix) {
			c.lastHit = string(c.line)
		}
		c.line = c.line[:0]
		p = p[i+1:]
	}
}

func indexByte(p []byte, b byte) int {
	for i, c := range p {
		if c == b {
			return i
		}
	}
	return -1
}

func (c *capture) reason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.line) > 0 && strings.Contains(string(c.line), c.prefix) {
		return string(c.line)
	}
	return c.lastHit
}

// String returns the kept text and whether some was dropped.
func (c *capture) String() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dropped == 0 {
		return string(c.head) + string(c.tail), false
	}
	return fmt.Sprintf("%s\n[... %d bytes dropped ...]\n%s", c.head, c.dropped, c.tail), true
}
