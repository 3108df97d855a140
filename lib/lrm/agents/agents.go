// Package agents runs resource agent actions class by class (ocf, lsb,
// heartbeat, systemd, stonith), lists the agents installed, and fetches
// their meta-data. It turns each class's contract, from lib/lrm, into
// processes (lib/lrm/proc) or D-Bus calls (systemd).
package agents

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/lrm"
	"github.com/linux-ha-go/ha/lib/lrm/proc"
)

// Dirs says where each class's agents live.
type Dirs struct {
	OCFRoot   string   // OCF_ROOT; agents in OCFRoot/resource.d/PROVIDER/TYPE
	LSB       string   // init scripts
	Heartbeat []string // heartbeat resource.d directories, searched in order
	Fence     []string // directories holding fence_* agents
	// StonithCmd is cluster-glue's stonith(8); StonithPlugins its plugin
	// directory (stonith2/*.so, external/*).
	StonithCmd     string
	StonithPlugins string
	// SystemdRun is the directory whose presence says systemd runs
	// (sd_booted(3)): /run/systemd/system.
	SystemdRun string
}

// DefaultDirs are the Debian locations; confdir's resource.d comes first
// for the heartbeat class.
func DefaultDirs(confdir string) Dirs {
	hb := []string{filepath.Join(confdir, "resource.d")}
	if filepath.Clean(confdir) != "/etc/ha.d" {
		hb = append(hb, "/etc/ha.d/resource.d")
	}
	return Dirs{
		OCFRoot:        "/usr/lib/ocf",
		LSB:            "/etc/init.d",
		Heartbeat:      hb,
		Fence:          []string{"/usr/sbin"},
		StonithCmd:     "/usr/sbin/stonith",
		StonithPlugins: "/usr/lib/stonith/plugins",
		SystemdRun:     "/run/systemd/system",
	}
}

// Runner runs agent actions.
type Runner struct {
	Dirs Dirs
	// Grace between TERM and KILL on timeout; Limit bounds each output
	// stream. Zero values take proc's defaults.
	Grace time.Duration
	Limit int
	// DefaultTimeout applies when an operation gives none.
	DefaultTimeout time.Duration
	// Node is this node's name, passed to heartbeat-class scripts as
	// HA_CURHOST, as heartbeat does.
	Node string
}

// DefaultTimeout is Pacemaker's default operation timeout.
const DefaultTimeout = 20 * time.Second

// MetadataTimeout bounds a meta-data call.
const MetadataTimeout = 30 * time.Second

// NotFoundError says an agent is not installed.
type NotFoundError struct {
	Agent  lrm.Agent
	Looked []string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("agent %s is not installed (looked for %s)", e.Agent, strings.Join(e.Looked, ", "))
}

// Path finds the executable of an agent of the process-based classes.
func (r *Runner) Path(a lrm.Agent) (string, error) {
	var cands []string
	switch a.Class {
	case lrm.OCF:
		cands = []string{filepath.Join(r.Dirs.OCFRoot, "resource.d", a.Provider, a.Type)}
	case lrm.LSB:
		cands = []string{filepath.Join(r.Dirs.LSB, a.Type)}
	case lrm.Heartbeat:
		for _, d := range r.Dirs.Heartbeat {
			cands = append(cands, filepath.Join(d, a.Type))
		}
		// heartbeat's ResourceManager falls back to /etc/init.d
		cands = append(cands, filepath.Join(r.Dirs.LSB, a.Type))
	case lrm.Stonith:
		if !strings.Contains(a.Type, "/") {
			for _, d := range r.Dirs.Fence {
				cands = append(cands, filepath.Join(d, a.Type))
			}
		}
	default:
		return "", fmt.Errorf("class %s has no executable", a.Class)
	}
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
	}
	return "", &NotFoundError{Agent: a, Looked: cands}
}

// ServiceClass resolves a service: agent as Pacemaker does: the LSB
// init script when one exists, else the systemd unit.
func (r *Runner) ServiceClass(a lrm.Agent) lrm.Agent {
	if _, err := os.Stat(filepath.Join(r.Dirs.LSB, a.Type)); err == nil {
		return lrm.Agent{Class: lrm.LSB, Type: a.Type}
	}
	return lrm.Agent{Class: lrm.Systemd, Type: a.Type}
}

// isGluePlugin reports whether a stonith type is a cluster-glue plugin.
func (r *Runner) isGluePlugin(t string) bool {
	if strings.HasPrefix(t, "external/") {
		_, err := os.Stat(filepath.Join(r.Dirs.StonithPlugins, t))
		return err == nil
	}
	_, err := os.Stat(filepath.Join(r.Dirs.StonithPlugins, "stonith2", t+".so"))
	return err == nil
}

