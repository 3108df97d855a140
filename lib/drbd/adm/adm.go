// Package adm is godrbdadm: it reads drbd.conf as drbdadm 8.4 does,
// turns a drbdadm command into the steps godrbd must take (one
// lib/drbd/api request each), and either prints them (dry run) or sends
// them to godrbd's socket. Configuration commands (dump, dump-xml, sh-*)
// are answered from the file alone.
package adm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/api"
	"github.com/linux-ha-go/ha/lib/drbd/conf"
	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/ipc"
)

// drbdadm's exit codes.
const (
	ExitUsage  = exitcode.DrbdUsage  // 1
	ExitConfig = exitcode.DrbdConfig // 10
	ExitExec   = exitcode.DrbdExec   // 20
)

// DefaultConfigFiles are tried in order when no -c is given, as drbdadm
// 8.4 does; the last is the one named when none exists.
var DefaultConfigFiles = []string{
	"/etc/drbd-84.conf", "/etc/drbd-83.conf", "/etc/drbd-82.conf",
	"/etc/drbd-08.conf", "/etc/drbd.conf",
}

// Options are godrbdadm's global options.
type Options struct {
	ConfigFile string // "" = the default files
	Rundir     string
	Node       string // "" = uname -n
	Peer       string // --peer
	DryRun     int    // -d, -d -d
	Verbose    bool
	NoTTY      bool
	Progress   bool // stdout is a terminal: wait-sync shows a progress bar

	Stdout, Stderr io.Writer
	Source         conf.Source
	HaveIP         func(af, addr string) bool
	Timeout        time.Duration // per request; 0 = none
}

// Socket is godrbd's socket path.
func (o *Options) Socket() string { return filepath.Join(o.Rundir, api.SocketName) }

// exit ends a command with a code after its messages were printed.
type exit struct{ code exitcode.Code }

func (e *exit) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// ExitCode is the code the command ends with.
func (e *exit) ExitCode() exitcode.Code { return e.code }

// Exit returns an error that ends the program with code silently.
func Exit(code exitcode.Code) error {
	if code == 0 {
		return nil
	}
	return &exit{code}
}

// CodeOf returns the exit code an error of Run carries.
func CodeOf(err error) (exitcode.Code, bool) {
	var e *exit
	if errors.As(err, &e) {
		return e.code, true
	}
	return 0, false
}

type runner struct {
	o   *Options
	cmd *Command
	cfg *conf.Config
	m   *conf.Messages

	steps   []step // deferred (up) or immediate steps
	client  *ipc.Client
	flags   []api.Option
	printed bool
	js      jsonStatus // status --json's resources, printed at the end
}

// step is one request and the stage it runs in (drbdadm's deferred
// stages for up: create res, prepare disk, adjust disk, adjust net).
type step struct {
	req   *api.Request
	stage int
	// fallback: drbdadm's drbdmeta step after a drbdsetup step that
	// found no minor; godrbd answers both from the first request, so it
	// is only printed (dry run).
	fallback bool
	// quiet: messages are not shown and a failure does not end the
	// command (check-resize's resize: drbdadm 8.4 goes on to drbdmeta's
	// check-resize when drbdsetup's resize fails, e.g. the resource is
	// down).
	quiet bool
}

func (r *runner) errf(format string, args ...any) {
	fmt.Fprintf(r.o.Stderr, format, args...)
}

func (r *runner) flush() {
	for _, s := range r.m.Msgs {
		io.WriteString(r.o.Stderr, s)
	}
	r.m.Msgs = nil
}

