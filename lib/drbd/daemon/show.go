package daemon

import (
	"encoding/json"
	"sort"

	"github.com/linux-ha-go/ha/lib/drbd/api"
)

// applied is a set of options as they were last applied to the running
// resource (drbdsetup show's view); set tells an empty list from none.
type applied struct {
	set  bool
	opts []api.Option
}

// record keeps what a successful request applied, for show (adjust):
// the resource options of new-resource, the disk options of attach, and
// the changes of disk-options, net-options and resource-options, which
// take effect at once (the net options of a running connection: the
// protocol and the authentication at the next connection).
func (d *Daemon) record(q *api.Request) {
	switch q.Op {
	case api.OpNewResource, api.OpResourceOptions, api.OpAttach, api.OpDiskOptions, api.OpConnect, api.OpNetOptions:
	default:
		return
	}
	r := d.resource(q.Resource)
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	given := q.Options
	if q.Op == api.OpResourceOptions || q.Op == api.OpDiskOptions || q.Op == api.OpNetOptions {
		// drbdadm disk-options --resync-rate=10M: the command line's
		// options come as flags.
		given = append(append([]api.Option(nil), q.Options...), q.Flags...)
	}
	switch q.Op {
	case api.OpNewResource:
		if !r.resOpts.set {
			r.resOpts = applied{true, append([]api.Option(nil), q.Options...)}
		}
	case api.OpResourceOptions:
		r.resOpts = applied{true, api.ChangeOptions(r.resOpts.opts, q.Args, given)}
		for _, v := range r.vols {
			c, _ := r.machineConfig(v.diskOptions())
			v.m.Cfg.SuspendOnNoData = c.SuspendOnNoData
		}
	case api.OpAttach, api.OpDiskOptions:
		if q.Volume == nil || r.vols[*q.Volume] == nil {
			return
		}
		v := r.vols[*q.Volume]
		if q.Op == api.OpAttach {
			v.diskOpts = applied{true, append([]api.Option(nil), q.Options...)}
			if cv := r.cfg.Volume(v.vnr); cv != nil {
				v.diskAt = *cv
			}
		} else {
			v.diskOpts = applied{true, api.ChangeOptions(v.diskOptions(), q.Args, given)}
			// The resync controller reads them (diskOptions) every step;
			// the state machine's rules take fencing now.
			c, _ := r.machineConfig(v.diskOptions())
			v.m.Cfg.Fencing = c.Fencing
		}
	case api.OpConnect:
		if r.net != nil {
			r.netOpts = applied{true, r.net.opts}
		}
	case api.OpNetOptions:
		// The connection keeps running; the options count from now on
		// (max-buffers for the resync controller), the protocol and the
		// authentication at the next connection.
		if r.netConf {
			r.netOpts = applied{true, api.ChangeOptions(r.netOptions(), q.Args, given)}
			// The next handshake (this node's reconnection included)
			// offers the new protocol and authentication.
			if ns := r.net; ns != nil {
				ns.opts = r.netOpts.opts
				ns.proto = protoNumber(optOr(ns.opts, "protocol", "C"))
			}
		}
	}
}

// show is drbdsetup show: the running configuration of a resource.
func (d *Daemon) show(q *api.Request) (*api.Reply, error) {
	r := d.resource(q.Resource)
	if r == nil {
		return nil, api.Failure(q.Resource, api.ErrResourceUnknown)
	}
	r.mu.Lock()
	run := api.Running{Name: r.name, Options: r.resOpts.opts}
	if !r.resOpts.set {
		run.Options = r.cfg.Options
	}
	if r.netConf && r.net != nil {
		run.Net = &api.RunningNet{Local: r.net.local, Peer: r.net.peer, Options: r.netOptions()}
	}
	for _, v := range r.vols {
		rv := api.RunningVolume{VNR: v.vnr, Minor: v.minor}
		if v.disk != nil {
			if cv := r.cfg.Volume(v.vnr); cv != nil {
				rv.Disk, rv.MetaDisk, rv.MetaIndex = cv.Disk, cv.MetaDisk, cv.MetaIndex
			}
			if v.diskAt.Disk != "" {
				rv.Disk, rv.MetaDisk, rv.MetaIndex = v.diskAt.Disk, v.diskAt.MetaDisk, v.diskAt.MetaIndex
			}
			rv.DiskOptions = v.diskOptions()
			if v.diskOpts.set {
				rv.DiskOptions = v.diskOpts.opts
			}
		}
		run.Volumes = append(run.Volumes, rv)
	}
	r.mu.Unlock()
	sort.Slice(run.Volumes, func(i, j int) bool { return run.Volumes[i].VNR < run.Volumes[j].VNR })
	b, err := json.Marshal(run)
	if err != nil {
		return nil, err
	}
	return &api.Reply{Text: string(b)}, nil
}
