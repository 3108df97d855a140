// Package lrmcli is hb-lrmd's command line: the daemon (run), the
// foreground debugging command (exec) and the clients of the running
// daemon (status, agents, metadata, register, op, cancel, watch, …).
package lrmcli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/linux-ha-go/ha/lib/cli"
	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/ipc"
	"github.com/linux-ha-go/ha/lib/logging"
	"github.com/linux-ha-go/ha/lib/lrm"
	"github.com/linux-ha-go/ha/lib/lrm/agents"
	"github.com/linux-ha-go/ha/lib/lrm/lrmd"
	"github.com/linux-ha-go/ha/lib/printer"
	"github.com/linux-ha-go/ha/lib/sdnotify"
)

// CLI is hb-lrmd's command line.
type CLI struct {
	cli.Globals

	Run        RunCmd        `cmd:"" help:"Run the daemon in the foreground (systemd Type=notify)."`
	Exec       ExecCmd       `cmd:"" help:"Run one agent action in the foreground, no daemon needed, and show everything it did."`
	Status     StatusCmd     `cmd:"" help:"List the registered resources with their operation history."`
	Agents     AgentsCmd     `cmd:"" help:"List resource agents: all, or of a class (ocf, ocf:PROVIDER, lsb, heartbeat, systemd, service, stonith)."`
	Metadata   MetadataCmd   `cmd:"" help:"Print an agent's meta-data XML."`
	Classes    ClassesCmd    `cmd:"" help:"List the agent classes."`
	Providers  ProvidersCmd  `cmd:"" help:"List the OCF providers."`
	Register   RegisterCmd   `cmd:"" help:"Register a resource with the daemon."`
	Unregister UnregisterCmd `cmd:"" help:"Unregister a resource (its recurring operations are cancelled)."`
	Op         OpCmd         `cmd:"" help:"Run an operation on a registered resource through the daemon."`
	Cancel     CancelCmd     `cmd:"" help:"Cancel a recurring operation."`
	Watch      WatchCmd      `cmd:"" help:"Print results as the daemon reports them (new one-shot results, changed monitor results)."`
	Check      CheckCmd      `cmd:"" help:"Check an agent's contract like ocf-tester: STARTS AND STOPS the resource for real, in the foreground."`
}

// CheckCmd runs an agent through its contract.
type CheckCmd struct {
	AgentFlags
	printer.Flag
	Agent    string        `arg:"" help:"CLASS:PROVIDER:TYPE or CLASS:TYPE." predictor:"agent"`
	Param    Params        `sep:"none" short:"p" name:"param" help:"Instance attribute NAME=VALUE (repeatable)."`
	Timeout  time.Duration `default:"20s" help:"Timeout of each action."`
	Resource string        `name:"resource" default:"hb-lrmd-check" help:"Resource id (OCF_RESOURCE_INSTANCE)."`
}

// Run checks and exits 0 when no step failed, 1 otherwise.
func (c *CheckCmd) Run(g *cli.Globals) error {
	a, err := lrm.ParseAgent(c.Agent)
	if err != nil {
		return exitcode.Wrap(exitcode.Usage, err, "")
	}
	params, err := c.Param.Map("param")
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	rep, err := c.Runner(g).Check(ctx, c.Resource, a, params, c.Timeout)
	if err != nil {
		return err
	}
	if err := printer.Print(os.Stdout, c.OutputAs, "check", rep); err != nil {
		return err
	}
	if rep.Failures > 0 {
		return cli.Exit(exitcode.Error)
	}
	return nil
}

// AgentFlags say where agents live.
type AgentFlags struct {
	OCFRoot        string        `name:"ocf-root" env:"OCF_ROOT" default:"/usr/lib/ocf" help:"OCF root; agents are in OCF_ROOT/resource.d/PROVIDER/TYPE."`
	LSBDir         string        `name:"lsb-dir" default:"/etc/init.d" help:"Directory of LSB init scripts."`
	FenceDir       []string      `name:"fence-dir" default:"/usr/sbin" help:"Directories holding fence_* agents (repeatable)."`
	StonithPlugins string        `name:"stonith-plugins" default:"/usr/lib/stonith/plugins" help:"cluster-glue stonith plugin directory."`
	Grace          time.Duration `name:"kill-grace" default:"2s" help:"Time between TERM and KILL when an operation times out."`
}

// Runner builds the agent runner; heartbeat scripts are searched in
// CONFDIR/resource.d, then /etc/ha.d/resource.d.
func (f *AgentFlags) Runner(g *cli.Globals) *agents.Runner {
	d := agents.DefaultDirs(g.Confdir)
	d.OCFRoot, d.LSB, d.Fence, d.StonithPlugins = f.OCFRoot, f.LSBDir, f.FenceDir, f.StonithPlugins
	return &agents.Runner{Dirs: d, Grace: f.Grace, Node: g.NodeName()}
}

