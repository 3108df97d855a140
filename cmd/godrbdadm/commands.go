package main

import (
	"context"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"
	"golang.org/x/sys/unix"

	"github.com/linux-ha-go/ha/lib/cli"
	"github.com/linux-ha-go/ha/lib/drbd/adm"
	"github.com/linux-ha-go/ha/lib/drbd/api"
)

var description = kong.Description("Administer godrbd, the replicated block device, from drbd.conf (DRBD 8.4 syntax and semantics).")

// CLI is godrbdadm's command line.
type CLI struct {
	ConfigFile string `short:"c" name:"config-file" placeholder:"FILE" help:"Configuration file (default: the first of /etc/drbd-84.conf ... /etc/drbd.conf; - reads stdin)."`
	Rundir     string `name:"rundir" env:"GODRBD_RUNDIR" default:"/run/godrbd" type:"path" help:"Directory of godrbd's socket (godrbd.sock)."`
	Node       string `name:"node" env:"HA_NODENAME" help:"This node's name, matched against 'on NAME' (default: uname -n)."`
	Peer       string `short:"P" name:"peer" placeholder:"HOST" help:"The peer's host section, when a resource has more than two."`
	DryRun     int    `short:"d" name:"dry-run" type:"counter" help:"Print the steps godrbd would be asked to take, do nothing."`
	Verbose    bool   `short:"v" name:"verbose" help:"dump: merge the common section and print every global option."`

	Attach           forceRes   `cmd:"" help:"Attach the backing disk and meta data."`
	Detach           forceRes   `cmd:"" help:"Release the backing disk."`
	Connect          connectRes `cmd:"" help:"Configure the network and connect to the peer."`
	Disconnect       res        `cmd:"" help:"Drop the network configuration (StandAlone)."`
	Up               res        `cmd:"" help:"Create the resource, attach its disks and connect."`
	Down             res        `cmd:"" help:"Demote, disconnect, detach and delete the resource."`
	Primary          forceRes   `cmd:"" help:"Promote to Primary (--force: consider the local data UpToDate)."`
	Secondary        res        `cmd:"" help:"Demote to Secondary."`
	Invalidate       res        `cmd:"" help:"Discard the local data: full sync from the peer."`
	InvalidateRemote res        `cmd:"" name:"invalidate-remote" help:"Discard the peer's data: full sync to the peer."`
	Outdate          res        `cmd:"" help:"Mark the local data Outdated."`
	Verify           verifyRes  `cmd:"" help:"Start an online verify."`
	PauseSync        res        `cmd:"" name:"pause-sync" help:"Pause the resync."`
	ResumeSync       res        `cmd:"" name:"resume-sync" help:"Resume the resync."`
	SuspendIO        res        `cmd:"" name:"suspend-io" help:"Freeze application IO until resume-io."`
	ResumeIO         res        `cmd:"" name:"resume-io" help:"Resume frozen application IO (also after fencing or no data)."`
	Resize           resizeRes  `cmd:"" help:"Grow the device to the backing disks' size."`
	CheckResize      res        `cmd:"" name:"check-resize" help:"Remember the backing disks' size."`
	Adjust           res        `cmd:"" help:"Make the running resource match the configuration."`
	NewCurrentUUID   ncuRes     `cmd:"" name:"new-current-uuid" help:"Start a new data generation (--clear-bitmap: skip the initial sync)."`
	Role             res        `cmd:"" aliases:"state" help:"Print the roles (local/peer)."`
	Cstate           res        `cmd:"" help:"Print the connection state."`
	Dstate           res        `cmd:"" help:"Print the disk states (local/peer)."`
	GetGi            res        `cmd:"" name:"get-gi" help:"Print the generation identifiers."`
	ShowGi           res        `cmd:"" name:"show-gi" help:"Explain the generation identifiers."`
	Status           statusRes  `cmd:"" help:"Print the status of resources (all by default)."`
	WaitConnect      res        `cmd:"" name:"wait-connect" help:"Wait until connected, with the startup timeouts."`
	WaitSync         res        `cmd:"" name:"wait-sync" help:"Wait until no resync runs."`
	Proc             noRes      `cmd:"" help:"Print the status in /proc/drbd form."`
	CreateMd         forceRes   `cmd:"" name:"create-md" help:"Initialise the meta data."`
	DumpMd           forceRes   `cmd:"" name:"dump-md" help:"Print the meta data."`
	WipeMd           forceRes   `cmd:"" name:"wipe-md" help:"Destroy the meta data."`
	ApplyAl          forceRes   `cmd:"" name:"apply-al" help:"Apply the activity log to the bitmap."`
	Dump             optRes     `cmd:"" help:"Print the configuration, normalised (all resources by default)."`
	DumpXML          optRes     `cmd:"" name:"dump-xml" help:"Print the configuration as XML."`
	ShResources      noRes      `cmd:"" name:"sh-resources" help:"Print the names of this node's resources."`
	ShResource       res        `cmd:"" name:"sh-resource" help:"Print the resource's name."`
	ShDev            res        `cmd:"" name:"sh-dev" help:"Print the device of each volume."`
	ShMinor          res        `cmd:"" name:"sh-minor" help:"Print the minor of each volume."`
	ShLlDev          res        `cmd:"" name:"sh-ll-dev" help:"Print the backing disk of each volume."`
	ShMdDev          res        `cmd:"" name:"sh-md-dev" help:"Print the meta-data device of each volume."`
	ShMdIdx          res        `cmd:"" name:"sh-md-idx" help:"Print the meta-data index of each volume."`
	ShIP             res        `cmd:"" name:"sh-ip" help:"Print this node's address of the resource."`
	ShUdev           res        `cmd:"" name:"sh-udev" help:"Print udev variables of a volume."`
	ShModParms       noRes      `cmd:"" name:"sh-mod-parms" help:"Print the minor_count module parameter."`
	ShNop            noRes      `cmd:"" name:"sh-nop" help:"Check the configuration and do nothing."`
	ShBPri           res        `cmd:"" name:"sh-b-pri" help:"Promote if become-primary-on names this node."`
	DiskOptions      optsRes    `cmd:"" name:"disk-options" help:"Change disk options (--name=value) of running volumes; adjust applies the configured ones."`
	NetOptions       optsRes    `cmd:"" name:"net-options" help:"Change net options (--name=value) of a running resource; adjust applies the configured ones."`
	ResourceOptions  optsRes    `cmd:"" name:"resource-options" help:"Change resource options (--name=value); adjust applies the configured ones."`

	BeforeResyncTarget res `cmd:"" name:"before-resync-target" hidden:"" help:"Run the handler of that name (called by godrbd)."`
	AfterResyncTarget  res `cmd:"" name:"after-resync-target" hidden:"" help:"Run the handler of that name (called by godrbd)."`
	BeforeResyncSource res `cmd:"" name:"before-resync-source" hidden:"" help:"Run the handler of that name (called by godrbd)."`
	PriOnInconDegr     res `cmd:"" name:"pri-on-incon-degr" hidden:"" help:"Run the handler of that name (called by godrbd)."`
	PriLostAfterSb     res `cmd:"" name:"pri-lost-after-sb" hidden:"" help:"Run the handler of that name (called by godrbd)."`
	FencePeer          res `cmd:"" name:"fence-peer" aliases:"outdate-peer" hidden:"" help:"Run the handler of that name (called by godrbd)."`
	UnfencePeer        res `cmd:"" name:"unfence-peer" hidden:"" help:"Run the handler of that name (called by godrbd)."`
	LocalIOError       res `cmd:"" name:"local-io-error" hidden:"" help:"Run the handler of that name (called by godrbd)."`
	PriLost            res `cmd:"" name:"pri-lost" hidden:"" help:"Run the handler of that name (called by godrbd)."`
	InitialSplitBrain  res `cmd:"" name:"initial-split-brain" hidden:"" help:"Run the handler of that name (called by godrbd)."`
	SplitBrain         res `cmd:"" name:"split-brain" hidden:"" help:"Run the handler of that name (called by godrbd)."`
	OutOfSync          res `cmd:"" name:"out-of-sync" hidden:"" help:"Run the handler of that name (called by godrbd)."`
}

