package adm

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"

	"github.com/linux-ha-go/ha/lib/drbd/api"
	"github.com/linux-ha-go/ha/lib/drbd/conf"
	"github.com/linux-ha-go/ha/lib/exitcode"
)

// Command is one godrbdadm command and how drbdadm 8.4 treats it.
type Command struct {
	Name string
	Help string
	// ResNameRequired: the command works on resources ("all" for all).
	ResNameRequired bool
	// AllByDefault: no resource means all (dump, dump-xml, status).
	AllByDefault   bool
	IterateVolumes bool // run once per volume
	VolIDRequired  bool // needs RES/VNR unless the resource has one implicit volume
	VerifyIPs      bool // check that the local address exists
	NeedPeer       bool
	Dump           bool
	Deferred       bool // steps run in stages after all resources (up)
	NoConfig       bool // needs no configuration file (proc)
	// Flags the command takes (name → takes a value).
	Flags map[string]bool

	Steps func(r *runner, res *conf.Resource, vol *conf.Volume) ([]step, exitcode.Code)
	Local func(r *runner, res *conf.Resource, vol *conf.Volume) (exitcode.Code, error)
	// Global runs a command that needs no resource.
	Global func(ctx context.Context, r *runner) error
}

const (
	stagePrereq = iota // create res
	stageResource
	stageDiskPrereq
	stageDisk
	stageNetPrereq
	stageNet
)

var commands = map[string]*Command{}

func def(c *Command) {
	commands[c.Name] = c
}

// Lookup returns the command called name (or nil), after drbdadm's
// deprecated names.
func Lookup(name string) *Command {
	switch name {
	case "state":
		name = "role"
	case "outdate-peer":
		name = "fence-peer"
	}
	return commands[name]
}