// Params is a repeatable --param k=v flag.
type Params []string

// Map turns k=v items into a map, refusing items with no "=".
func (p Params) Map(flag string) (map[string]string, error) {
	if len(p) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range p {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, exitcode.Wrap(exitcode.Usage, fmt.Errorf("--%s %q is not NAME=VALUE", flag, kv), "write e.g. --"+flag+" ip=10.0.0.5")
		}
		m[k] = v
	}
	return m, nil
}

// ---- run

// RunCmd runs the daemon.
type RunCmd struct {
	AgentFlags
	MaxParallel int  `name:"max-parallel" help:"Operations running at once across resources (default: twice the cores, at least 4)."`
	Debug       bool `help:"Log debug messages."`
}

// Run serves until SIGTERM or SIGINT.
func (c *RunCmd) Run(g *cli.Globals) error {
	log, closeLog, err := logging.New(logging.Options{Program: "hb-lrmd", Debug: c.Debug})
	if err != nil {
		return exitcode.Wrap(exitcode.Config, err, "")
	}
	defer closeLog()
	log = log.With("node", g.NodeName())
	path := g.Socket(lrmd.SocketName)
	ln, err := ipc.Listen(path)
	if err != nil {
		return err
	}
	runner := c.Runner(g)
	if _, err := os.Stat(filepath.Join(runner.Dirs.OCFRoot, "resource.d")); err != nil {
		log.Warn("no OCF agents: install resource-agents or set --ocf-root", "subsystem", "lrmd", "ocf_root", runner.Dirs.OCFRoot, "err", err)
	}
	ex := lrmd.New(runner, log, c.MaxParallel)
	srv := ipc.NewServer(log)
	(&lrmd.Service{Exec: ex, Agents: runner}).Register(srv)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	go sdnotify.Watchdog(ctx, ex.Alive)
	log.Info("hb-lrmd serving", "subsystem", "lrmd", "socket", path, "ocf_root", runner.Dirs.OCFRoot)
	sdnotify.Ready()
	sdnotify.Status("serving on " + path)
	<-ctx.Done()
	// a second SIGTERM or SIGINT kills the operations still running
	force, stopForce := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stopForce()
	stop()
	sdnotify.Stopping()
	log.Info("hb-lrmd stopping", "subsystem", "lrmd")
	ex.Close(force)
	return <-done
}

// ---- exec

// ExecCmd runs one action in the foreground.
type ExecCmd struct {
	AgentFlags
	printer.Flag
	Agent    string        `arg:"" help:"CLASS:PROVIDER:TYPE or CLASS:TYPE (ocf:heartbeat:Dummy, lsb:cron, heartbeat:IPaddr2, stonith:fence_xvm, systemd:sshd)." predictor:"agent"`
	Action   string        `arg:"" help:"start, stop, monitor, promote, demote, notify, reload, migrate_to, migrate_from, meta-data, validate-all, status, on, off, reboot, list, …"`
	Param    Params        `sep:"none" short:"p" name:"param" help:"Instance attribute NAME=VALUE (repeatable; heartbeat-class arguments are 1=…, 2=…)."`
	Meta     Params        `sep:"none" name:"meta" help:"Meta attribute NAME=VALUE, passed as OCF_RESKEY_CRM_meta_NAME (repeatable)."`
	Timeout  time.Duration `default:"20s" help:"Kill the agent's process group after this long."`
	Resource string        `name:"resource" help:"Resource id (OCF_RESOURCE_INSTANCE); default: the agent's type."`
}

// Run runs the action and exits with the agent's code.
func (c *ExecCmd) Run(g *cli.Globals) error {
	a, err := lrm.ParseAgent(c.Agent)
	if err != nil {
		return exitcode.Wrap(exitcode.Usage, err, "")
	}
	params, err := c.Param.Map("param")
	if err != nil {
		return err
	}
	meta, err := c.Meta.Map("meta")
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	op := &lrm.Op{Resource: c.Resource, Agent: a, Action: c.Action, Params: params, Meta: meta, Timeout: c.Timeout}
	res := c.Runner(g).Exec(ctx, op)
	if err := printer.Print(os.Stdout, c.OutputAs, "exec", res); err != nil {
		return err
	}
	return cli.Exit(exitcode.Code(res.RC))
}

// ---- clients

func dial(ctx context.Context, g *cli.Globals) (*ipc.Client, error) {
	return ipc.Dial(ctx, lrmd.Daemon, g.Socket(lrmd.SocketName))
}

func call(g *cli.Globals, op string, args, result any) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	c, err := dial(ctx, g)
	if err != nil {
		return err
	}
	defer c.Close()
	return ipc.ToExit(c.Call(ctx, op, args, result))
}

