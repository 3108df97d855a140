// Package daemon is godrbd: it serves godrbdadm's operations (lib/drbd/api)
// on <rundir>/godrbd.sock, owns every resource's volumes (backing disk,
// meta data with its bitmap and activity log, state machine), connects
// each volume to the peer with the DRBD 8.4 peer protocol (lib/drbd/repl),
// replicates writes, resyncs and verifies, and exports each volume of a
// Primary over NBD on <rundir>/<resource>.nbd (lib/drbd/nbd).
//
// The rules are lib/drbd/state's: every event goes through the volume's
// state.Machine (Volume.step) and this package carries out the actions
// it returns (send the state, write the meta data, start a resync, run
// a handler). A resource's state (its machines, bitmaps, links) is
// guarded by one lock, Resource.mu, taken by the request handlers, the
// network goroutines and the device, with Resource.cond signalled on
// every state change for the operations that wait (wait-sync,
// wait-connect, primary waiting for fence-peer, paused resyncs).
package daemon

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/google/renameio/v2"
	"github.com/linux-ha-go/ha/lib/drbd/api"
	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/ipc"
)

// Daemon is one godrbd.
type Daemon struct {
	Rundir string
	Node   string
	Log    *slog.Logger
	// StateDir keeps what must survive a reboot: the last known size of
	// each backing disk with internal meta data (resize.go). Empty: none.
	StateDir string

	mu   sync.Mutex
	res  map[string]*Resource
	kick chan struct{} // rewrite <rundir>/proc soon
}

// New returns a daemon serving from rundir.
func New(rundir, node string, log *slog.Logger) *Daemon {
	return &Daemon{Rundir: rundir, Node: node, Log: log, res: map[string]*Resource{}, kick: make(chan struct{}, 1)}
}

// Serve listens on <rundir>/godrbd.sock and serves until ctx ends; then
// every resource is taken down. ready is called once the socket listens.
func (d *Daemon) Serve(ctx context.Context, ready func()) error {
	if err := os.MkdirAll(d.Rundir, 0o755); err != nil {
		return err
	}
	ln, err := ipc.Listen(filepath.Join(d.Rundir, api.SocketName))
	if err != nil {
		return err
	}
	s := ipc.NewServer(d.Log)
	for _, op := range []string{api.OpNewResource, api.OpNewMinor, api.OpApplyAL, api.OpAttach, api.OpConnect,
		api.OpDisconnect, api.OpDetach, api.OpDown, api.OpPrimary, api.OpSecondary, api.OpInvalidate,
		api.OpInvalidateRemote, api.OpOutdate, api.OpVerify, api.OpPauseSync, api.OpResumeSync, api.OpResize,
		api.OpSuspendIO, api.OpResumeIO, api.OpCheckResize, api.OpNewCurrentUUID, api.OpRole, api.OpCState, api.OpDState, api.OpStatus,
		api.OpWaitConnect, api.OpWaitSync, api.OpProc, api.OpCreateMD, api.OpDumpMD, api.OpWipeMD, api.OpGetGI,
		api.OpShowGI, api.OpDiskOptions, api.OpNetOptions, api.OpResourceOptions, api.OpDelMinor,
		api.OpDelResource, api.OpShow} {
		s.Handle(op, d.handle)
	}
	go d.procLoop(ctx)
	if ready != nil {
		ready()
	}
	err = s.Serve(ctx, ln)
	d.shutdown()
	return err
}

func (d *Daemon) shutdown() {
	d.mu.Lock()
	rs := make([]*Resource, 0, len(d.res))
	for _, r := range d.res {
		rs = append(rs, r)
	}
	d.mu.Unlock()
	for _, r := range rs {
		r.down(true)
	}
	d.writeProc()
}

func (d *Daemon) handle(ctx context.Context, call *ipc.Call) (any, error) {
	var q api.Request
	if err := call.Decode(&q); err != nil {
		return nil, err
	}
	q.Op = call.Op
	d.Log.Debug("request", "op", q.String())
	rep, err := d.dispatch(ctx, &q)
	if r, ok := err.(*api.Refusal); ok {
		d.Log.Info("refused", "op", q.String(), "error", r.Error())
		return nil, r.IPC()
	}
	if err != nil {
		return nil, err
	}
	if rep == nil {
		rep = &api.Reply{}
	}
	d.record(&q)
	d.procChanged()
	return rep, nil
}

func (d *Daemon) resource(name string) *Resource {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.res[name]
}

// volume finds the volume of a per-volume request.
func (d *Daemon) volume(q *api.Request) (*Resource, *Volume, error) {
	obj := q.Resource
	if q.Minor != nil {
		obj = strconv.Itoa(*q.Minor)
	}
	r := d.resource(q.Resource)
	if r == nil {
		if q.Minor != nil {
			return nil, nil, api.Failure(obj, api.ErrMinorInvalid)
		}
		return nil, nil, api.Failure(obj, api.ErrResourceUnknown)
	}
	if q.Volume == nil {
		return r, nil, nil
	}
	r.mu.Lock()
	v := r.vols[*q.Volume]
	r.mu.Unlock()
	if v == nil {
		return r, nil, api.Failure(obj, api.ErrMinorInvalid)
	}
	return r, v, nil
}