// Load reads and parses the configuration as drbdadm does before any
// command: it returns the parsed configuration or prints drbdadm's
// messages and returns the exit code.
func Load(o *Options) (*conf.Config, error) {
	src := o.Source
	if src == nil {
		src = conf.OS{}
	}
	name := o.ConfigFile
	if name == "" {
		for _, f := range DefaultConfigFiles {
			if _, err := os.Stat(f); err == nil {
				name = f
				break
			}
		}
		if name == "" {
			f := DefaultConfigFiles[len(DefaultConfigFiles)-1]
			fmt.Fprintf(o.Stderr, "Can not open '%s': No such file or directory\n", f)
			return nil, Exit(ExitConfig)
		}
	}
	var data []byte
	var err error
	canon := ""
	if name == "-" {
		data, err = io.ReadAll(os.Stdin)
		name, canon = "STDIN", "STDIN"
	} else {
		data, err = src.ReadFile(name)
		canon = src.Canon(name)
	}
	if err != nil {
		if o.ConfigFile != "" {
			fmt.Fprintf(o.Stderr, "Can not open '%s'.\n.", o.ConfigFile)
			return nil, Exit(ExitExec)
		}
		fmt.Fprintf(o.Stderr, "Can not open '%s': %v\n", name, errors.Unwrap(err))
		return nil, Exit(ExitConfig)
	}
	cfg, err := conf.ParseBytes(src, name, canon, data)
	if err != nil {
		var ce *conf.Error
		if errors.As(err, &ce) {
			for _, s := range ce.Msgs {
				io.WriteString(o.Stderr, s)
			}
			return nil, Exit(ce.Code)
		}
		return nil, err
	}
	for _, s := range cfg.Warnings {
		io.WriteString(o.Stderr, s)
	}
	return cfg, nil
}

func (o *Options) node() string {
	if o.Node != "" {
		return o.Node
	}
	return conf.Uname()
}

