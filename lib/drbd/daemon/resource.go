package daemon

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/api"
	"github.com/linux-ha-go/ha/lib/drbd/meta"
	"github.com/linux-ha-go/ha/lib/drbd/nbd"
	"github.com/linux-ha-go/ha/lib/drbd/state"
	"github.com/linux-ha-go/ha/lib/ipc"
)

// Resource is one resource: its volumes and its connection.
type Resource struct {
	d    *Daemon
	name string

	mu      sync.Mutex // guards everything below and the volumes' state
	cond    *sync.Cond // broadcast on every state change
	cfg     *api.Resource
	vols    map[int]*Volume
	netConf bool
	net     *netState
	resOpts applied // resource options as applied (show.go)
	netOpts applied // net options as applied (show.go)
}

// Volume is one volume (minor) of a resource.
type Volume struct {
	r     *Resource
	vnr   int
	minor int
	m     *state.Machine

	disk *nbd.File
	md   *meta.Device
	sb   *meta.SuperBlock
	bm   *meta.Bitmap
	al   *meta.ActivityLog
	// alNextOff is where the last write that went through the activity
	// log ended: a write starting there is sequential (alBegin).
	alNextOff int64
	size      int64 // bytes served and replicated: the smaller of the two disks
	diskSize  int64 // usable bytes of the local disk

	peerUUIDs  state.UUIDs // as the peer last sent them
	peerBits   uint64
	peerFlags  uint64
	peerSize   uint64      // sectors
	rxBitmap   []byte      // the peer's bitmap while it arrives
	rsTotal    uint64      // bits to resync when the resync started
	rsInFlight int         // resync requests sent and not answered
	pace       resyncPace  // the sync target's request pacing (resyncctl.go)
	diskOpts   applied     // disk options as applied (show.go)
	diskAt     api.Volume  // the disk as attached (show.go)
	peerState  state.State // the peer's last reported state (its view)
	resyncing  bool
	// the states the meta data was last written with while attached
	lastDisk, lastPDsk state.Disk
	lastConn           state.Conn
	// online verify (VerifyS): blocks left, found out of sync, start
	ovLeft, ovFound uint64
	ovStart         time.Time

	splitBrain *splitBrain // the last unresolved split brain (splitbrain.go)
	lastErr    *linkError  // why this node last dropped a connection (net.go)

	grow growState // an online resize in progress (resize.go)

	fencing   int          // fence-peer handlers running
	fenceRV   state.Result // what its FenceResult gave
	fenceExit int          // its last exit code
	connects  uint64       // connections established (a fence-peer result is for one outage)
	// frozen mirrors "application IO is frozen" (a suspended Primary)
	// for the request path's fast check (dev.go).
	frozen atomic.Bool

	// ioMu orders the application's writes against resync reads, so
	// that a resync reply never carries data older than a write sent
	// before it.
	ioMu sync.Mutex

	exp  *export
	peer *peerLink // the established connection, nil when not connected
	pio  peerIO    // I/O through the peer's data (peerread.go)

	// counters (KiB and counts), atomic
	ns, nr, dw, dr, bmWrites   atomic.Uint64
	rsBlocksSent, rsBlocksRecv atomic.Uint64
	rsSameCsum                 atomic.Uint64 // 4 KiB blocks a csums-alg resync found equal
	rsSameBase                 uint64        // rsSameCsum when the resync started
	barriers                   atomic.Uint64 // P_BARRIERs received and flushed
	alWrites                   atomic.Uint64 // activity log transactions written
}

func newResource(d *Daemon, cfg *api.Resource) *Resource {
	r := &Resource{d: d, name: cfg.Name, cfg: cfg, vols: map[int]*Volume{}}
	r.cond = sync.NewCond(&r.mu)
	return r
}

func random64() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

func optOr(opts []api.Option, name, def string) string {
	if v, ok := opt(opts, name); ok {
		return v
	}
	return def
}

func opt(opts []api.Option, name string) (string, bool) {
	for i := len(opts) - 1; i >= 0; i-- {
		if opts[i].Name == name {
			return opts[i].Value, true
		}
	}
	return "", false
}