// Exec runs one operation and returns its result; it never returns nil.
// Problems that keep the agent from running at all (missing, not
// executable, no systemd) are results too, with an exit reason.
func (r *Runner) Exec(ctx context.Context, op *lrm.Op) *lrm.Result {
	if op.Timeout <= 0 {
		op.Timeout = r.DefaultTimeout
		if op.Timeout <= 0 {
			op.Timeout = DefaultTimeout
		}
	}
	res := &lrm.Result{Resource: op.Resource, Agent: op.Agent.String(), Action: op.Action,
		Interval: op.Interval, Start: time.Now(), AgentExit: -1}
	switch op.Agent.Class {
	case lrm.OCF:
		r.execOCF(ctx, op, res)
	case lrm.LSB:
		r.execLSB(ctx, op, res)
	case lrm.Heartbeat:
		r.execHeartbeat(ctx, op, res)
	case lrm.Stonith:
		r.execStonith(ctx, op, res)
	case lrm.Systemd:
		r.execSystemd(ctx, op, res)
	case lrm.Service:
		sop := *op
		sop.Agent = r.ServiceClass(op.Agent)
		if sop.Agent.Class == lrm.LSB {
			r.execLSB(ctx, &sop, res)
		} else {
			r.execSystemd(ctx, &sop, res)
		}
	default:
		res.RC, res.Status = exitcode.OCFErrUnimplemented, lrm.StatusNotSupported
		res.ExitReason = fmt.Sprintf("unknown agent class %q", op.Agent.Class)
	}
	if res.Duration == 0 {
		res.Duration = time.Since(res.Start)
	}
	res.Fill()
	return res
}

// run starts one process and fills res from its outcome; it returns the
// outcome, or nil when the process did not run (res then says why).
func (r *Runner) run(ctx context.Context, op *lrm.Op, res *lrm.Result, path string, args, env []string, stdin []byte) *proc.Outcome {
	spec := &proc.Spec{Path: path, Args: args, Env: env, Stdin: stdin,
		Timeout: op.Timeout, Grace: r.Grace, Limit: r.Limit}
	if op.Action == "meta-data" && spec.Limit < 1<<20 {
		spec.Limit = 1 << 20
	}
	o, err := proc.Run(ctx, spec, lrm.ExitReasonPrefix)
	if err != nil {
		startFailure(res, path, err)
		return nil
	}
	res.Start, res.Duration = o.Start, o.Duration
	res.Stdout, res.Stderr, res.Truncated = o.Stdout, o.Stderr, o.Truncated
	res.ExitReason = lrm.ExitReason(o.ReasonLine)
	res.AgentExit = o.Exit
	switch {
	case o.TimedOut:
		res.RC, res.Status = exitcode.OCFErrGeneric, lrm.StatusTimeout
		if ctx.Err() != nil {
			res.Status = lrm.StatusCancelled
			res.ExitReason = "cancelled; the agent's process group was killed"
		} else {
			res.ExitReason = fmt.Sprintf("timed out after %s; the agent's process group was killed", op.Timeout)
		}
		return nil
	case o.Exit < 0:
		res.RC, res.Status = exitcode.OCFErrGeneric, lrm.StatusError
		if res.ExitReason == "" {
			res.ExitReason = fmt.Sprintf("agent was killed by signal %s", signalName(o.Signal))
		}
		return nil
	}
	res.Status = lrm.StatusDone
	return o
}

func signalName(s syscall.Signal) string {
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return fmt.Sprint(int(s))
}

func startFailure(res *lrm.Result, path string, err error) {
	res.Status = lrm.StatusError
	switch {
	case errors.Is(err, proc.ErrNotFound):
		res.RC, res.Status = exitcode.OCFErrInstalled, lrm.StatusNotInstalled
		res.ExitReason = fmt.Sprintf("%s: %v", path, unwrapStart(err))
	case errors.Is(err, proc.ErrNotExecutable):
		res.RC = exitcode.OCFErrPerm
		res.ExitReason = fmt.Sprintf("%s is %v; make it executable (chmod +x)", path, unwrapStart(err))
	default:
		res.RC = exitcode.OCFErrGeneric
		res.ExitReason = err.Error()
	}
}

func unwrapStart(err error) error {
	var se *proc.StartError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}

func notInstalled(res *lrm.Result, err error) {
	res.RC, res.Status = exitcode.OCFErrInstalled, lrm.StatusNotInstalled
	res.ExitReason = err.Error()
}

// ---- ocf

func (r *Runner) execOCF(ctx context.Context, op *lrm.Op, res *lrm.Result) {
	path, err := r.Path(op.Agent)
	if err != nil {
		notInstalled(res, err)
		return
	}
	o := r.run(ctx, op, res, path, []string{op.Action}, lrm.OCFEnv(op, r.Dirs.OCFRoot), nil)
	if o == nil {
		return
	}
	rc, why := lrm.OCFRC(o.Exit)
	res.RC = rc
	if why != "" && res.ExitReason == "" {
		res.ExitReason = why
	}
}