// names prints one name a line.
type names []string

func (n names) WriteText(w io.Writer) error {
	for _, s := range n {
		if _, err := fmt.Fprintln(w, s); err != nil {
			return err
		}
	}
	return nil
}

// StatusCmd lists resources.
type StatusCmd struct {
	printer.Flag
}

type resourceList []lrmd.Resource

func (l resourceList) WriteText(w io.Writer) error {
	if len(l) == 0 {
		_, err := fmt.Fprintln(w, "no resources registered")
		return err
	}
	for _, r := range l {
		fmt.Fprintf(w, "%s (%s)\n", r.ID, r.Agent)
		if len(r.Params) > 0 {
			keys := make([]string, 0, len(r.Params))
			for k := range r.Params {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var kv []string
			for _, k := range keys {
				kv = append(kv, k+"="+r.Params[k])
			}
			fmt.Fprintf(w, "  params: %s\n", strings.Join(kv, " "))
		}
		for _, res := range r.History.Sorted() {
			fmt.Fprintf(w, "  %s\n", lrmd.Describe(res))
		}
		if len(r.Recurring) > 0 {
			fmt.Fprintf(w, "  recurring: %s\n", strings.Join(r.Recurring, " "))
		}
		if f := r.History.LastFailure; f != nil {
			fmt.Fprintf(w, "  last failure: %s\n", lrmd.Describe(f))
		}
	}
	return nil
}

// Run prints the resources.
func (c *StatusCmd) Run(g *cli.Globals) error {
	var l resourceList
	if err := call(g, lrmd.OpResources, nil, &l); err != nil {
		return err
	}
	return printer.Print(os.Stdout, c.OutputAs, "status", l)
}

// AgentsCmd lists agents.
type AgentsCmd struct {
	AgentFlags
	printer.Flag
	Filter string `arg:"" optional:"" help:"ocf, ocf:PROVIDER, lsb, heartbeat, systemd, service or stonith."`
	Local  bool   `help:"List from this process, without the daemon (used by the shell completions)."`
}

// Run lists.
func (c *AgentsCmd) Run(g *cli.Globals) error {
	class, prov, _ := strings.Cut(c.Filter, ":")
	args := lrmd.AgentsArgs{Class: class, Provider: prov}
	var out names
	if c.Local {
		l, err := lrmd.ListNames(context.Background(), c.Runner(g), args)
		if err != nil {
			return ipc.ToExit(err)
		}
		out = l
	} else if err := call(g, lrmd.OpAgents, args, &out); err != nil {
		return err
	}
	return printer.Print(os.Stdout, c.OutputAs, "agents", out)
}

// MetadataCmd prints meta-data.
type MetadataCmd struct {
	AgentFlags
	Agent string `arg:"" help:"CLASS:PROVIDER:TYPE or CLASS:TYPE." predictor:"agent"`
	Local bool   `help:"Run the agent from this process, without the daemon."`
}

// Run prints the XML.
func (c *MetadataCmd) Run(g *cli.Globals) error {
	a, err := lrm.ParseAgent(c.Agent)
	if err != nil {
		return exitcode.Wrap(exitcode.Usage, err, "")
	}
	var rep lrmd.MetadataReply
	if c.Local {
		x, err := c.Runner(g).Metadata(context.Background(), a)
		if err != nil {
			return err
		}
		rep.XML = x
	} else if err := call(g, lrmd.OpMetadata, lrmd.AgentArgs{Agent: a.String()}, &rep); err != nil {
		return err
	}
	_, err = io.WriteString(os.Stdout, rep.XML)
	return err
}

// ClassesCmd lists classes.
type ClassesCmd struct {
	printer.Flag
}

// Run lists.
func (c *ClassesCmd) Run(g *cli.Globals) error {
	return listNames(g, lrmd.OpClasses, "classes", c.OutputAs)
}

// listNames prints the list of names the daemon answers to op.
func listNames(g *cli.Globals, op, what string, format printer.Format) error {
	var out names
	if err := call(g, op, nil, &out); err != nil {
		return err
	}
	return printer.Print(os.Stdout, format, what, out)
}

// ProvidersCmd lists providers.
type ProvidersCmd struct {
	printer.Flag
}

// Run lists.
func (c *ProvidersCmd) Run(g *cli.Globals) error {
	return listNames(g, lrmd.OpProviders, "providers", c.OutputAs)
}

// RegisterCmd registers a resource.
type RegisterCmd struct {
	ID    string `arg:"" help:"Resource id."`
	Agent string `arg:"" help:"CLASS:PROVIDER:TYPE or CLASS:TYPE; for heartbeat agents also haresources' NAME::ARG1::ARG2." predictor:"agent"`
	Param Params `sep:"none" short:"p" name:"param" help:"Instance attribute NAME=VALUE (repeatable)."`
}

// Run registers.
func (c *RegisterCmd) Run(g *cli.Globals) error {
	params, err := c.Param.Map("param")
	if err != nil {
		return err
	}
	agent := c.Agent
	if rest, ok := strings.CutPrefix(agent, "heartbeat:"); ok && strings.Contains(rest, "::") {
		a, hp, err := lrm.ParseHaresource(rest)
		if err != nil {
			return exitcode.Wrap(exitcode.Usage, err, "")
		}
		agent = a.String()
		if params == nil {
			params = map[string]string{}
		}
		for k, v := range hp {
			params[k] = v
		}
	}
	return call(g, lrmd.OpRegister, lrmd.RegisterArgs{ID: c.ID, Agent: agent, Params: params}, nil)
}

// UnregisterCmd unregisters.
type UnregisterCmd struct {
	ID string `arg:"" help:"Resource id."`
}

// Run unregisters.
func (c *UnregisterCmd) Run(g *cli.Globals) error {
	return call(g, lrmd.OpUnregister, lrmd.RscArgs{ID: c.ID}, nil)
}

// OpCmd runs an operation through the daemon.
type OpCmd struct {
	printer.Flag
	ID       string        `arg:"" help:"Resource id."`
	Action   string        `arg:"" help:"start, stop, monitor, …"`
	Interval time.Duration `help:"Run it again at this interval (a recurring monitor); changes are reported to watchers."`
	Timeout  time.Duration `default:"20s" help:"Kill the agent's process group after this long."`
	Param    Params        `sep:"none" short:"p" name:"param" help:"Instance attributes for this operation, replacing the registered ones (repeatable)."`
	Meta     Params        `sep:"none" name:"meta" help:"Meta attribute NAME=VALUE (repeatable)."`
	Async    bool          `help:"Return at once with the call id; the result goes to watchers and the history."`
}

// Run runs the operation and exits with its rc.
func (c *OpCmd) Run(g *cli.Globals) error {
	params, err := c.Param.Map("param")
	if err != nil {
		return err
	}
	meta, err := c.Meta.Map("meta")
	if err != nil {
		return err
	}
	var res lrm.Result
	req := lrmd.ExecRequest{Resource: c.ID, Action: c.Action, Interval: c.Interval, Timeout: c.Timeout,
		Params: params, Meta: meta, Async: c.Async}
	if err := call(g, lrmd.OpExec, req, &res); err != nil {
		return err
	}
	if err := printer.Print(os.Stdout, c.OutputAs, "op", &res); err != nil {
		return err
	}
	return cli.Exit(res.RC)
}

// CancelCmd cancels a recurring operation.
type CancelCmd struct {
	ID       string        `arg:"" help:"Resource id."`
	Action   string        `arg:"" help:"The recurring action (monitor)."`
	Interval time.Duration `required:"" help:"Its interval."`
}

// Run cancels.
func (c *CancelCmd) Run(g *cli.Globals) error {
	return call(g, lrmd.OpCancel, lrmd.CancelArgs{ID: c.ID, Action: c.Action, Interval: c.Interval}, nil)
}

// WatchCmd prints events.
type WatchCmd struct {
	printer.Flag
	Count int `short:"n" help:"Stop after this many events (0: never)."`
}

// Run prints events until interrupted.
func (c *WatchCmd) Run(g *cli.Globals) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	defer cl.Close()
	n := 0
	errDone := fmt.Errorf("done")
	err = cl.Subscribe(ctx, lrmd.OpSubscribe, nil, func(raw json.RawMessage) error {
		var ev lrmd.Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			return err
		}
		if ev.Type == "subscribed" {
			fmt.Fprintf(os.Stderr, "%s: watching %s\n", cli.Program, g.Socket(lrmd.SocketName))
			return nil
		}
		if c.OutputAs == printer.JSON {
			fmt.Fprintf(os.Stdout, "%s\n", raw)
		} else if ev.Result != nil {
			fmt.Fprintln(os.Stdout, ev.Result.Summary())
		} else {
			fmt.Fprintf(os.Stdout, "%s %s\n", ev.Rsc, ev.Type)
		}
		n++
		if c.Count > 0 && n >= c.Count {
			return errDone
		}
		return nil
	})
	if err == errDone || ctx.Err() != nil {
		return nil
	}
	return ipc.ToExit(err)
}

// Main parses args, runs the command and returns the exit code.
func Main(args []string) exitcode.Code {
	c := &CLI{}
	return cli.Run(c, args, exitcode.Usage, kong.Bind(&c.Globals),
		kong.Description("hb-lrmd runs resource agents: ocf, lsb, heartbeat, systemd and stonith."))
}