// machineConfig reads the parts of the configuration the rules use.
func (r *Resource) machineConfig(diskOpts []api.Option) (state.Config, state.Policies) {
	var c state.Config
	var p state.Policies
	if _, ok := opt(r.cfg.Net, "allow-two-primaries"); ok {
		v, _ := opt(r.cfg.Net, "allow-two-primaries")
		c.TwoPrimaries = v == "" || v == "yes"
	}
	c.VerifyAlg, _ = opt(r.cfg.Net, "verify-alg")
	resOpts := r.cfg.Options
	if r.resOpts.set {
		resOpts = r.resOpts.opts // resource-options changed them
	}
	c.SuspendOnNoData = optOr(resOpts, "on-no-data-accessible", "io-error") == "suspend-io"
	f, _ := opt(diskOpts, "fencing")
	switch f {
	case "resource-only":
		c.Fencing = state.FenceResourceOnly
	case "resource-and-stonith":
		c.Fencing = state.FenceResourceAndStonith
	}
	pol := func(name string, dst *state.Policy) {
		if v, ok := opt(r.cfg.Net, name); ok {
			if pp, err := state.ParsePolicy(v); err == nil {
				*dst = pp
			}
		}
	}
	pol("after-sb-0pri", &p.AfterSB0)
	pol("after-sb-1pri", &p.AfterSB1)
	pol("after-sb-2pri", &p.AfterSB2)
	pol("rr-conflict", &p.RRConflict)
	if _, ok := opt(r.cfg.Net, "always-asbp"); ok {
		p.AlwaysASBP = true
	}
	return c, p
}

func (r *Resource) newMinor(q *api.Request) error {
	if q.Volume == nil || q.Minor == nil {
		return api.Failure(r.name, api.ErrInvalidRequest)
	}
	r.d.mu.Lock()
	for _, o := range r.d.res {
		if o == r {
			continue
		}
		o.mu.Lock()
		for _, v := range o.vols {
			if v.minor == *q.Minor {
				o.mu.Unlock()
				r.d.mu.Unlock()
				return api.Failure(strconv.Itoa(*q.Minor), api.ErrMinorExists)
			}
		}
		o.mu.Unlock()
	}
	r.d.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.vols[*q.Volume]; ok {
		if v.minor == *q.Minor {
			return nil
		}
		return api.Failure(strconv.Itoa(*q.Minor), api.ErrMinorExists)
	}
	var dopts []api.Option
	if cv := r.cfg.Volume(*q.Volume); cv != nil {
		dopts = cv.DiskOptions
	}
	c, p := r.machineConfig(dopts)
	v := &Volume{r: r, vnr: *q.Volume, minor: *q.Minor, m: state.NewMachine(c, p, random64)}
	if r.netConf {
		v.m.Step(state.Connect{})
	}
	r.vols[v.vnr] = v
	return nil
}

func (r *Resource) delMinor(v *Volume) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v.disk != nil {
		return api.Failure(strconv.Itoa(v.minor), api.ErrDiskConfigured)
	}
	delete(r.vols, v.vnr)
	return nil
}

// step feeds an event to the volume's machine and carries out the
// actions. r.mu is held.
func (v *Volume) step(ev state.Event) state.Result {
	os := v.m.S
	// The machine decides with the device's openers as they are now
	// (call-pri-lost-after-sb demotes only a device nobody holds open).
	v.m.Env.OpenCount = v.openCount()
	rv, acts, log := v.m.Step(ev)
	v.frozen.Store(v.m.S.Suspended() && v.m.S.Role == state.Primary)
	for _, l := range log {
		v.r.d.Log.Info(fmt.Sprintf("%s/%d drbd%d: %s", v.r.name, v.vnr, v.minor, l))
	}
	v.do(acts)
	v.noteSplitBrain(log)
	if os != v.m.S {
		v.r.d.Log.Info("state", "resource", v.r.name, "minor", v.minor, "state", v.m.S.String())
		v.stateChanged(os)
	}
	v.r.cond.Broadcast()
	v.r.d.procChanged()
	return rv
}