// Names lists the commands.
func Names() []string {
	var n []string
	for k := range commands {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Resource turns a resolved resource into the daemon's view of it.
func Resource(cfg *conf.Config, res *conf.Resource) *api.Resource {
	a := &api.Resource{
		Name:            res.Name,
		ConfigFile:      cfg.File,
		Protocol:        "C",
		Net:             opts(res.Net),
		Disk:            opts(res.Disk),
		Startup:         opts(res.Startup),
		Options:         opts(res.ResOptions),
		Handlers:        opts(res.Handlers),
		BecomePrimaryOn: res.BecomePrimaryOn,
	}
	if p, ok := res.Net.Get("protocol"); ok {
		a.Protocol = p
	}
	if me := res.Me; me != nil {
		a.Local = endpoint(me)
		for _, v := range me.Volumes {
			a.Volumes = append(a.Volumes, api.Volume{
				VNR: v.VNR, Minor: v.Minor, Device: v.DevicePath(), Disk: v.Disk,
				MetaDisk: v.MetaDisk, MetaIndex: v.MetaIndex, DiskOptions: opts(v.DiskOptions),
			})
		}
	}
	if res.Peer != nil {
		a.Peer = endpoint(res.Peer)
	}
	return a
}

func endpoint(h *conf.Host) *api.Endpoint {
	return &api.Endpoint{Node: joinNames(h.Names), AF: h.AF, Address: h.Address, Port: h.Port}
}

func joinNames(n []string) string {
	s := ""
	for i, x := range n {
		if i > 0 {
			s += " "
		}
		s += x
	}
	return s
}

func opts(o conf.Options) []api.Option {
	var out []api.Option
	for _, x := range o {
		out = append(out, api.Option{Name: x.Name, Value: x.Value})
	}
	return out
}

func ip(i int) *int { return &i }

// req makes a request for res (and vol) with positional args.
func (r *runner) req(op string, res *conf.Resource, vol *conf.Volume, args ...string) *api.Request {
	q := &api.Request{Op: op, Resource: res.Name, Config: Resource(r.cfg, res), Args: args}
	if vol != nil {
		q.Volume, q.Minor = ip(vol.VNR), ip(vol.Minor)
	}
	q.Flags = append(q.Flags, r.flags...)
	return q
}

func minorArg(v *conf.Volume) string { return strconv.Itoa(v.Minor) }

// metaArgs are drbdmeta's: minor, meta-data device, index.
func metaArgs(v *conf.Volume) []string {
	idx := v.MetaIndex
	if idx == "flexible" {
		if v.MetaDisk == "internal" {
			idx = "flex-internal"
		} else {
			idx = "flex-external"
		}
	}
	return []string{minorArg(v), v.MetaDevice(), idx}
}

func addrArgs(res *conf.Resource) []string {
	l := endpoint(res.Me).String()
	if res.Peer == nil {
		return []string{l, "N/A"}
	}
	return []string{l, endpoint(res.Peer).String()}
}

func one(q *api.Request) []step { return []step{{req: q}} }

// withMetaFallback: `op MINOR`, then drbdmeta's `op` on the meta data,
// which drbdadm runs when the minor does not exist (invalidate, outdate,
// dstate, get-gi, show-gi). godrbd answers both from the first request
// (from the running volume, else from the meta data), so the second is
// only printed in a dry run.
func withMetaFallback(op string) func(r *runner, res *conf.Resource, vol *conf.Volume) ([]step, exitcode.Code) {
	return func(r *runner, res *conf.Resource, vol *conf.Volume) ([]step, exitcode.Code) {
		return []step{{req: r.req(op, res, vol, minorArg(vol))}, {req: r.req(op, res, vol, metaArgs(vol)...), fallback: true}}, 0
	}
}

// perVolume: `op MINOR` (drbdadm's adm_generic with a volume).
func perVolume(op string) func(r *runner, res *conf.Resource, vol *conf.Volume) ([]step, exitcode.Code) {
	return func(r *runner, res *conf.Resource, vol *conf.Volume) ([]step, exitcode.Code) {
		return one(r.req(op, res, vol, minorArg(vol))), 0
	}
}

// perResource: `op RES`.
func perResource(op string) func(r *runner, res *conf.Resource, vol *conf.Volume) ([]step, exitcode.Code) {
	return func(r *runner, res *conf.Resource, vol *conf.Volume) ([]step, exitcode.Code) {
		return one(r.req(op, res, nil, res.Name)), 0
	}
}

// meta: a meta-data step on the volume's meta-data device.
func meta(op string) func(r *runner, res *conf.Resource, vol *conf.Volume) ([]step, exitcode.Code) {
	return func(r *runner, res *conf.Resource, vol *conf.Volume) ([]step, exitcode.Code) {
		return one(r.req(op, res, vol, metaArgs(vol)...)), 0
	}
}

func attachSteps(r *runner, res *conf.Resource, vol *conf.Volume, stage int) []step {
	al := r.req(api.OpApplyAL, res, vol, metaArgs(vol)...)
	at := r.req(api.OpAttach, res, vol, minorArg(vol), vol.Disk, vol.MetaDevice(), vol.MetaIndex)
	at.Options = opts(vol.DiskOptions)
	return []step{{req: al, stage: stage}, {req: at, stage: stage}}
}

func connectStep(r *runner, res *conf.Resource) *api.Request {
	q := r.req(api.OpConnect, res, nil, append([]string{res.Name}, addrArgs(res)...)...)
	q.Options = opts(res.Net)
	return q
}

func init() {
	std := func(name, help string) *Command {
		return &Command{Name: name, Help: help, ResNameRequired: true, IterateVolumes: true}
	}
	c := std("attach", "Attach the backing disk and meta data.")
	c.Steps = func(r *runner, res *conf.Resource, vol *conf.Volume) ([]step, exitcode.Code) {
		return attachSteps(r, res, vol, 0), 0
	}
	def(c)

	c = std("detach", "Release the backing disk.")
	c.Flags = map[string]bool{"force": false}
	c.Steps = perVolume(api.OpDetach)
	def(c)

	c = &Command{Name: "connect", Help: "Configure the network and connect to the peer.", ResNameRequired: true, VerifyIPs: true, NeedPeer: true,
		Flags: map[string]bool{"discard-my-data": false, "tentative": false}}
	c.Steps = func(r *runner, res *conf.Resource, vol *conf.Volume) ([]step, exitcode.Code) {
		return one(connectStep(r, res)), 0
	}
	def(c)

	c = &Command{Name: "disconnect", Help: "Drop the network configuration (StandAlone).", ResNameRequired: true}
	c.Steps = func(r *runner, res *conf.Resource, vol *conf.Volume) ([]step, exitcode.Code) {
		return one(r.req(api.OpDisconnect, res, nil, addrArgs(res)...)), 0
	}
	def(c)

	c = &Command{Name: "up", Help: "Create the resource, attach and connect (attach + connect).", ResNameRequired: true, IterateVolumes: true, VerifyIPs: true, NeedPeer: true, Deferred: true}
	c.Steps = func(r *runner, res *conf.Resource, vol *conf.Volume) ([]step, exitcode.Code) {
		var s []step
		first := true
		for _, x := range r.steps {
			if x.req.Resource == res.Name {
				first = false
			}
		}
		if first {
			nr := r.req(api.OpNewResource, res, nil, res.Name)
			nr.Options = opts(res.ResOptions)
			s = append(s, step{req: nr, stage: stagePrereq})
		}
		s = append(s, step{req: r.req(api.OpNewMinor, res, vol, res.Name, minorArg(vol), strconv.Itoa(vol.VNR)), stage: stagePrereq})
		s = append(s, attachSteps(r, res, vol, stageDisk)...)
		if first {
			s = append(s, step{req: connectStep(r, res), stage: stageNet})
		}
		return s, 0
	}
	def(c)

	c = &Command{Name: "down", Help: "Demote, disconnect, detach and delete the resource.", ResNameRequired: true}
	c.Steps = perResource(api.OpDown)
	def(c)

	c = std("primary", "Promote to Primary.")
	c.Flags = map[string]bool{"force": false}
	c.Steps = perVolume(api.OpPrimary)
	def(c)

	c = std("secondary", "Demote to Secondary.")
	c.Steps = perVolume(api.OpSecondary)
	def(c)

	c = std("invalidate", "Discard the local data: full sync from the peer.")
	c.Steps = withMetaFallback(api.OpInvalidate)
	def(c)

	c = std("invalidate-remote", "Discard the peer's data: full sync to the peer.")
	c.VerifyIPs = true
	c.Steps = perVolume(api.OpInvalidateRemote)
	def(c)

	c = std("outdate", "Mark the local data as Outdated.")
	c.Steps = withMetaFallback(api.OpOutdate)
	def(c)

	c = std("resize", "Grow the device to the size of the backing disks.")
	c.VerifyIPs = true
	c.Flags = map[string]bool{"size": true, "assume-peer-has-space": false, "assume-clean": false}
	c.Steps = func(r *runner, res *conf.Resource, vol *conf.Volume) ([]step, exitcode.Code) {
		q := r.req(api.OpResize, res, vol, minorArg(vol))
		if _, ok := q.Flag("size"); !ok {
			if v, ok := vol.DiskOptions.Get("size"); ok {
				q.Options = []api.Option{{Name: "size", Value: v}}
			} else if v, ok := res.Disk.Get("size"); ok {
				q.Options = []api.Option{{Name: "size", Value: v}}
			}
		}
		// drbdadm then records the new size of the backing device
		// (check-resize takes none of resize's flags).
		cr := r.req(api.OpCheckResize, res, vol, minorArg(vol))
		cr.Flags = nil
		return []step{{req: q}, {req: cr}}, 0
	}
	def(c)

	// check-resize is drbdadm's resize with its messages silenced, then
	// the record of the backing device's size.
	c = std("check-resize", "Remember the current size of the backing disk.")
	c.Steps = func(r *runner, res *conf.Resource, vol *conf.Volume) ([]step, exitcode.Code) {
		return []step{{req: r.req(api.OpResize, res, vol, minorArg(vol)), quiet: true}, {req: r.req(api.OpCheckResize, res, vol, minorArg(vol))}}, 0
	}
	def(c)

	c = std("verify", "Start an online verify.")
	c.VerifyIPs = true
	c.Flags = map[string]bool{"start": true}
	c.Steps = perVolume(api.OpVerify)
	def(c)

	c = std("pause-sync", "Pause the resync.")
	c.VerifyIPs = true
	c.Steps = perVolume(api.OpPauseSync)
	def(c)

	c = std("resume-sync", "Resume a paused resync.")
	c.VerifyIPs = true
	c.Steps = perVolume(api.OpResumeSync)
	def(c)

	c = std("suspend-io", "Freeze application IO until resume-io.")
	c.VerifyIPs = true
	c.Steps = perVolume(api.OpSuspendIO)
	def(c)

	c = std("resume-io", "Resume frozen application IO (suspend-io, on-no-data-accessible suspend-io, fencing resource-and-stonith).")
	c.VerifyIPs = true
	c.Steps = perVolume(api.OpResumeIO)
	def(c)

	// adjust asks godrbd what runs (drbdsetup show) and takes only the
	// steps that differ (adjust.go), in up's stages.
	c = &Command{Name: "adjust", Help: "Make the running resource match the configuration.", ResNameRequired: true, VerifyIPs: true, NeedPeer: true, Deferred: true}
	c.Steps = func(r *runner, res *conf.Resource, vol *conf.Volume) ([]step, exitcode.Code) {
		have, err := r.running(context.Background(), res)
		if err != nil {
			r.errf("%s: %v\n", res.Name, err)
			return nil, ExitExec
		}
		return r.adjustSteps(res, have, AdjustActions(Resource(r.cfg, res), have)), 0
	}
	def(c)

	c = &Command{Name: "new-current-uuid", Help: "Start a new data generation.", ResNameRequired: true, IterateVolumes: true, VolIDRequired: true,
		Flags: map[string]bool{"clear-bitmap": false}}
	c.Steps = perVolume(api.OpNewCurrentUUID)
	def(c)

	for _, n := range []struct{ name, op, help string }{
		{"role", api.OpRole, "Print the roles: local/peer."},
		{"cstate", api.OpCState, "Print the connection state."},
		{"wait-sync", api.OpWaitSync, "Wait until no resync runs."},
	} {
		c = std(n.name, n.help)
		c.Steps = perVolume(n.op)
		def(c)
	}
	for _, n := range []struct{ name, op, help string }{
		{"dstate", api.OpDState, "Print the disk states: local/peer."},
		{"get-gi", api.OpGetGI, "Print the generation identifiers."},
		{"show-gi", api.OpShowGI, "Explain the generation identifiers."},
	} {
		c = std(n.name, n.help)
		c.Steps = withMetaFallback(n.op)
		def(c)
	}

	c = std("wait-connect", "Wait until connected (startup timeouts).")
	c.VerifyIPs = true
	c.Steps = func(r *runner, res *conf.Resource, vol *conf.Volume) ([]step, exitcode.Code) {
		q := r.req(api.OpWaitConnect, res, vol, minorArg(vol))
		q.Options = opts(res.Startup)
		return one(q), 0
	}
	def(c)

	c = &Command{Name: "status", Help: "Print the resource's status.", ResNameRequired: true, AllByDefault: true}
	c.Steps = perResource(api.OpStatus)
	def(c)

	for _, n := range []struct{ name, op, help string }{
		{"create-md", api.OpCreateMD, "Initialise the meta data."},
		{"dump-md", api.OpDumpMD, "Print the meta data in text form."},
		{"wipe-md", api.OpWipeMD, "Destroy the meta data."},
		{"apply-al", api.OpApplyAL, "Apply the activity log to the bitmap."},
	} {
		c = std(n.name, n.help)
		c.Flags = map[string]bool{"force": false}
		c.Steps = meta(n.op)
		def(c)
	}

	c = &Command{Name: "proc", Help: "Print the /proc/drbd-style status of every device.", NoConfig: true}
	c.Global = func(ctx context.Context, r *runner) error {
		q := &api.Request{Op: api.OpProc, Flags: r.flags}
		code, err := r.send(ctx, q)
		if err != nil {
			return err
		}
		return Exit(code)
	}
	def(c)

	// disk-options, net-options and resource-options pass only options
	// given on the command line, as drbdadm's (godrbdadm takes none yet):
	// the configured options are applied by adjust (--set-defaults and
	// all of them).
	c = std("disk-options", "Change disk options of the running volume (adjust applies the configured ones).")
	c.Steps = perVolume(api.OpDiskOptions)
	def(c)

	c = &Command{Name: "net-options", Help: "Change net options of the running resource (adjust applies the configured ones).", ResNameRequired: true, VerifyIPs: true, NeedPeer: true}
	c.Steps = func(r *runner, res *conf.Resource, vol *conf.Volume) ([]step, exitcode.Code) {
		return one(r.req(api.OpNetOptions, res, nil, addrArgs(res)...)), 0
	}
	def(c)

	c = &Command{Name: "resource-options", Help: "Change resource options (adjust applies the configured ones).", ResNameRequired: true}
	c.Steps = perResource(api.OpResourceOptions)
	def(c)

	// sh-b-pri: promote if this node is named in become-primary-on (or
	// it says both); used by init scripts.
	c = std("sh-b-pri", "Promote if become-primary-on names this node.")
	c.Steps = func(r *runner, res *conf.Resource, vol *conf.Volume) ([]step, exitcode.Code) {
		for _, n := range res.BecomePrimaryOn {
			if n == r.cfg.Node || n == "both" {
				return one(r.req(api.OpPrimary, res, vol, minorArg(vol))), 0
			}
		}
		return nil, 0
	}
	def(c)

	defineLocal()
}

// global runs a command that takes no resource.
func (r *runner) global(ctx context.Context) error {
	if r.cmd.Global == nil {
		return fmt.Errorf("command %s needs a resource", r.cmd.Name)
	}
	return r.cmd.Global(ctx, r)
}

// Resources reads the configuration as godrbdadm does and returns this
// node's resources in the daemon's form (for godrbd's own start-up, or
// any tool that needs the resolved configuration). Messages go to
// o.Stderr.
func Resources(o *Options) ([]*api.Resource, error) {
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.HaveIP == nil {
		o.HaveIP = conf.HaveIP
	}
	cfg, err := Load(o)
	if err != nil {
		return nil, err
	}
	msgs, err := cfg.Resolve(o.node(), o.HaveIP, o.NoTTY)
	for _, m := range msgs {
		io.WriteString(o.Stderr, m)
	}
	if err != nil {
		return nil, err
	}
	var out []*api.Resource
	for _, r := range cfg.Resources {
		if !r.Ignore && !r.Stacked {
			out = append(out, Resource(cfg, r))
		}
	}
	return out, nil
}