func (c *CLI) options() *adm.Options {
	return &adm.Options{
		ConfigFile: c.ConfigFile,
		Rundir:     c.Rundir,
		Node:       c.Node,
		Peer:       c.Peer,
		DryRun:     c.DryRun,
		Verbose:    c.Verbose,
		NoTTY:      !isTTY(0) || !isTTY(1),
		Progress:   isTTY(1),
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
	}
}

func isTTY(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// run runs the selected command.
func run(k *kong.Context, c *CLI, resources []string, flags []api.Option) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	name := k.Selected().Name
	err := adm.Run(ctx, c.options(), name, resources, flags)
	if code, ok := adm.CodeOf(err); ok {
		return cli.Exit(code)
	}
	return err
}

type res struct {
	Resources []string `arg:"" name:"resource" help:"RES, RES/VNR, minor-N or all."`
}

func (r *res) Run(k *kong.Context, c *CLI) error { return run(k, c, r.Resources, nil) }

type optRes struct {
	Resources []string `arg:"" optional:"" name:"resource" help:"RES, RES/VNR, minor-N or all (default all)."`
}

func (r *optRes) Run(k *kong.Context, c *CLI) error { return run(k, c, r.Resources, nil) }

type statusRes struct {
	OutputAs  string   `name:"output-as" enum:"text,json" default:"text" help:"Output format: text (drbdadm status) or json (drbdsetup status --json)."`
	JSON      bool     `name:"json" help:"Same as --output-as json."`
	Resources []string `arg:"" optional:"" name:"resource" help:"RES or all (default all)."`
}