// ---- lsb

func (r *Runner) execLSB(ctx context.Context, op *lrm.Op, res *lrm.Result) {
	path, err := r.Path(op.Agent)
	if err != nil {
		notInstalled(res, err)
		return
	}
	if op.Action == "meta-data" {
		r.syntheticMetadata(op, res, path)
		return
	}
	action := lrm.LSBAction(op.Action)
	env := lrm.PlainEnv(map[string]string{"LANG": "C", "LC_ALL": "C"})
	o := r.run(ctx, op, res, path, []string{action}, env, nil)
	if o == nil {
		return
	}
	setRC(res)(lrm.LSBRC(action, o.Exit))
	r.idempotent(ctx, op, res, func(ctx context.Context, st *lrm.Result) {
		if so := r.run(ctx, op, st, path, []string{"status"}, env, nil); so != nil {
			st.RC, _ = lrm.LSBRC("status", so.Exit)
		}
	})
}

// idempotent makes start on a running service and stop on a stopped one
// a success: when start or stop failed, it asks the service's status
// and, if the service is already where it was asked to go, reports
// success and says so in the exit reason.
func (r *Runner) idempotent(ctx context.Context, op *lrm.Op, res *lrm.Result, status func(context.Context, *lrm.Result)) {
	if res.Status != lrm.StatusDone || res.RC == exitcode.OCFSuccess || (op.Action != "start" && op.Action != "stop") {
		return
	}
	st := &lrm.Result{}
	status(ctx, st)
	if st.Status != lrm.StatusDone {
		return
	}
	if op.Action == "start" && st.RC == exitcode.OCFSuccess {
		res.ExitReason = fmt.Sprintf("start exited with %d but the service is running: counted as success", res.AgentExit)
		res.RC = exitcode.OCFSuccess
	}
	if op.Action == "stop" && st.RC == exitcode.OCFNotRunning {
		res.ExitReason = fmt.Sprintf("stop exited with %d but the service is stopped: counted as success", res.AgentExit)
		res.RC = exitcode.OCFSuccess
	}
}

// setRC returns a function that sets res's rc and, when the agent gave
// none, the exit reason of the class's judgement.
func setRC(res *lrm.Result) func(exitcode.Code, string) {
	return func(rc exitcode.Code, why string) {
		res.RC = rc
		if res.ExitReason == "" {
			res.ExitReason = why
		}
	}
}

// ---- heartbeat

func (r *Runner) execHeartbeat(ctx context.Context, op *lrm.Op, res *lrm.Result) {
	path, err := r.Path(op.Agent)
	if err != nil {
		notInstalled(res, err)
		return
	}
	if op.Action == "meta-data" {
		r.syntheticMetadata(op, res, path)
		return
	}
	action := op.Action
	if action == "monitor" {
		action = "status"
	}
	env := lrm.PlainEnv(map[string]string{"LANG": "C", "LC_ALL": "C", "HA_LOGFACILITY": "none", "HA_CURHOST": r.Node})
	o := r.run(ctx, op, res, path, lrm.HeartbeatArgs(op.Params, action), env, nil)
	if o == nil {
		return
	}
	setRC(res)(lrm.HeartbeatRC(action, o.Exit, o.Stdout))
	r.idempotent(ctx, op, res, func(ctx context.Context, st *lrm.Result) {
		if so := r.run(ctx, op, st, path, lrm.HeartbeatArgs(op.Params, "status"), env, nil); so != nil {
			st.RC, _ = lrm.HeartbeatRC("status", so.Exit, so.Stdout)
		}
	})
}

// ---- stonith

func (r *Runner) execStonith(ctx context.Context, op *lrm.Op, res *lrm.Result) {
	if r.isGluePlugin(op.Agent.Type) {
		r.execGlue(ctx, op, res)
		return
	}
	path, err := r.Path(op.Agent)
	if err != nil {
		if r.Dirs.StonithPlugins != "" {
			var nf *NotFoundError
			if errors.As(err, &nf) {
				nf.Looked = append(nf.Looked, "a cluster-glue plugin in "+r.Dirs.StonithPlugins)
			}
		}
		notInstalled(res, err)
		return
	}
	action := lrm.FenceAction(op.Action)
	stdin, err := lrm.FenceStdin(action, op.Params)
	if err != nil {
		res.RC, res.Status, res.ExitReason = exitcode.OCFErrConfigured, lrm.StatusInvalid, err.Error()
		return
	}
	o := r.run(ctx, op, res, path, nil, lrm.PlainEnv(map[string]string{"LANG": "C", "LC_ALL": "C"}), stdin)
	if o == nil {
		return
	}
	if o.Exit != 0 && res.ExitReason == "" {
		// fence agents say what went wrong on stderr, not with a prefix
		res.ExitReason = lastLine(o.Stderr)
	}
	setRC(res)(lrm.StonithRC(action, o.Exit))
}

