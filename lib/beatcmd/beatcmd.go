// Package beatcmd is hb-beat's command line: `run` serves, every other
// command is a client of the running daemon's socket.
package beatcmd

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/linux-ha-go/ha/lib/beat"
	"github.com/linux-ha-go/ha/lib/cli"
	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/hacf"
	"github.com/linux-ha-go/ha/lib/ipc"
	"github.com/linux-ha-go/ha/lib/logging"
	"github.com/linux-ha-go/ha/lib/printer"
	"github.com/linux-ha-go/ha/lib/sdnotify"
)

// CLI is hb-beat's command line.
type CLI struct {
	cli.Globals
	Run      RunCmd      `cmd:"" help:"Run the heartbeat daemon in the foreground."`
	Status   StatusCmd   `cmd:"" help:"Show this node's hb-beat status."`
	Nodes    NodesCmd    `cmd:"" help:"List the cluster nodes with their status and links."`
	Links    LinksCmd    `cmd:"" help:"List this node's heartbeat links."`
	ClStatus ClStatusCmd `cmd:"" name:"cl-status" help:"Answer cl_status sub-commands (hbstatus, listnodes, nodestatus, ...)."`
	Send     SendCmd     `cmd:"" help:"Send a cluster message to one node or all."`
	Recv     RecvCmd     `cmd:"" help:"Print cluster messages as they arrive, one JSON object a line."`
	Watch    WatchCmd    `cmd:"" help:"Print node and link status changes as they happen."`
	Check    CheckCmd    `cmd:"" help:"Check ha.cf and authkeys without starting."`
	Version  VersionCmd  `cmd:"" help:"Print the version."`
}

// RunCmd serves.
type RunCmd struct {
	Bind  string `name:"bind" env:"HB_BIND" help:"Local IPv4 address to bind the links to (for several nodes on one machine); overrides ha.cf's bindaddr."`
	Debug bool   `short:"d" help:"Log debug messages."`
}

func loadConfig(g *cli.Globals) (*hacf.Config, error) {
	self := g.NodeName()
	conf, err := hacf.Load(filepath.Join(g.Confdir, "ha.cf"), self)
	if err != nil {
		return nil, exitcode.Wrap(exitcode.NotConfigured, err, "hb-beat not started: configuration error; fix ha.cf and start again")
	}
	return conf, nil
}

// Run starts the daemon.
func (r *RunCmd) Run(g *cli.Globals) error {
	conf, err := loadConfig(g)
	if err != nil {
		return err
	}
	keys, err := hacf.LoadAuthkeys(filepath.Join(g.Confdir, "authkeys"))
	if err != nil {
		return exitcode.Wrap(exitcode.NotConfigured, err, "authentication configuration error: hb-beat not started")
	}
	facility := conf.Logfacility
	if facility == "" && conf.UseLogd {
		facility = "daemon" // heartbeat's ha_logd hands lines to syslog; we log to it directly
	}
	log, closeLog, err := logging.New(logging.Options{Program: "hb-beat", Debug: r.Debug || conf.Debug > 0,
		Logfile: conf.Logfile, Debugfile: conf.Debugfile, Facility: facility})
	if err != nil {
		return exitcode.Wrap(exitcode.NotConfigured, fmt.Errorf("%s: %w", conf.File, err), "")
	}
	defer closeLog()
	log = log.With("local_node", g.NodeName())
	ln, err := ipc.Listen(g.Socket(beat.SocketName))
	if err != nil {
		return err
	}
	d, err := beat.New(beat.Options{Conf: conf, Keys: keys, Self: g.NodeName(), Statedir: g.Statedir, Bind: r.Bind, Log: log,
		Notify: func(state string) {
			switch {
			case state == "READY=1":
				sdnotify.Ready()
			case strings.HasPrefix(state, "STATUS="):
				sdnotify.Status(strings.TrimPrefix(state, "STATUS="))
			case state == "STOPPING=1":
				sdnotify.Stopping()
			}
		}})
	if err != nil {
		ln.Close()
		return exitcode.Wrap(exitcode.NotConfigured, err, "hb-beat not started")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv := ipc.NewServer(log)
	d.Register(srv)
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Serve(ctx, ln) }()
	go sdnotify.Watchdog(ctx, d.Alive)
	err = d.Run(ctx)
	stop()
	<-srvDone
	return err
}

func dial(g *cli.Globals) (*ipc.Client, context.Context, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	c, err := ipc.Dial(ctx, "hb-beat", g.Socket(beat.SocketName))
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return c, ctx, cancel, nil
}

func call(g *cli.Globals, op string, args, result any) error {
	c, ctx, cancel, err := dial(g)
	if err != nil {
		return err
	}
	defer cancel()
	defer c.Close()
	return ipc.ToExit(c.Call(ctx, op, args, result))
}