func (r *statusRes) Run(k *kong.Context, c *CLI) error {
	return run(k, c, r.Resources, flag(r.JSON || r.OutputAs == "json", "json", nil))
}

// optsRes takes drbdsetup's options to change, --name=value, before or
// among the resources (drbdadm disk-options --resync-rate=10M r0).
type optsRes struct {
	Args []string `arg:"" passthrough:"" name:"option-or-resource" help:"--name=value options to change, and RES, RES/VNR, minor-N or all."`
}

func (r *optsRes) Run(k *kong.Context, c *CLI) error {
	var res []string
	var f []api.Option
	// kong splits --name=value in two: take the words as written.
	args := adm.Legacy(os.Args[1:])
	for i, a := range args {
		if a == k.Selected().Name {
			args = args[i+1:]
			break
		}
	}
	for _, a := range args {
		if strings.HasPrefix(a, "--") {
			n, v, _ := strings.Cut(a[2:], "=")
			f = append(f, api.Option{Name: n, Value: v})
		} else {
			res = append(res, a)
		}
	}
	return run(k, c, res, f)
}

type noRes struct{}

func (r *noRes) Run(k *kong.Context, c *CLI) error { return run(k, c, nil, nil) }

func flag(on bool, name string, f []api.Option) []api.Option {
	if on {
		f = append(f, api.Option{Name: name})
	}
	return f
}

type forceRes struct {
	Force     bool     `help:"Force: primary treats the local data as UpToDate; create-md and wipe-md do not ask."`
	Resources []string `arg:"" name:"resource" help:"RES, RES/VNR, minor-N or all."`
}

func (r *forceRes) Run(k *kong.Context, c *CLI) error {
	return run(k, c, r.Resources, flag(r.Force, "force", nil))
}

type connectRes struct {
	DiscardMyData bool     `name:"discard-my-data" help:"This node is the split-brain victim: its changes are overwritten."`
	Tentative     bool     `help:"Only show what the handshake would decide."`
	Resources     []string `arg:"" name:"resource" help:"RES or all."`
}

func (r *connectRes) Run(k *kong.Context, c *CLI) error {
	f := flag(r.DiscardMyData, "discard-my-data", nil)
	return run(k, c, r.Resources, flag(r.Tentative, "tentative", f))
}

type verifyRes struct {
	Start     string   `help:"Start at this sector." placeholder:"SECTOR"`
	Resources []string `arg:"" name:"resource" help:"RES, RES/VNR, minor-N or all."`
}

func (r *verifyRes) Run(k *kong.Context, c *CLI) error {
	var f []api.Option
	if r.Start != "" {
		f = append(f, api.Option{Name: "start", Value: r.Start})
	}
	return run(k, c, r.Resources, f)
}

type resizeRes struct {
	Size               string   `help:"New size (with unit K, M, G or s)." placeholder:"SIZE"`
	AssumePeerHasSpace bool     `name:"assume-peer-has-space" help:"Do not wait for the peer's size."`
	AssumeClean        bool     `name:"assume-clean" help:"Do not resync the new area."`
	Resources          []string `arg:"" name:"resource" help:"RES, RES/VNR, minor-N or all."`
}

func (r *resizeRes) Run(k *kong.Context, c *CLI) error {
	var f []api.Option
	if r.Size != "" {
		f = append(f, api.Option{Name: "size", Value: r.Size})
	}
	f = flag(r.AssumePeerHasSpace, "assume-peer-has-space", f)
	f = flag(r.AssumeClean, "assume-clean", f)
	return run(k, c, r.Resources, f)
}

type ncuRes struct {
	ClearBitmap bool     `name:"clear-bitmap" help:"Skip the initial sync of a new pair."`
	Resources   []string `arg:"" name:"resource" help:"RES/VNR, RES (one volume) or minor-N."`
}

func (r *ncuRes) Run(k *kong.Context, c *CLI) error {
	return run(k, c, r.Resources, flag(r.ClearBitmap, "clear-bitmap", nil))
}