// Run runs one command on the named resources (none: all for dump,
// dump-xml and status; "all": all). flags are the command's options.
func Run(ctx context.Context, o *Options, name string, resources []string, flags []api.Option) error {
	cmd := Lookup(name)
	if cmd == nil {
		fmt.Fprintf(o.Stderr, "%s: Unknown command '%s'\n", progName(), name)
		return Exit(ExitUsage)
	}
	if o.HaveIP == nil {
		o.HaveIP = conf.HaveIP
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Node == "" {
		// drbdadm's way to pretend to be another node.
		if n := os.Getenv("__DRBD_NODE__"); n != "" {
			fmt.Fprintf(o.Stderr, "\n   found __DRBD_NODE__ in environment\n   PRETENDING that I am >>%s<<\n\n", n)
			o.Node = n
		}
	}
	if len(resources) == 0 && cmd.ResNameRequired && !cmd.AllByDefault {
		fmt.Fprintf(o.Stderr, "No resource names specified\n")
		return Exit(ExitUsage)
	}
	if cmd.NoConfig {
		r := &runner{o: o, cmd: cmd, m: &conf.Messages{Valid: true}, flags: flags}
		defer func() {
			if r.client != nil {
				r.client.Close()
			}
		}()
		return r.global(ctx)
	}
	cfg, err := Load(o)
	if err != nil {
		return err
	}
	r := &runner{o: o, cmd: cmd, cfg: cfg, m: &conf.Messages{Valid: true}, flags: flags}
	defer func() {
		if r.client != nil {
			r.client.Close()
		}
	}()
	err = r.run(ctx, resources)
	if perr := r.flushStatus(o.Stdout); err == nil {
		err = perr
	}
	return err
}

func progName() string { return filepath.Base(os.Args[0]) }

func (r *runner) run(ctx context.Context, resources []string) error {
	o, cfg, cmd := r.o, r.cfg, r.cmd
	isDump := cmd.Dump
	cfg.PostParse(o.node(), o.HaveIP, r.m)
	if !isDump || o.DryRun > 0 || o.Verbose {
		cfg.Expand()
	}
	if !cmd.ResNameRequired {
		r.flush()
		return r.global(ctx)
	}
	if len(cfg.Resources) == 0 && !isDump {
		r.flush()
		r.errf("no resources defined!\n")
		return Exit(ExitUsage)
	}
	for _, res := range cfg.Resources {
		cfg.Validate(res, o.NoTTY, r.m)
		if !r.m.Valid {
			r.flush()
			return Exit(ExitConfig)
		}
		if !isDump {
			cfg.Convert(res, o.NoTTY, r.m)
			if !r.m.Valid {
				r.flush()
				return Exit(ExitConfig)
			}
		}
	}
	r.flush()
	verifyIPs := cmd.VerifyIPs && !(o.DryRun == 1)
	var rv exitcode.Code
	if len(resources) == 0 || resources[0] == "all" {
		if !isDump {
			normal, ignored := 0, 0
			for _, res := range cfg.Resources {
				switch {
				case res.Ignore:
					ignored++
				case !res.Stacked:
					normal++
				}
			}
			if normal == 0 {
				if ignored > 0 {
					r.errf("WARN: no normal resources defined for this host (%s)!?\nMisspelled name of the local machine with the 'on' keyword ?\n", cfg.Node)
				} else {
					r.errf("WARN: no normal resources defined for this host (%s)!?\n", cfg.Node)
				}
				return Exit(ExitUsage)
			}
		}
		if verifyIPs {
			for _, res := range cfg.Resources {
				cfg.VerifyIP(res, o.HaveIP, r.m)
			}
			r.flush()
			if !r.m.Valid {
				return Exit(ExitConfig)
			}
		}
		if err := r.header(); err != nil {
			return err
		}
		for _, res := range cfg.Resources {
			if !isDump && (res.Ignore || res.Stacked) {
				continue
			}
			code, err := r.call(ctx, res, nil)
			if err != nil {
				return err
			}
			rv = max(rv, code)
		}
		if err := r.footer(); err != nil {
			return err
		}
	} else {
		for _, id := range resources {
			res, vol, ok := cfg.Lookup(id)
			if !ok {
				res, vol = cfg.ByMinor(id)
			}
			if res == nil {
				r.errf("'%s' not defined in your config (for this host).\n", id)
				return Exit(ExitUsage)
			}
			if !cmd.VolIDRequired && !cmd.IterateVolumes && vol != nil {
				if vol.Implicit {
					vol = nil
				} else {
					r.errf("%s operates on whole resources, but you specified a specific volume!\n", cmd.Name)
					return Exit(ExitUsage)
				}
			}
			if cmd.VolIDRequired && vol == nil && res.Me.Volumes[0].Implicit {
				vol = res.Me.Volumes[0]
			}
			if cmd.VolIDRequired && vol == nil {
				r.errf("%s requires a specific volume id, but none is specified.\nTry '%s minor-<minor_number>' or '%s %s/<vnr>'\n", cmd.Name, cmd.Name, cmd.Name, id)
				return Exit(ExitUsage)
			}
			if res.Stacked && !isDump {
				r.errf("'%s' is a stacked resource, and not available in normal mode.\n", res.Name)
				rv = ExitUsage
				continue
			}
			if verifyIPs {
				cfg.VerifyIP(res, o.HaveIP, r.m)
				r.flush()
				if !isDump && !r.m.Valid {
					return Exit(ExitConfig)
				}
			}
			code, err := r.call(ctx, res, vol)
			if err != nil {
				return err
			}
			rv = max(rv, code)
		}
	}
	code, err := r.runDeferred(ctx)
	if err != nil {
		return err
	}
	return Exit(max(rv, code))
}

func (r *runner) header() error {
	switch {
	case r.cmd.Name == "dump-xml":
		return r.cfg.DumpXMLHeader(r.o.Stdout)
	case r.cmd.Dump:
		return r.cfg.DumpHeader(r.o.Stdout, conf.DumpOptions{Verbose: r.o.Verbose})
	}
	return nil
}

func (r *runner) footer() error {
	if r.cmd.Name == "dump-xml" {
		_, err := io.WriteString(r.o.Stdout, "</config>\n")
		return err
	}
	return nil
}

// call is drbdadm's call_cmd: choose the peer, then run the command for
// the resource or for each of its volumes.
func (r *runner) call(ctx context.Context, res *conf.Resource, vol *conf.Volume) (exitcode.Code, error) {
	if res.Peer == nil {
		r.cfg.SetPeer(res, r.o.Peer, r.cmd.NeedPeer, r.m)
		r.flush()
	}
	if !r.cmd.IterateVolumes || vol != nil {
		return r.fn(ctx, res, vol)
	}
	for _, v := range res.Me.Volumes {
		if code, err := r.fn(ctx, res, v); err != nil || code != 0 {
			return code, err
		}
	}
	return 0, nil
}

func (r *runner) fn(ctx context.Context, res *conf.Resource, vol *conf.Volume) (exitcode.Code, error) {
	if r.cmd.Local != nil {
		return r.cmd.Local(r, res, vol)
	}
	reqs, code := r.cmd.Steps(r, res, vol)
	if code != 0 {
		return code, nil
	}
	if r.cmd.Deferred {
		for _, s := range reqs {
			r.steps = append(r.steps, s)
		}
		return 0, nil
	}
	for _, s := range reqs {
		if code, err := r.sendStep(ctx, s); err != nil || code != 0 {
			return code, err
		}
	}
	return 0, nil
}

// sendStep sends one step (prints it in a dry run), after its kind.
func (r *runner) sendStep(ctx context.Context, s step) (exitcode.Code, error) {
	if s.fallback && r.o.DryRun == 0 {
		return 0, nil
	}
	if s.quiet && r.o.DryRun == 0 {
		stderr := r.o.Stderr
		r.o.Stderr = io.Discard
		defer func() { r.o.Stderr = stderr }()
		r.send(ctx, s.req)
		return 0, nil
	}
	return r.send(ctx, s.req)
}

// runDeferred runs the steps of up, stage by stage; after a failure the
// remaining steps are skipped and the command ends with 1.
func (r *runner) runDeferred(ctx context.Context) (exitcode.Code, error) {
	if len(r.steps) == 0 {
		return 0, nil
	}
	failed := false
	for stage := 0; stage < 8; stage++ {
		for _, s := range r.steps {
			if s.stage != stage {
				continue
			}
			if failed {
				r.errf("%s: %s %s: skipped due to earlier error\n", progName(), s.req.Op, s.req.Resource)
				continue
			}
			code, err := r.sendStep(ctx, s)
			if err != nil {
				return 0, err
			}
			if code != 0 {
				failed = true
			}
		}
	}
	if failed {
		return ExitUsage, nil
	}
	return 0, nil
}

// send prints the step in a dry run, else sends it to godrbd and prints
// the reply.
func (r *runner) send(ctx context.Context, req *api.Request) (exitcode.Code, error) {
	if r.o.DryRun > 0 {
		fmt.Fprintf(r.o.Stdout, "godrbd %s\n", req.String())
		return 0, nil
	}
	if (req.Op == api.OpConnect || req.Op == api.OpNetOptions) && req.Config != nil && req.Config.Peer == nil {
		r.errf("resource %s: cannot configure network without knowing my peer.\n", req.Resource)
		return ExitExec, nil
	}
	if r.client == nil {
		c, err := ipc.Dial(ctx, api.Daemon, r.o.Socket())
		if err != nil {
			return 0, exitcode.Wrap(ExitExec, errors.Unwrap(err), exitcode.HintOf(err))
		}
		r.client = c
	}
	cctx := ctx
	if r.o.Timeout > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, r.o.Timeout)
		defer cancel()
	}
	var reply api.Reply
	if req.Op == api.OpWaitSync && r.o.Progress {
		stop := r.progress(cctx, req)
		defer stop()
	}
	err := r.client.Call(cctx, req.Op, req, &reply)
	for _, m := range reply.Messages {
		io.WriteString(r.o.Stderr, strings.TrimSuffix(m, "\n")+"\n")
	}
	if err != nil {
		err = api.FromIPC(err)
		var ref *api.Refusal
		if errors.As(err, &ref) {
			code := ref.ExitCode()
			r.errf("%s\n", ref.Error())
			r.errf("Command 'godrbd %s' terminated with exit code %d\n", req.String(), code)
			if code >= 20 {
				return 0, Exit(code)
			}
			return code, nil
		}
		var ie *ipc.Error
		if errors.As(err, &ie) {
			code := exitcode.Code(ie.Exit)
			if code == 0 {
				code = ExitExec
			}
			r.errf("%s: %s\n", req.Resource, ie.Message)
			if ie.Hint != "" {
				r.errf("%s: hint: %s\n", progName(), ie.Hint)
			}
			r.errf("Command 'godrbd %s' terminated with exit code %d\n", req.String(), code)
			if code >= 20 {
				return 0, Exit(code)
			}
			return code, nil
		}
		return 0, exitcode.Wrap(ExitExec, err, "")
	}
	if r.wantsJSONStatus(req) {
		return 0, r.collectStatus(reply.Text)
	}
	if reply.Text != "" {
		io.WriteString(r.o.Stdout, reply.Text)
		if !strings.HasSuffix(reply.Text, "\n") {
			io.WriteString(r.o.Stdout, "\n")
		}
	}
	return 0, nil
}