// stateChanged follows a state change with the device side: the NBD
// export runs while Primary; a resync with nothing to move ends at once.
func (v *Volume) stateChanged(os state.State) {
	s := v.m.S
	if s.Role == state.Primary && os.Role != state.Primary {
		v.startExport()
	}
	if s.UserIsp != os.UserIsp && s.Conn >= state.Connected {
		v.sendState() // the peer pauses or resumes its requests
	}
	if s.Role != state.Primary && os.Role == state.Primary {
		v.stopExport()
	}
	// invalidate / invalidate-remote: a cluster-wide change. Both sides
	// set every bit, so no bitmap is exchanged: the peer learns of it
	// from our state, the target waits for the sync UUID, the source
	// starts.
	if s.Conn == state.StartingSyncT && os.Conn != state.StartingSyncT {
		v.sendState()
		v.step(state.BitmapDone{}) // → WFBitMapT
		v.step(state.BitmapDone{}) // → WFSyncUUID
		return
	}
	if s.Conn == state.StartingSyncS && os.Conn != state.StartingSyncS {
		v.sendState()
		v.step(state.BitmapDone{}) // → SyncSource
		return
	}
	if (s.Conn == state.SyncSource || s.Conn == state.SyncTarget) && v.bm != nil && v.bm.Count() == 0 {
		v.step(state.ResyncDone{PeerUUIDs: v.peerUUIDs})
	}
	v.resyncAfterNeg(os) // resize.go
}

// refusal turns a state machine result into DRBD's refusal.
func refusal(obj string, rv state.Result) error {
	if rv.OK() {
		return nil
	}
	if rv.IsFailure() {
		return api.Failure(obj, -int(rv))
	}
	return api.StateRefusal(obj, int(rv))
}

func (v *Volume) obj() string { return strconv.Itoa(v.minor) }

// diskOptions are the volume's disk options from the configuration.
func (v *Volume) diskOptions() []api.Option {
	if v.diskOpts.set {
		return v.diskOpts.opts // as applied by attach and disk-options (show.go)
	}
	if cv := v.r.cfg.Volume(v.vnr); cv != nil {
		return cv.DiskOptions
	}
	return nil
}

func (v *Volume) do(acts []state.Action) {
	for _, a := range acts {
		switch a.Kind {
		case state.ActSendState:
			v.sendState()
		case state.ActSendUUIDs:
			v.sendUUIDs()
		case state.ActSendSyncUUID:
			v.sendSyncUUID()
		case state.ActSendBitmap:
			v.sendBitmap()
		case state.ActSetBitmap:
			if v.bm != nil {
				v.bm.SetAll()
				v.writeBitmap()
			}
		case state.ActClearBitmap:
			if v.bm != nil {
				v.bm.ClearAll()
				v.writeBitmap()
			}
		case state.ActWriteBitmap:
			v.writeBitmap()
		case state.ActWriteMeta:
			v.writeMeta()
		case state.ActStartResync:
			v.startResync()
		case state.ActDropNet:
			if v.peer != nil {
				v.peer.close()
			}
		case state.ActCloseDisk:
			v.closeDisk()
		case state.ActHandler:
			v.handler(a.Arg)
		case state.ActStartVerify:
			v.startVerify()
		}
	}
}

func (v *Volume) writeBitmap() {
	if v.md == nil || v.bm == nil {
		return
	}
	if err := v.md.WriteBitmap(v.bm); err != nil {
		v.r.d.Log.Error("writing the bitmap", "resource", v.r.name, "error", err)
		return
	}
	v.bmWrites.Add(1)
}