// lastLine returns the last non-empty line of s, bounded like an exit
// reason.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	l := strings.TrimSpace(lines[len(lines)-1])
	if len(l) > lrm.MaxExitReason {
		l = l[:lrm.MaxExitReason]
	}
	return strings.ToValidUTF8(l, "")
}

func (r *Runner) execGlue(ctx context.Context, op *lrm.Op, res *lrm.Result) {
	args, err := lrm.GlueStonithArgs(op.Action, lrm.FenceTarget(op.Params))
	if err != nil {
		res.RC, res.Status, res.ExitReason = exitcode.OCFErrUnimplemented, lrm.StatusNotSupported, err.Error()
		return
	}
	full := []string{"-t", op.Agent.Type}
	if op.Action != "meta-data" && op.Action != "metadata" {
		keys := make([]string, 0, len(op.Params))
		for k := range op.Params {
			if k != "port" && k != "plug" && k != "nodename" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			full = append(full, k+"="+op.Params[k])
		}
	}
	full = append(full, args...)
	o := r.run(ctx, op, res, r.Dirs.StonithCmd, full, lrm.PlainEnv(map[string]string{"LANG": "C", "LC_ALL": "C"}), nil)
	if o == nil {
		return
	}
	setRC(res)(lrm.StonithRC(op.Action, o.Exit))
}

// ---- meta-data

// ErrBadMetadata says an agent's meta-data is not usable XML.
var ErrBadMetadata = errors.New("meta-data is not valid resource-agent XML")

// Metadata returns an agent's meta-data XML. For lsb, heartbeat and
// systemd agents, which have none, it is made up from what is known (the
// LSB header of an init script), as Pacemaker does.
func (r *Runner) Metadata(ctx context.Context, a lrm.Agent) (string, error) {
	op := &lrm.Op{Agent: a, Action: "meta-data", Timeout: MetadataTimeout}
	if a.Class == lrm.Service {
		a = r.ServiceClass(a)
	}
	if a.Class == lrm.Systemd {
		return systemdMetadata(a), nil
	}
	res := r.Exec(ctx, op)
	if res.Status != lrm.StatusDone || res.RC != exitcode.OCFSuccess {
		msg := res.ExitReason
		if msg == "" {
			msg = fmt.Sprintf("exited with %d (%s)", int(res.RC), exitcode.OCFName(res.RC))
		}
		return "", exitcode.Wrap(metaExit(res), fmt.Errorf("%s meta-data: %s", a, msg), "")
	}
	if err := CheckMetadata(res.Stdout); err != nil {
		return "", exitcode.Wrap(exitcode.DataErr, fmt.Errorf("%s: %w", a, err),
			fmt.Sprintf("run the agent by hand (hb-lrmd exec %s meta-data) and fix what it prints", a))
	}
	return res.Stdout, nil
}

func metaExit(res *lrm.Result) exitcode.Code {
	if res.Status == lrm.StatusNotInstalled {
		return exitcode.NoSuch
	}
	if res.Status == lrm.StatusTimeout {
		return exitcode.Timeout
	}
	return exitcode.Error
}

// CheckMetadata reports whether s is XML whose root is <resource-agent>.
func CheckMetadata(s string) error {
	var root struct {
		XMLName xml.Name
	}
	if err := xml.Unmarshal([]byte(s), &root); err != nil {
		first := strings.SplitN(strings.TrimSpace(s), "\n", 2)[0]
		if len(first) > 60 {
			first = first[:60] + "…"
		}
		return fmt.Errorf("%w: %v (output starts %q)", ErrBadMetadata, err, first)
	}
	if root.XMLName.Local != "resource-agent" {
		return fmt.Errorf("%w: the root element is <%s>, not <resource-agent>", ErrBadMetadata, root.XMLName.Local)
	}
	return nil
}

func (r *Runner) syntheticMetadata(op *lrm.Op, res *lrm.Result, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		res.RC, res.Status, res.ExitReason = exitcode.OCFErrPerm, lrm.StatusError, err.Error()
		return
	}
	if op.Agent.Class == lrm.LSB {
		res.Stdout = lrm.LSBMetadata(op.Agent.Type, lrm.ParseLSBHeader(string(b)))
	} else {
		res.Stdout = lrm.HeartbeatMetadata(op.Agent.Type)
	}
	res.RC, res.Status, res.AgentExit = exitcode.OCFSuccess, lrm.StatusDone, 0
}
