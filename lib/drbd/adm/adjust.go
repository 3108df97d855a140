package adm

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/linux-ha-go/ha/lib/drbd/api"
	"github.com/linux-ha-go/ha/lib/drbd/conf"
	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/ipc"
)

// Action is one step of adjust: an operation on the resource (VNR -1)
// or on one of its volumes, and the stage it runs in (drbdadm's deferred
// stages: prerequisites, resource, disk prerequisites, disk, net
// prerequisites, net).
type Action struct {
	Op    string
	VNR   int
	Stage int
}

// AdjustActions is drbdadm 8.4's adjust decision: it compares the
// configuration (want) with what runs (have; nil: nothing runs) and
// returns only the steps that make them equal, in drbdadm's order:
// volumes that are gone are detached and deleted, changed resource
// options are set, new minors created, missing disks attached, a changed
// disk detached and attached again, changed disk options set, a missing
// network connected, changed addresses disconnected and connected again,
// changed net options set. Options are compared with DRBD's defaults
// filled in and in their units (33M = 33792k), so an option written out
// with its default value is no change.
func AdjustActions(want *api.Resource, have *api.Running) []Action {
	var a []Action
	add := func(op string, vnr, stage int) { a = append(a, Action{op, vnr, stage}) }
	if have == nil {
		add(api.OpNewResource, -1, stagePrereq)
		for _, v := range want.Volumes {
			add(api.OpNewMinor, v.VNR, stageResource)
		}
		for _, v := range want.Volumes {
			add(api.OpAttach, v.VNR, stageDisk)
		}
		add(api.OpConnect, -1, stageNet)
		return a
	}
	running := map[int]*api.RunningVolume{}
	for i := range have.Volumes {
		running[have.Volumes[i].VNR] = &have.Volumes[i]
	}
	for _, hv := range have.Volumes {
		if want.Volume(hv.VNR) == nil {
			if hv.Disk != "" {
				add(api.OpDetach, hv.VNR, stagePrereq)
			}
			add(api.OpDelMinor, hv.VNR, stagePrereq)
		}
	}
	if !SameOptions(want.Options, have.Options) {
		add(api.OpResourceOptions, -1, stageResource)
	}
	for _, v := range want.Volumes {
		hv := running[v.VNR]
		switch {
		case hv == nil:
			add(api.OpNewMinor, v.VNR, stageResource)
			add(api.OpAttach, v.VNR, stageDisk)
		case hv.Disk == "":
			add(api.OpAttach, v.VNR, stageDisk)
		case hv.Disk != v.Disk || metaDev(hv.MetaDisk, hv.Disk) != v.MetaDevice() || metaIdx(hv.MetaIndex) != metaIdx(v.MetaIndex):
			add(api.OpDetach, v.VNR, stageDiskPrereq)
			add(api.OpAttach, v.VNR, stageDisk)
		case !SameOptions(v.DiskOptions, hv.DiskOptions):
			add(api.OpDiskOptions, v.VNR, stageDisk)
		}
	}
	switch {
	case have.Net == nil:
		add(api.OpConnect, -1, stageNet)
	case !sameEndpoint(want.Local, have.Net.Local) || !sameEndpoint(want.Peer, have.Net.Peer):
		add(api.OpDisconnect, -1, stageNetPrereq)
		add(api.OpConnect, -1, stageNet)
	case !SameOptions(want.Net, have.Net.Options):
		add(api.OpNetOptions, -1, stageNet)
	}
	return a
}

func metaDev(md, disk string) string {
	if md == "internal" || md == "" {
		return disk
	}
	return md
}

func metaIdx(s string) string {
	if s == "" {
		return "internal"
	}
	return s
}

func sameEndpoint(a, b *api.Endpoint) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.AF == b.AF && a.Address == b.Address && a.Port == b.Port
}