// writeMeta writes the UUIDs and the flags the state implies.
func (v *Volume) writeMeta() {
	if v.md == nil || v.sb == nil {
		return
	}
	s := v.m.S
	u := v.m.UUID
	v.sb.UUID = [4]uint64{u.Current, u.Bitmap, u.History[0], u.History[1]}
	if s.Disk <= state.Failed && v.lastDisk == state.Diskless {
		// Attaching: the flags stay as they were read.
		if err := v.md.WriteSuper(v.sb); err != nil {
			v.r.d.Log.Error("writing the meta data", "resource", v.r.name, "error", err)
		}
		return
	}
	if s.Disk <= state.Failed {
		// Detaching: the disk keeps the flags of its last state.
		s.Disk, s.PDsk, s.Conn = v.lastDisk, v.lastPDsk, v.lastConn
	} else {
		v.lastDisk, v.lastPDsk, v.lastConn = s.Disk, s.PDsk, s.Conn
	}
	f := v.sb.Flags &^ (meta.FlagConsistent | meta.FlagPrimaryInd | meta.FlagConnectedInd | meta.FlagWasUpToDate | meta.FlagPeerOutDated | meta.FlagCrashedPrimary)
	if s.Disk > state.Inconsistent && s.Disk != state.DUnknown || s.Disk == state.Negotiating {
		f |= meta.FlagConsistent
	}
	if s.Disk == state.UpToDate {
		f |= meta.FlagWasUpToDate
	}
	if s.Role == state.Primary {
		f |= meta.FlagPrimaryInd
	}
	if s.Conn >= state.Connected {
		f |= meta.FlagConnectedInd
	}
	if s.PDsk <= state.Outdated && s.PDsk >= state.Inconsistent {
		f |= meta.FlagPeerOutDated
	}
	if v.m.CrashedPrimary {
		f |= meta.FlagCrashedPrimary
	}
	// While Primary the activity log is in use: the meta data says
	// unclean (8.4-unclean magic) until a clean demotion.
	if s.Role == state.Primary {
		f &^= meta.FlagALClean
		v.sb.Magic = meta.Magic84Unclean
	} else {
		f |= meta.FlagALClean
		v.sb.Magic = meta.Magic84
	}
	v.sb.Flags = f
	if err := v.md.WriteSuper(v.sb); err != nil {
		v.r.d.Log.Error("writing the meta data", "resource", v.r.name, "error", err)
	}
}

func (v *Volume) metaIndex() (string, meta.Index, error) {
	cv := v.r.cfg.Volume(v.vnr)
	if cv == nil {
		return "", 0, fmt.Errorf("volume %d is not in the configuration", v.vnr)
	}
	return metaPlace(cv)
}

func metaPlace(cv *api.Volume) (string, meta.Index, error) {
	if cv.MetaDisk == "internal" || cv.MetaDisk == "" {
		return cv.Disk, meta.Internal, nil
	}
	idx, err := meta.ParseIndex(cv.MetaIndex)
	return cv.MetaDisk, idx, err
}