func minorObj(q *api.Request) string {
	if q.Minor != nil {
		return strconv.Itoa(*q.Minor)
	}
	return q.Resource
}

func (d *Daemon) dispatch(ctx context.Context, q *api.Request) (*api.Reply, error) {
	switch q.Op {
	case api.OpProc:
		return &api.Reply{Text: d.procText()}, nil
	case api.OpCreateMD, api.OpDumpMD, api.OpWipeMD, api.OpGetGI, api.OpShowGI, api.OpApplyAL:
		return d.metaOp(q)
	case api.OpNewResource:
		d.mu.Lock()
		defer d.mu.Unlock()
		if r := d.res[q.Resource]; r != nil {
			if q.Config != nil {
				r.mu.Lock()
				r.cfg = q.Config
				r.mu.Unlock()
			}
			return nil, nil
		}
		if q.Config == nil {
			return nil, api.Failure(q.Resource, api.ErrInvalidRequest)
		}
		d.res[q.Resource] = newResource(d, q.Config)
		return nil, nil
	case api.OpShow:
		return d.show(q)
	}
	r := d.resource(q.Resource)
	if r == nil {
		switch q.Op {
		case api.OpDown, api.OpDelResource:
			return nil, nil // nothing to take down
		case api.OpRole, api.OpCState, api.OpDState:
			if q.Minor != nil {
				return nil, api.Failure(minorObj(q), api.ErrMinorInvalid)
			}
		case api.OpStatus:
			return nil, api.Failure(q.Resource, api.ErrResourceUnknown)
		case api.OpResize:
			return nil, notUp(q)
		case api.OpCheckResize:
			return d.checkResizeOffline(q)
		}
		return nil, api.Failure(minorObj(q), map[bool]int{true: api.ErrMinorInvalid, false: api.ErrResourceUnknown}[q.Minor != nil])
	}
	if q.Config != nil {
		r.mu.Lock()
		r.cfg = q.Config
		r.mu.Unlock()
	}
	switch q.Op {
	case api.OpNewMinor:
		return nil, r.newMinor(q)
	case api.OpDown:
		if err := r.down(false); err != nil {
			return nil, err
		}
		d.mu.Lock()
		delete(d.res, q.Resource)
		d.mu.Unlock()
		return nil, nil
	case api.OpDelResource:
		r.mu.Lock()
		n := len(r.vols)
		r.mu.Unlock()
		if n > 0 {
			return nil, api.Failure(q.Resource, api.ErrInvalidRequest)
		}
		d.mu.Lock()
		delete(d.res, q.Resource)
		d.mu.Unlock()
		return nil, nil
	case api.OpConnect:
		return nil, r.connect(q)
	case api.OpDisconnect:
		return nil, r.disconnect(q)
	case api.OpStatus:
		_, js := q.Flag("json")
		return &api.Reply{Text: r.statusText(js)}, nil
	case api.OpNetOptions, api.OpResourceOptions:
		return nil, nil
	}
	_, v, err := d.volume(q)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, api.Failure(minorObj(q), api.ErrInvalidRequest)
	}
	switch q.Op {
	case api.OpAttach:
		return nil, v.attach(q)
	case api.OpDetach:
		_, force := q.Flag("force")
		return nil, v.detach(force)
	case api.OpDelMinor:
		return nil, r.delMinor(v)
	case api.OpPrimary:
		_, force := q.Flag("force")
		return nil, v.promote(force)
	case api.OpSecondary:
		return nil, v.demote()
	case api.OpRole, api.OpCState, api.OpDState:
		return &api.Reply{Text: v.show(q.Op)}, nil
	case api.OpWaitSync:
		return nil, v.waitSync(ctx)
	case api.OpWaitConnect:
		return nil, v.waitConnect(ctx, q)
	case api.OpInvalidate, api.OpInvalidateRemote, api.OpOutdate, api.OpVerify, api.OpPauseSync,
		api.OpResumeSync, api.OpNewCurrentUUID, api.OpSuspendIO, api.OpResumeIO:
		return nil, v.request(q)
	case api.OpResize:
		return v.resize(ctx, q)
	case api.OpCheckResize:
		return v.checkResize()
	case api.OpDiskOptions:
		return nil, nil
	}
	return nil, ipc.Errorf(ipc.CodeBadRequest, exitcode.DrbdUsage, "%s: not supported by godrbd", q.Op)
}

// procLoop keeps <rundir>/proc current.
func (d *Daemon) procLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		d.writeProc()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.kick:
		}
	}
}

// procChanged asks procLoop to rewrite <rundir>/proc.
func (d *Daemon) procChanged() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

var procMu sync.Mutex

func (d *Daemon) writeProc() {
	procMu.Lock()
	defer procMu.Unlock()
	if err := renameio.WriteFile(filepath.Join(d.Rundir, "proc"), []byte(d.procText()), 0o644); err != nil {
		d.Log.Debug("writing proc", "error", err)
	}
}

func (d *Daemon) sortedResources() []*Resource {
	d.mu.Lock()
	defer d.mu.Unlock()
	rs := make([]*Resource, 0, len(d.res))
	for _, r := range d.res {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].name < rs[j].name })
	return rs
}

func errorf(format string, a ...any) error {
	return ipc.Errorf(ipc.CodeRefused, 10, format, a...)
}