// SameOptions reports whether two option lists configure the same: an
// option missing from one side has its default value there.
func SameOptions(a, b []api.Option) bool {
	last := func(o []api.Option) map[string]string {
		m := map[string]string{}
		for _, x := range o {
			m[x.Name] = x.Value
		}
		return m
	}
	ma, mb := last(a), last(b)
	for _, pair := range [][2]map[string]string{{ma, mb}, {mb, ma}} {
		for name, va := range pair[0] {
			vb, ok := pair[1][name]
			if !ok {
				def, hasDef := conf.OptionDefault(name)
				if !hasDef {
					return false
				}
				vb = def
			}
			if !conf.SameOptionValue(name, va, vb) {
				return false
			}
		}
	}
	return true
}

// running asks godrbd for the resource's running configuration; nil
// when godrbd does not run it, or does not run at all (then adjust is
// up, as drbdadm's without the module; a real run then fails at its
// first step, saying that godrbd is not running).
func (r *runner) running(ctx context.Context, res *conf.Resource) (*api.Running, error) {
	if r.client == nil {
		c, err := ipc.Dial(ctx, api.Daemon, r.o.Socket())
		if err != nil {
			return nil, nil
		}
		r.client = c
	}
	var reply api.Reply
	err := r.client.Call(ctx, api.OpShow, &api.Request{Op: api.OpShow, Resource: res.Name}, &reply)
	if err != nil {
		var ref *api.Refusal
		if errors.As(api.FromIPC(err), &ref) && ref.Code == api.ErrResourceUnknown {
			return nil, nil
		}
		return nil, exitcode.Wrap(ExitExec, err, "")
	}
	var run api.Running
	if err := json.Unmarshal([]byte(reply.Text), &run); err != nil {
		return nil, exitcode.Wrap(ExitExec, err, "")
	}
	return &run, nil
}

// adjustSteps turns adjust's actions into the steps drbdadm prints and
// runs for them.
func (r *runner) adjustSteps(res *conf.Resource, have *api.Running, acts []Action) []step {
	var s []step
	vol := func(vnr int) *conf.Volume {
		for _, v := range res.Me.Volumes {
			if v.VNR == vnr {
				return v
			}
		}
		return nil
	}
	// A volume that is no longer configured is named by its running minor.
	gone := func(op string, vnr int) *api.Request {
		q := &api.Request{Op: op, Resource: res.Name, Config: Resource(r.cfg, res), Flags: r.flags}
		for _, hv := range have.Volumes {
			if hv.VNR == vnr {
				q.Volume, q.Minor = ip(vnr), ip(hv.Minor)
				q.Args = []string{strconv.Itoa(hv.Minor)}
			}
		}
		return q
	}
	for _, a := range acts {
		v := vol(a.VNR)
		var q *api.Request
		switch a.Op {
		case api.OpNewResource:
			q = r.req(api.OpNewResource, res, nil, res.Name)
			q.Options = opts(res.ResOptions)
		case api.OpNewMinor:
			q = r.req(api.OpNewMinor, res, v, res.Name, minorArg(v), strconv.Itoa(v.VNR))
		case api.OpAttach:
			s = append(s, attachSteps(r, res, v, a.Stage)...)
			continue
		case api.OpDetach, api.OpDelMinor:
			if v != nil {
				q = r.req(a.Op, res, v, minorArg(v))
			} else {
				q = gone(a.Op, a.VNR)
			}
		case api.OpResourceOptions:
			q = r.req(a.Op, res, nil, res.Name, api.SetDefaults)
			q.Options = opts(res.ResOptions)
		case api.OpDiskOptions:
			q = r.req(a.Op, res, v, minorArg(v), api.SetDefaults)
			q.Options = opts(v.DiskOptions)
		case api.OpConnect:
			q = connectStep(r, res)
		case api.OpDisconnect:
			q = r.req(a.Op, res, nil, have.Net.Local.String(), have.Net.Peer.String())
		case api.OpNetOptions:
			q = r.req(a.Op, res, nil, append(addrArgs(res), api.SetDefaults)...)
			q.Options = opts(res.Net)
		}
		s = append(s, step{req: q, stage: a.Stage})
	}
	return s
}