func (v *Volume) attach(q *api.Request) error {
	r := v.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if v.disk != nil {
		return api.Failure(v.obj(), api.ErrDiskConfigured)
	}
	cv := r.cfg.Volume(v.vnr)
	if cv == nil {
		return api.Failure(v.obj(), api.ErrInvalidRequest)
	}
	disk, err := nbd.OpenDirect(cv.Disk, false)
	if err != nil {
		r.d.Log.Error("open backing device", "disk", cv.Disk, "error", err)
		return &api.Refusal{Object: v.obj(), Code: api.ErrOpenDisk, Text: fmt.Sprintf("Can not open backing device. (%v)", err)}
	}
	mdev, idx, err := metaPlace(cv)
	if err != nil {
		disk.Close()
		return &api.Refusal{Object: v.obj(), Code: api.ErrMDInvalid, Text: err.Error()}
	}
	md, err := meta.Open(mdev, idx, true)
	if err != nil {
		disk.Close()
		return &api.Refusal{Object: v.obj(), Code: api.ErrOpenDisk, Text: fmt.Sprintf("Can not open meta data device. (%v)", err)}
	}
	sb, err := md.Read()
	md, sb, err = r.d.findMeta(md, sb, err, mdev, v.minor, true) // resize.go
	if err != nil {
		disk.Close()
		md.Close()
		return api.Failure(v.obj(), api.ErrMDInvalid)
	}
	if !sb.Clean() {
		// apply-al did not run (adjust, or an attach by hand): replay
		// the activity log now, as drbdadm would have.
		n, err := md.ApplyAL()
		if err != nil {
			disk.Close()
			md.Close()
			return &api.Refusal{Object: v.obj(), Code: api.ErrMDInvalid, Text: "apply-al: " + err.Error()}
		}
		r.d.Log.Info("activity log applied", "resource", r.name, "minor", v.minor, "bits", n)
		if sb, err = md.Read(); err != nil {
			disk.Close()
			md.Close()
			return api.Failure(v.obj(), api.ErrMDInvalid)
		}
	}
	if err := v.attachToExposed(sb.UUID[0]); err != nil {
		disk.Close()
		md.Close()
		return err
	}
	size := disk.Size()
	if idx == meta.Internal {
		size = int64(md.Layout.MaxUsableSect) * 512
	} else if max := int64(md.Layout.MaxUsableSect) * 512; max > 0 && size > max {
		size = max
	}
	size &^= 4095
	bm, err := md.ReadBitmap(uint64(size / 512))
	if err != nil {
		disk.Close()
		md.Close()
		return &api.Refusal{Object: v.obj(), Code: api.ErrMDInvalid, Text: err.Error()}
	}
	if sb.Flags&meta.FlagFullSync != 0 {
		bm.SetAll()
	}
	if sb.Flags&meta.FlagPrimaryInd != 0 {
		// This node died while Primary: apply-al has marked the
		// extents of its activity log out of sync.
		r.d.Log.Warn("the node crashed as Primary; the activity log's extents are out of sync", "resource", r.name, "minor", v.minor, "out-of-sync", bm.Count())
	}
	dev := v.attachSize(size, sb, cv.DiskOptions) // resize.go
	sb.LaSizeSect = uint64(dev / 512)
	nal := 1237
	if cv != nil {
		if n, err := strconv.Atoi(optOr(cv.DiskOptions, "al-extents", "1237")); err == nil && n >= 7 {
			nal = n
		}
	}
	v.al = meta.NewActivityLog(nal, sb.ALStripes, sb.ALStripeSize4k, 1)
	v.disk, v.md, v.sb, v.bm, v.size, v.diskSize = disk, md, sb, bm, dev, size
	v.writeBitmap()
	v.m.UUID = state.UUIDs{Current: sb.UUID[0], Bitmap: sb.UUID[1], History: [2]uint64{sb.UUID[2], sb.UUID[3]}}
	v.m.CrashedPrimary = sb.Flags&meta.FlagCrashedPrimary != 0
	if sb.Flags&meta.FlagPrimaryInd != 0 {
		// The node crashed while Primary.
		v.m.CrashedPrimary = true
	}
	c, p := r.machineConfig(cv.DiskOptions)
	v.m.Cfg, v.m.Pol = c, p
	rv := v.step(state.Attach{
		Consistent:   sb.Flags&meta.FlagConsistent != 0,
		WasUpToDate:  sb.Flags&meta.FlagWasUpToDate != 0,
		PeerOutdated: sb.Flags&meta.FlagPeerOutDated != 0,
	})
	if !rv.OK() && rv != state.NothingToDo {
		v.closeDisk()
		return refusal(v.obj(), rv)
	}
	v.writeMeta()
	return nil
}

func (v *Volume) closeDisk() {
	if v.disk == nil {
		return
	}
	v.writeBitmap()
	v.disk.Close()
	v.md.Close()
	v.disk, v.md, v.sb, v.bm, v.al = nil, nil, nil, nil, nil
	v.lastDisk = state.Diskless
}

func (v *Volume) detach(force bool) error {
	r := v.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if v.disk == nil {
		return nil
	}
	if v.m.S.Role == state.Primary && !force {
		if rv := v.m.S; rv.PDsk != state.UpToDate {
			return api.StateRefusal(v.obj(), api.SSNoUpToDateDisk)
		}
	}
	v.noteExposed() // a Primary goes on with the peer's copy of this data
	// A clean detach clears the "was Primary" indication.
	rv := v.step(state.Detach{Force: force})
	if err := refusal(v.obj(), rv); err != nil && rv != state.NothingToDo {
		return err
	}
	v.closeDisk()
	return nil
}