// StatusCmd shows the daemon's status.
type StatusCmd struct {
	printer.Flag
}

type statusView struct {
	XMLName xml.Name `json:"-" xml:"hb-beat"`
	beat.StatusReply
}

func (s statusView) WriteText(w io.Writer) error {
	up := "communication up"
	if !s.CommUp {
		up = "waiting for the other nodes"
	}
	c := s.Counters
	_, err := fmt.Fprintf(w, `hb-beat on %s: %s (%s)
  version %s, generation %d, up %s
  keepalive %d ms, deadtime %d ms
  nodes: %d configured, %d alive; clients: %d receiving, %d watching
  packets: %d received, %d sent; retransmitted %d, lost %d, late heartbeats %d
  dropped: %d bad signature, %d malformed, %d unknown node, %d replayed, %d duplicate
`, s.Node, s.Status, up, s.Version, s.Generation, (time.Duration(s.UptimeMS) * time.Millisecond).Round(time.Second),
		s.KeepaliveMS, s.DeadtimeMS, s.Nodes, s.NodesAlive, s.Receivers, s.Watchers, c.Received, c.Sent, c.RexmitSent, c.Lost, c.LateHeartbeats,
		c.BadAuth, c.Malformed, c.UnknownNode, c.Replayed, c.Duplicates)
	return err
}

// Run prints the status.
func (s *StatusCmd) Run(g *cli.Globals) error {
	var r beat.StatusReply
	if err := call(g, beat.OpStatus, nil, &r); err != nil {
		return err
	}
	if s.OutputAs == printer.JSON {
		return printer.Print(os.Stdout, s.OutputAs, "hb-beat status", r)
	}
	return printer.Print(os.Stdout, s.OutputAs, "hb-beat status", statusView{StatusReply: r})
}

// NodesCmd lists nodes.
type NodesCmd struct {
	printer.Flag
}

type nodesView struct {
	XMLName xml.Name        `json:"-" xml:"nodes"`
	Nodes   []beat.NodeInfo `xml:"node"`
}

func (v nodesView) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tTYPE\tSTATUS\tLINKS")
	for _, n := range v.Nodes {
		var ls []string
		for _, l := range n.Links {
			ls = append(ls, l.Name+":"+l.Status)
		}
		name := n.Name
		if n.Self {
			name += " (this node)"
		}
		links := strings.Join(ls, " ")
		if links == "" {
			links = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, n.Type, n.Status, links)
	}
	return tw.Flush()
}

// Run lists the nodes.
func (n *NodesCmd) Run(g *cli.Globals) error {
	return printList(g, beat.OpNodes, "hb-beat nodes", n.OutputAs, func(r []beat.NodeInfo) any { return nodesView{Nodes: r} })
}

// printList asks the daemon for a list and prints it: a JSON array (empty,
// not null, when there is nothing), or the view for text and XML.
func printList[T any](g *cli.Globals, op, command string, f printer.Format, view func([]T) any) error {
	r := []T{}
	if err := call(g, op, nil, &r); err != nil {
		return err
	}
	if r == nil {
		r = []T{}
	}
	if f == printer.JSON {
		return printer.Print(os.Stdout, f, command, r)
	}
	return printer.Print(os.Stdout, f, command, view(r))
}

// LinksCmd lists our links.
type LinksCmd struct {
	printer.Flag
}

type linksView struct {
	XMLName xml.Name         `json:"-" xml:"links"`
	Links   []beat.LinkReply `xml:"link"`
}

func (v linksView) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "LINK\tSTATUS\tMEDIA")
	for _, l := range v.Links {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", l.Name, l.Status, l.Media)
	}
	return tw.Flush()
}

// Run lists the links.
func (l *LinksCmd) Run(g *cli.Globals) error {
	return printList(g, beat.OpLinks, "hb-beat links", l.OutputAs, func(r []beat.LinkReply) any { return linksView{Links: r} })
}

// ClStatusCmd answers cl_status's sub-commands.
type ClStatusCmd struct {
	Args []string `arg:"" optional:"" passthrough:"all" help:"SUB-COMMAND [OPTIONS] [PARAMETERS], as for cl_status."`
}

type clSource struct{ g *cli.Globals }

func (s clSource) Status() (beat.StatusReply, error) {
	var r beat.StatusReply
	return r, call(s.g, beat.OpStatus, nil, &r)
}

func (s clSource) Nodes() ([]beat.NodeInfo, error) {
	var r []beat.NodeInfo
	return r, call(s.g, beat.OpNodes, nil, &r)
}

func (s clSource) Parameter(name string) (string, error) {
	var r map[string]string
	err := call(s.g, beat.OpParameter, beat.ParameterArgs{Name: name}, &r)
	return r["value"], err
}

