package agents

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"

	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/lrm"
)

// ErrNoSystemd says systemd does not run on this machine.
var ErrNoSystemd = errors.New("systemd is not running on this machine")

// systemdConnectTimeout bounds reaching systemd over D-Bus, so that a bus
// with no systemd behind it gives an error, not a hang.
const systemdConnectTimeout = 5 * time.Second

// SystemdRunning reports whether systemd runs (sd_booted(3): its run
// directory exists), with an error that says what to do when not.
func (r *Runner) SystemdRunning() error {
	dir := r.Dirs.SystemdRun
	if dir == "" {
		dir = "/run/systemd/system"
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("%w (no %s): systemd: agents cannot be used here; use an lsb: or ocf: agent instead", ErrNoSystemd, dir)
	}
	return nil
}

func (r *Runner) systemdConn(ctx context.Context) (*sddbus.Conn, error) {
	if err := r.SystemdRunning(); err != nil {
		return nil, err
	}
	// The connection lives as long as ctx (godbus closes it when ctx
	// ends), so ctx must outlive its use; the connection attempt itself
	// is bounded separately.
	type dialed struct {
		c   *sddbus.Conn
		err error
	}
	ch := make(chan dialed, 1)
	go func() {
		c, err := sddbus.NewSystemConnectionContext(ctx)
		ch <- dialed{c, err}
	}()
	t := time.NewTimer(systemdConnectTimeout)
	defer t.Stop()
	select {
	case d := <-ch:
		if d.err != nil {
			return nil, fmt.Errorf("cannot reach systemd on the system D-Bus: %w", d.err)
		}
		return d.c, nil
	case <-t.C:
		go func() {
			if d := <-ch; d.c != nil {
				d.c.Close()
			}
		}()
		return nil, fmt.Errorf("cannot reach systemd on the system D-Bus: no answer within %s", systemdConnectTimeout)
	}
}

func (r *Runner) execSystemd(ctx context.Context, op *lrm.Op, res *lrm.Result) {
	unit := lrm.SystemdUnit(op.Agent.Type)
	if op.Action == "meta-data" {
		res.Stdout = lrm.SystemdMetadata(unit)
		res.RC, res.Status, res.AgentExit = exitcode.OCFSuccess, lrm.StatusDone, 0
		return
	}
	ctx, cancel := context.WithTimeout(ctx, op.Timeout)
	defer cancel()
	conn, err := r.systemdConn(ctx)
	if err != nil {
		res.RC, res.Status, res.ExitReason = exitcode.OCFErrInstalled, lrm.StatusNotConnected, err.Error()
		return
	}
	defer conn.Close()
	fail := func(err error) {
		if ctx.Err() != nil {
			res.RC, res.Status = exitcode.OCFErrGeneric, lrm.StatusTimeout
			res.ExitReason = fmt.Sprintf("timed out after %s waiting for systemd", op.Timeout)
			return
		}
		var de godbus.Error
		// no systemd1 on the bus: unknown, or its activation failed (Debian
		// ships an activation file that runs /bin/false)
		if errors.As(err, &de) && (de.Name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
			de.Name == "org.freedesktop.DBus.Error.NameHasNoOwner" || strings.HasPrefix(de.Name, "org.freedesktop.DBus.Error.Spawn.")) {
			res.RC, res.Status = exitcode.OCFErrInstalled, lrm.StatusNotConnected
			res.ExitReason = fmt.Sprintf("%v: systemd does not answer on the system D-Bus (%v)", ErrNoSystemd, err)
			return
		}
		res.RC, res.Status, res.ExitReason = exitcode.OCFErrGeneric, lrm.StatusError, err.Error()
	}
	prop := func(name string) (string, bool) {
		p, err := conn.GetUnitPropertyContext(ctx, unit, name)
		if err != nil {
			fail(err)
			return "", false
		}
		s, _ := p.Value.Value().(string)
		return s, true
	}
	// a unit systemd cannot find is not installed here (as Pacemaker
	// reports it), whatever the action
	load, ok := prop("LoadState")
	if !ok {
		return
	}
	if load == "not-found" {
		res.RC, res.Status = exitcode.OCFErrInstalled, lrm.StatusNotInstalled
		res.ExitReason = fmt.Sprintf("systemd has no unit %s", unit)
		if op.Action == "stop" {
			// stopping what cannot exist succeeds
			res.RC, res.Status, res.ExitReason = exitcode.OCFSuccess, lrm.StatusDone, ""
		}
		return
	}
	job := func(start func(context.Context, string, string, chan<- string) (int, error)) bool {
		ch := make(chan string, 1)
		if _, err := start(ctx, unit, "replace", ch); err != nil {
			fail(err)
			return false
		}
		select {
		case r := <-ch:
			if r != "done" {
				res.ExitReason = fmt.Sprintf("systemd job for %s ended %q", unit, r)
			}
			return true
		case <-ctx.Done():
			fail(ctx.Err())
			return false
		}
	}
	state := func() (string, bool) { return prop("ActiveState") }
	res.Status, res.AgentExit = lrm.StatusDone, 0
	switch op.Action {
	case "start":
		if !job(conn.StartUnitContext) {
			return
		}
		if s, ok := state(); ok {
			if rc, _ := lrm.SystemdRC(s); rc == exitcode.OCFSuccess {
				res.RC = exitcode.OCFSuccess
				res.ExitReason = ""
			} else {
				res.RC = exitcode.OCFErrGeneric
				res.ExitReason = fmt.Sprintf("%s is %s after start", unit, s)
			}
		}
	case "stop":
		if !job(conn.StopUnitContext) {
			return
		}
		if s, ok := state(); ok {
			if rc, _ := lrm.SystemdRC(s); rc == exitcode.OCFNotRunning {
				res.RC, res.ExitReason = exitcode.OCFSuccess, ""
			} else {
				res.RC = exitcode.OCFErrGeneric
				res.ExitReason = fmt.Sprintf("%s is %s after stop", unit, s)
			}
		}
	case "status", "monitor":
		if s, ok := state(); ok {
			res.RC, res.ExitReason = lrm.SystemdRC(s)
		}
	case "restart":
		if job(conn.RestartUnitContext) {
			res.RC = exitcode.OCFSuccess
		}
	case "reload":
		if job(conn.ReloadUnitContext) {
			res.RC = exitcode.OCFSuccess
		}
	default:
		res.RC, res.Status = exitcode.OCFErrUnimplemented, lrm.StatusNotSupported
		res.ExitReason = fmt.Sprintf("systemd units cannot %s (they can start, stop, status, monitor, restart, reload)", op.Action)
	}
}

func systemdMetadata(a lrm.Agent) string { return lrm.SystemdMetadata(lrm.SystemdUnit(a.Type)) }

// systemdAgents lists the service units systemd knows.
func (r *Runner) systemdAgents(ctx context.Context) ([]lrm.Agent, error) {
	conn, err := r.systemdConn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	files, err := conn.ListUnitFilesContext(ctx)
	if err != nil {
		return nil, err
	}
	var out []lrm.Agent
	for _, f := range files {
		n := filepath.Base(f.Path)
		if t, ok := strings.CutSuffix(n, ".service"); ok && !strings.HasSuffix(t, "@") {
			out = append(out, lrm.Agent{Class: lrm.Systemd, Type: t})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out, nil
}