func (v *Volume) promote(force bool) error {
	r := v.r
	r.mu.Lock()
	defer r.mu.Unlock()
	rv := v.step(state.Promote{Force: force})
	if rv == state.InTransientState && v.m.PendingFence() {
		// The promotion waits for the fence-peer run it asked for, as
		// drbdsetup primary does.
		for v.m.PendingFence() {
			r.cond.Wait()
		}
		rv = v.fenceRV
	}
	if rv == state.NothingToDo {
		return nil
	}
	return refusal(v.obj(), rv)
}

func (v *Volume) demote() error {
	r := v.r
	r.mu.Lock()
	defer r.mu.Unlock()
	v.m.Env.OpenCount = v.openCount()
	rv := v.step(state.Demote{})
	if rv == state.NothingToDo {
		return nil
	}
	if err := refusal(v.obj(), rv); err != nil {
		return err
	}
	// After a clean demotion the meta data no longer says Primary.
	v.writeMeta()
	return nil
}

func (v *Volume) request(q *api.Request) error {
	r := v.r
	r.mu.Lock()
	defer r.mu.Unlock()
	var ev state.Event
	switch q.Op {
	case "invalidate":
		ev = state.Invalidate{}
	case "invalidate-remote":
		ev = state.InvalidateRemote{}
	case "outdate":
		ev = state.Outdate{}
	case "verify":
		ev = state.Verify{}
	case "pause-sync":
		if v.m.S.UserIsp {
			return api.Failure(v.obj(), api.ErrPauseIsSet)
		}
		ev = state.PauseSync{}
	case "resume-sync":
		if !v.m.S.UserIsp {
			return api.Failure(v.obj(), api.ErrPauseIsClear)
		}
		ev = state.ResumeSync{}
	case "new-current-uuid":
		_, clr := q.Flag("clear-bitmap")
		ev = state.NewCurrentUUID{ClearBitmap: clr}
	case api.OpSuspendIO:
		ev = state.SuspendIO{}
	case api.OpResumeIO:
		ev = state.ResumeIO{}
	}
	rv := v.step(ev)
	if rv == state.NothingToDo {
		return nil
	}
	return refusal(v.obj(), rv)
}

// show answers role, cstate and dstate.
func (v *Volume) show(op string) string {
	v.r.mu.Lock()
	defer v.r.mu.Unlock()
	s := v.m.S
	if s.Conn == state.StandAlone && s.Disk == state.Diskless && s.Role == state.Secondary {
		return "Unconfigured"
	}
	switch op {
	case "role":
		return s.Role.String() + "/" + s.Peer.String()
	case "cstate":
		return s.Conn.String()
	}
	return s.Disk.String() + "/" + s.PDsk.String()
}

func (v *Volume) syncing() bool {
	c := v.m.S.Conn
	return c >= state.StartingSyncS && c <= state.PausedSyncT && c != state.VerifyS && c != state.VerifyT
}

func (v *Volume) waitSync(ctx context.Context) error {
	return v.r.wait(ctx, func() bool { return !v.syncing() })
}

// waitConnect blocks until the volume is connected, for wfc-timeout
// seconds (degr-wfc-timeout when the meta data says the node was not
// connected when it went down; 0 = forever).
func (v *Volume) waitConnect(ctx context.Context, q *api.Request) error {
	v.r.mu.Lock()
	secs := optInt(q.Options, "wfc-timeout", 0)
	if v.sb != nil && v.sb.Flags&meta.FlagConnectedInd == 0 {
		if d := optInt(q.Options, "degr-wfc-timeout", 0); d > 0 {
			secs = d
		}
	}
	v.r.mu.Unlock()
	if secs > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(secs)*time.Second)
		defer cancel()
	}
	err := v.r.wait(ctx, func() bool { return v.m.S.Conn >= state.Connected || !v.r.netConf })
	if errors.Is(err, context.DeadlineExceeded) {
		return ipc.Errorf(ipc.CodeTimeout, 5, "%d: not connected after %d seconds (wfc-timeout)", v.minor, secs)
	}
	return err
}

// wait blocks until cond (checked under r.mu) holds or ctx ends.
func (r *Resource) wait(ctx context.Context, cond func() bool) error {
	stop := context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	defer stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for !cond() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.cond.Wait()
	}
	return nil
}