// Run answers one sub-command with cl_status's output and exit code.
func (c *ClStatusCmd) Run(g *cli.Globals) error {
	var src beat.ClSource = clSource{g}
	if _, err := os.Stat(g.Socket(beat.SocketName)); err != nil {
		src = nil
	} else if _, err := (clSource{g}).Status(); err != nil && exitcode.Of(err) == exitcode.NotRunning {
		src = nil
	}
	return cli.Exit(exitcode.Code(beat.ClStatus(os.Stdout, os.Stderr, c.Args, src)))
}

// SendCmd sends a message.
type SendCmd struct {
	Type   string   `arg:"" help:"Message type (the t field)."`
	Fields []string `arg:"" optional:"" help:"Fields as name=value."`
	To     string   `help:"Send to this node only (default: all nodes)."`
}

// Run sends.
func (s *SendCmd) Run(g *cli.Globals) error {
	a := beat.SendArgs{Type: s.Type, To: s.To, Fields: map[string]string{}}
	for _, f := range s.Fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return exitcode.Wrap(exitcode.Usage, fmt.Errorf("field %q is not name=value", f), "write fields as name=value")
		}
		a.Fields[k] = v
	}
	var r beat.SendReply
	if err := call(g, beat.OpSend, a, &r); err != nil {
		return err
	}
	fmt.Printf("sent seq %d\n", r.Seq)
	return nil
}

// RecvCmd prints delivered messages.
type RecvCmd struct {
	Type  []string `name:"type" help:"Only messages of this type (repeatable)."`
	Count int      `short:"n" help:"Exit after this many messages (0: never)."`
}

// Run streams messages.
func (r *RecvCmd) Run(g *cli.Globals) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	c, err := ipc.Dial(ctx, "hb-beat", g.Socket(beat.SocketName))
	if err != nil {
		return err
	}
	defer c.Close()
	n := 0
	errDone := errors.New("done")
	err = c.Subscribe(ctx, beat.OpReceive, beat.ReceiveArgs{Types: r.Type}, func(ev json.RawMessage) error {
		fmt.Println(string(ev))
		n++
		if r.Count > 0 && n >= r.Count {
			return errDone
		}
		return nil
	})
	if errors.Is(err, errDone) || ctx.Err() != nil {
		return nil
	}
	return ipc.ToExit(err)
}

// WatchCmd prints status changes.
type WatchCmd struct {
	printer.Flag
}

// Run streams events.
func (w *WatchCmd) Run(g *cli.Globals) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	c, err := ipc.Dial(ctx, "hb-beat", g.Socket(beat.SocketName))
	if err != nil {
		return err
	}
	defer c.Close()
	if w.OutputAs == printer.XML {
		return printer.ErrUnsupported{Format: printer.XML, Command: "hb-beat watch"}
	}
	err = c.Subscribe(ctx, beat.OpWatch, nil, func(raw json.RawMessage) error {
		if w.OutputAs == printer.JSON {
			fmt.Println(string(raw))
			return nil
		}
		var ev beat.Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			return err
		}
		ts := ev.Time.Local().Format("15:04:05.000")
		if ev.Kind == "link" {
			fmt.Printf("%s link %s:%s %s\n", ts, ev.Node, ev.Link, ev.Status)
		} else {
			fmt.Printf("%s node %s %s\n", ts, ev.Node, ev.Status)
		}
		return nil
	})
	if ctx.Err() != nil {
		return nil
	}
	return ipc.ToExit(err)
}

// CheckCmd validates the configuration.
type CheckCmd struct{}

// Run checks ha.cf and authkeys.
func (c *CheckCmd) Run(g *cli.Globals) error {
	conf, err := loadConfig(g)
	if err != nil {
		return err
	}
	if _, err := hacf.LoadAuthkeys(filepath.Join(g.Confdir, "authkeys")); err != nil {
		return exitcode.Wrap(exitcode.NotConfigured, err, "")
	}
	for _, w := range conf.Warnings() {
		fmt.Fprintf(os.Stderr, "hb-beat: warning: %s\n", w)
	}
	kinds := map[string]int{}
	for _, m := range conf.Media {
		kinds[m.Kind]++
	}
	var ks []string
	for k, n := range kinds {
		ks = append(ks, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(ks)
	fmt.Printf("%s: OK: %d nodes (%s), %s; keepalive %d ms, deadtime %d ms, warntime %d ms, initdead %d ms\n",
		conf.File, len(conf.Nodes), strings.Join(conf.Nodes, ", "), strings.Join(ks, ", "),
		conf.Keepalive.Milliseconds(), conf.Deadtime.Milliseconds(), conf.Warntime.Milliseconds(), conf.Initdead.Milliseconds())
	return nil
}

// VersionCmd prints the version.
type VersionCmd struct{}

// Run prints it.
func (VersionCmd) Run() error {
	fmt.Println("hb-beat", hacf.Version)
	return nil
}