// down is drbdsetup down: secondary, disconnect, detach, delete.
func (r *Resource) down(shutdown bool) error {
	r.mu.Lock()
	for _, v := range r.vols {
		if v.m.S.Role == state.Primary {
			v.m.Env.OpenCount = v.openCount()
			if rv := v.step(state.Demote{}); !rv.OK() && rv != state.NothingToDo && !shutdown {
				r.mu.Unlock()
				return refusal(r.name, rv)
			}
			v.stopExport()
		}
	}
	r.mu.Unlock()
	r.disconnect(nil)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range r.vols {
		v.writeMeta()
		if v.disk != nil {
			v.step(state.Detach{Force: true})
			v.closeDisk()
		}
	}
	r.vols = map[int]*Volume{}
	return nil
}

// metaOp runs the drbdmeta-like operations on an unattached device.
func (d *Daemon) metaOp(q *api.Request) (*api.Reply, error) {
	if q.Config == nil || q.Volume == nil {
		return nil, api.Failure(q.Resource, api.ErrInvalidRequest)
	}
	cv := q.Config.Volume(*q.Volume)
	if cv == nil {
		return nil, api.Failure(minorObj(q), api.ErrInvalidRequest)
	}
	if r := d.resource(q.Resource); r != nil {
		r.mu.Lock()
		v := r.vols[*q.Volume]
		attached := v != nil && v.disk != nil
		r.mu.Unlock()
		if attached {
			if q.Op == "get-gi" || q.Op == "show-gi" || q.Op == "dump-md" {
				r.mu.Lock()
				v.writeMeta()
				sb := *v.sb
				r.mu.Unlock()
				switch q.Op {
				case "get-gi":
					return &api.Reply{Text: sb.GI()}, nil
				case "show-gi":
					return &api.Reply{Text: sb.ShowGI()}, nil
				}
			}
			return nil, errorf("Device '%d' is configured!", *q.Minor)
		}
	}
	mdev, idx, err := metaPlace(cv)
	if err != nil {
		return nil, errorf("%v", err)
	}
	write := q.Op == "create-md" || q.Op == "wipe-md" || q.Op == "apply-al"
	md, err := meta.Open(mdev, idx, write)
	if err != nil {
		return nil, errorf("%v", err)
	}
	if q.Op != "create-md" && q.Minor != nil {
		// A grown disk's meta data may still sit at its old end (resize.go).
		if _, rerr := md.Read(); rerr != nil {
			md, _, _ = d.findMeta(md, nil, rerr, mdev, *q.Minor, write)
		}
	}
	defer md.Close()
	switch q.Op {
	case "create-md":
		_, force := q.Flag("force")
		if _, err := md.Create(force); err != nil {
			if errors.Is(err, meta.ErrExists) {
				return nil, errorf("%v\nUse --force to overwrite it (drbdadm create-md --force %s)", err, q.Resource)
			}
			return nil, errorf("%v", err)
		}
		return &api.Reply{Messages: []string{"initializing activity log", "initializing bitmap (" + strconv.FormatUint(md.Layout.BMOffset, 10) + ")", "Writing meta data...", "New drbd meta data block successfully created."}}, nil
	case "wipe-md":
		if err := md.Wipe(); err != nil {
			return nil, errorf("%v", err)
		}
		return &api.Reply{Messages: []string{"Wiping meta data..."}}, nil
	case "apply-al":
		if _, err := md.Read(); err != nil {
			if errors.Is(err, meta.ErrNoMetaData) {
				return nil, nil // attach reports it
			}
			return nil, errorf("%v", err)
		}
		if _, err := md.ApplyAL(); err != nil {
			return nil, errorf("%v", err)
		}
		return nil, nil
	}
	sb, err := md.Read()
	if err != nil {
		return nil, errorf("%v", err)
	}
	switch q.Op {
	case "get-gi":
		return &api.Reply{Text: sb.GI()}, nil
	case "show-gi":
		return &api.Reply{Text: sb.ShowGI()}, nil
	}
	var b strings.Builder
	if err := md.Dump(&b, ""); err != nil {
		return nil, errorf("%v", err)
	}
	return &api.Reply{Text: b.String()}, nil
}
