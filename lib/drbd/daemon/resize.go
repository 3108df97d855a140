package daemon

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/renameio/v2"
	"github.com/linux-ha-go/ha/lib/drbd/api"
	"github.com/linux-ha-go/ha/lib/drbd/conf"
	"github.com/linux-ha-go/ha/lib/drbd/meta"
	"github.com/linux-ha-go/ha/lib/drbd/repl"
	"github.com/linux-ha-go/ha/lib/drbd/state"
	"github.com/linux-ha-go/ha/lib/ipc"
)

// Online resize, as DRBD 8.4 does it (drbd_adm_resize, receive_sizes,
// drbd_determine_dev_size):
//
//   - `resize` re-reads the local backing size. Internal meta data of a
//     disk that grew moves to the new end first (meta.Relocate), and the
//     disk's new size is recorded in the state directory (the last known
//     size, DRBD's .lkbd file), so that after a crash before the move
//     completed, attach finds the meta data where the old size puts it.
//   - The device's size is the smaller of the two nodes' usable sizes
//     (--size caps it, and only --size shrinks it). Connected, the node
//     sends P_SIZES; the peer re-reads its own disk, moves its meta data,
//     grows and answers with its sizes, and the node grows in turn.
//     Disconnected, the device grows only with --assume-peer-has-space.
//   - A node that grows sets the new area's bits (unless --assume-clean,
//     DDSF_NO_RESYNC, which both nodes honour) and writes la-size-sect.
//     Then the Primary resyncs the new area as SyncSource once the peer
//     reports the same size; the peer waits for the sync UUID
//     (state.ResyncAfterGrow).
//   - Refused while a resync runs (ERR_RESIZE_RESYNC), without a Primary
//     on either side (ERR_NO_PRIMARY), without a disk (ERR_NO_DISK), and
//     for a --size beyond the local disk (ERR_DISK_TOO_SMALL).

// growState is a volume's online resize in progress (r.mu).
type growState struct {
	pending bool   // grew as the resync source: resync once the peer reports the same size
	flags   uint16 // DDSF flags of the resize
	usize   int64  // the requested size (--size) in bytes, 0: as large as the disks allow
	answers int    // P_SIZES received while connected, for the requester's wait
	// afterNeg: the device grew during the handshake; its new area is
	// resynced once connected, unless the handshake resyncs anyway
	// (DRBD's RESYNC_AFTER_NEG).
	afterNeg bool
}

// DDSF flags of P_SIZES.
const (
	ddsfForced   = 1 // --assume-peer-has-space
	ddsfNoResync = 2 // --assume-clean
)

// peerAnswerWait is how long resize waits for the peer's sizes before it
// reports that the peer did not grow.
const peerAnswerWait = 3 * time.Second

// lkbdPath is where the last known size of a minor's backing disk is
// kept (drbdmeta's /var/lib/drbd/drbd-minor-N.lkbd).
func (d *Daemon) lkbdPath(minor int) string {
	return filepath.Join(d.StateDir, "drbd-minor-"+strconv.Itoa(minor)+".lkbd")
}

// lastKnownSize returns the recorded size of disk, or 0.
func (d *Daemon) lastKnownSize(minor int, disk string) uint64 {
	if d.StateDir == "" {
		return 0
	}
	b, err := os.ReadFile(d.lkbdPath(minor))
	if err != nil {
		return 0
	}
	return parseLKBD(b, disk)
}

// parseLKBD reads a last-known-size record, "<disk> <bytes>\n", for
// disk; 0 when it is for another disk or malformed. A disk path with
// white space is recorded but never matches (so it is never trusted).
func parseLKBD(b []byte, disk string) uint64 {
	f := strings.Fields(string(b))
	if len(f) != 2 || f[0] != disk {
		return 0
	}
	n, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// recordSize records the size the meta data of disk is placed for.
func (d *Daemon) recordSize(minor int, disk string, size uint64) {
	if d.StateDir == "" || d.lastKnownSize(minor, disk) == size {
		return
	}
	if err := os.MkdirAll(d.StateDir, 0o755); err != nil {
		d.Log.Warn("state directory", "dir", d.StateDir, "error", err)
		return
	}
	if err := renameio.WriteFile(d.lkbdPath(minor), fmt.Appendf(nil, "%s %d\n", disk, size), 0o644); err != nil {
		d.Log.Warn("recording the backing disk's size", "disk", disk, "error", err)
	}
}

// findMeta follows md.Read (sb, err): internal meta data not found at
// the end of the disk is looked for at the end of its last known size (a
// disk grown, or a move interrupted, before the meta data moved). Found at
// the end, the size is recorded.
func (d *Daemon) findMeta(md *meta.Device, sb *meta.SuperBlock, err error, path string, minor int, write bool) (*meta.Device, *meta.SuperBlock, error) {
	if md.Layout.Index != meta.Internal {
		return md, sb, err
	}
	if err == nil {
		d.recordSize(minor, path, md.Size)
		return md, sb, nil
	}
	old := d.lastKnownSize(minor, path)
	if !errors.Is(err, meta.ErrNoMetaData) || old == 0 || old >= md.Size {
		return md, sb, err
	}
	md2, err2 := meta.OpenAt(path, meta.Internal, write, old)
	if err2 != nil {
		return md, sb, err
	}
	sb2, err2 := md2.Read()
	if err2 != nil {
		md2.Close()
		return md, sb, err
	}
	md.Close()
	d.Log.Info("meta data found at the end of the disk's last known size; it moves to the new end at the next resize",
		"disk", path, "minor", minor, "last_known_size", old, "size", md.Size)
	return md2, sb2, nil
}

// parseSize reads --size (or the configuration's size): sectors unless
// a unit (K, M, G, s) is given; bytes out, 0 for none.
func parseSize(q *api.Request) (int64, error) {
	v, ok := q.Flag("size")
	if !ok {
		v, ok = opt(q.Options, "size")
	}
	if !ok || v == "" {
		return 0, nil
	}
	n, ok := conf.ParseNumber(v, 's')
	if !ok || n > 1<<50 {
		return 0, ipc.Errorf(ipc.CodeBadRequest, 1, "--size=%s: not a size (a number of sectors, or with K, M or G)", v)
	}
	return int64(n) * 512 &^ 4095, nil
}

// sizeRequest is what a device's new size depends on (bytes).
type sizeRequest struct {
	Local   int64 // this node's usable size
	Peer    int64 // the peer's, 0: unknown
	Current int64 // the device's (the last agreed size)
	User    int64 // --size, 0: none
	// Connected: the peer's size counts; AssumePeerHasSpace: while
	// disconnected, grow to the local size anyway.
	Connected, AssumePeerHasSpace bool
}

var (
	errUserTooBig  = errors.New("the requested size is larger than the backing disk allows")
	errWouldShrink = errors.New("the disks are smaller than the device; only --size shrinks it")
)

// newSize is drbd_new_dev_size: connected, the smaller of the two
// usable sizes; disconnected, the last agreed size (the local size with
// --assume-peer-has-space); capped by --size, which alone may shrink the
// device. With errWouldShrink the size returned is the smaller one.
func newSize(q sizeRequest) (int64, error) {
	if q.User > q.Local {
		return q.Current, errUserTooBig
	}
	size := q.Local
	switch {
	case q.Connected:
		if q.Peer > 0 {
			size = min(size, q.Peer)
		}
	case !q.AssumePeerHasSpace:
		size = min(q.Current, q.Local)
	}
	if q.User > 0 {
		return min(size, q.User) &^ 4095, nil
	}
	size &^= 4095
	if size < q.Current {
		return size, errWouldShrink
	}
	return size, nil
}

// resize is drbdsetup resize MINOR [--size=] [--assume-peer-has-space]
// [--assume-clean].
func (v *Volume) resize(ctx context.Context, q *api.Request) (*api.Reply, error) {
	r := v.r
	usize, err := parseSize(q)
	if err != nil {
		return nil, err
	}
	_, force := q.Flag("assume-peer-has-space")
	_, clean := q.Flag("assume-clean")
	// Application writes stay below the device's end and write their
	// activity log under r.mu: the meta data moves under r.mu alone.
	r.mu.Lock()
	unlock := r.mu.Unlock
	s := v.m.S
	switch {
	case s.Conn > state.Connected:
		unlock()
		return nil, api.Failure(v.obj(), api.ErrResizeResync)
	case s.Role == state.Secondary && s.Peer == state.Secondary:
		unlock()
		return nil, api.Failure(v.obj(), api.ErrNoPrimary)
	case v.disk == nil:
		unlock()
		return nil, api.Failure(v.obj(), api.ErrNoDisk)
	}
	if _, err := v.refreshBacking(); err != nil {
		unlock()
		return nil, err
	}
	connected := s.Conn == state.Connected
	var msgs []string
	target, err := newSize(sizeRequest{Local: v.diskSize, Peer: int64(v.peerSize*512) &^ 4095, Current: v.size,
		User: usize, Connected: connected, AssumePeerHasSpace: force})
	switch {
	case errors.Is(err, errUserTooBig):
		unlock()
		return nil, api.Failure(v.obj(), api.ErrDiskTooSmall)
	case errors.Is(err, errWouldShrink):
		unlock()
		return nil, &api.Refusal{Object: v.obj(), Code: api.ErrDiskTooSmall,
			Text: fmt.Sprintf("%s (the usable size is %d KiB, the device %d KiB; shrinking needs --size)", api.FailureTexts[api.ErrDiskTooSmall], target>>10, v.size>>10)}
	}
	if !connected && force {
		v.logf("Resize while not connected was forced by the user!")
	}
	if !connected && !force && v.diskSize > v.size && usize == 0 {
		msgs = append(msgs, fmt.Sprintf("%d: not connected: the device stays at %d KiB; connect and resize again, or use --assume-peer-has-space", v.minor, v.size>>10))
	}
	local := v.diskSize
	want := local
	if usize > 0 {
		want = usize
	}
	var flags uint16
	if force {
		flags |= ddsfForced
	}
	if clean {
		flags |= ddsfNoResync
	}
	v.grow.flags, v.grow.usize = flags, usize
	if v.applySize(target, !clean) {
		v.afterGrow(clean)
	}
	answers := v.grow.answers
	if connected {
		v.sendResizeSizes(flags)
	}
	unlock()
	if !connected || want <= target {
		return &api.Reply{Messages: msgs}, nil
	}
	// Wait a little for the peer's answer, so that what the
	// administrator looks at next is the agreed size.
	wctx, cancel := context.WithTimeout(ctx, peerAnswerWait)
	defer cancel()
	r.wait(wctx, func() bool {
		answered := v.grow.answers != answers
		return answered && (v.size >= want || int64(v.peerSize*512)&^4095 < want) || v.m.S.Conn < state.Connected
	})
	r.mu.Lock()
	size, peer := v.size, int64(v.peerSize*512)&^4095
	r.mu.Unlock()
	if size < want {
		msgs = append(msgs, fmt.Sprintf("%d: the peer's disk allows %d KiB: the device is %d KiB; grow the peer's backing disk and run resize again", v.minor, peer>>10, size>>10))
	}
	return &api.Reply{Messages: msgs}, nil
}

func (v *Volume) logf(format string, a ...any) {
	v.r.d.Log.Info(fmt.Sprintf("%s/%d drbd%d: ", v.r.name, v.vnr, v.minor) + fmt.Sprintf(format, a...))
}

// refreshBacking re-reads the size of the backing disk (r.mu held): a
// grown disk's internal meta data moves to its new end; v.diskSize is
// the new usable size. It reports whether that changed.
func (v *Volume) refreshBacking() (bool, error) {
	cv := v.r.cfg.Volume(v.vnr)
	if cv == nil || v.md == nil {
		return false, api.Failure(v.obj(), api.ErrNoDisk)
	}
	size, err := meta.DeviceSize(cv.Disk)
	if err != nil {
		return false, &api.Refusal{Object: v.obj(), Code: api.ErrOpenDisk, Text: fmt.Sprintf("Can not open backing device. (%v)", err)}
	}
	var local int64
	if v.md.Layout.Index == meta.Internal {
		if size < v.md.Size {
			return false, &api.Refusal{Object: v.obj(), Code: api.ErrDiskTooSmall,
				Text: fmt.Sprintf("%s (the backing disk %s shrank from %d to %d bytes: grow it back)", api.FailureTexts[api.ErrDiskTooSmall], cv.Disk, v.md.Size, size)}
		}
		if v.md.Moves(size) {
			from := v.md.Size
			nb, err := v.md.Relocate(size, v.sb, v.bm)
			if nb != nil && v.md.Size == size {
				v.bm = nb
				v.r.d.recordSize(v.minor, cv.Disk, size)
				v.logf("meta data moved to the end of the grown disk (%d -> %d bytes)", from, size)
			}
			if err != nil {
				var small *meta.GrowTooSmallError
				if errors.As(err, &small) {
					return false, &api.Refusal{Object: v.obj(), Code: api.ErrDiskTooSmall,
						Text: fmt.Sprintf("%s (%v: grow the backing disk %s by at least %d KiB more)", api.FailureTexts[api.ErrDiskTooSmall], err, cv.Disk, (small.Need+1023)>>10)}
				}
				v.r.d.Log.Error("moving the meta data", "resource", v.r.name, "minor", v.minor, "error", err)
				if v.md.Size != size {
					return false, &api.Refusal{Object: v.obj(), Code: api.ErrMDInvalid, Text: "moving the meta data: " + err.Error()}
				}
			}
		}
		local = int64(v.md.Layout.MaxUsableSect) * 512
	} else {
		local = int64(size)
		if max := int64(v.md.Layout.MaxUsableSect) * 512; max > 0 && local > max {
			local = max
		}
	}
	local &^= 4095
	if v.bm != nil && v.bm.Len() < uint64(local/4096) {
		v.bm = v.bm.Resized(uint64(local / 4096))
	}
	changed := local != v.diskSize
	v.diskSize = local
	return changed, nil
}

// attachSize is the device's size at attach (r.mu held): the last
// agreed size (la-size-sect) when the disk is larger, as DRBD keeps it
// until the peer agrees on more (a device shrunk with --size, a disk that
// grew), capped by the disk section's size, which lasts.
func (v *Volume) attachSize(usable int64, sb *meta.SuperBlock, diskOpts []api.Option) int64 {
	dev := usable
	if la := int64(sb.LaSizeSect*512) &^ 4095; la > 0 && la < usable {
		dev = la
	}
	v.grow.usize = 0
	if u, err := parseSize(&api.Request{Options: diskOpts}); err == nil && u > 0 {
		v.grow.usize = u
		if u < dev {
			dev = u
		}
	}
	return dev
}

// refreshAtConnect re-reads the backing disk before this node tells the
// peer its size (r.mu held), as DRBD reports the disk's live size.
func (v *Volume) refreshAtConnect() {
	if v.disk == nil || v.md == nil {
		return
	}
	if _, err := v.refreshBacking(); err != nil {
		v.logf("re-reading the backing disk: %v", err)
	}
}

// applySize makes target the device's size (r.mu held): a grown area is
// marked out of sync (unless !resync) before la-size-sect says it
// exists. It reports whether the device grew.
func (v *Volume) applySize(target int64, resync bool) bool {
	target &^= 4095
	if target <= 0 || target == v.size {
		return false
	}
	old := v.size
	if target > old && resync && v.bm != nil {
		v.bm.SetRange(uint64(old/4096), uint64((target-old)/4096))
		v.writeBitmap()
	}
	v.size = target
	if v.sb != nil {
		v.sb.LaSizeSect = uint64(target / 512)
	}
	v.writeMeta()
	v.logf("size = %s (%d KB)", ppsize(target>>10), target>>10)
	v.r.d.procChanged()
	return target > old
}

// ppsize is DRBD's ppsize: KiB in the largest unit that keeps the number
// below 10000.
func ppsize(kb int64) string {
	units := []string{"KB", "MB", "GB", "TB", "PB"}
	i := 0
	for kb >= 10000 && i < len(units)-1 {
		kb = (kb + 512) >> 10
		i++
	}
	return fmt.Sprintf("%d %s", kb, units[i])
}

// afterGrow starts the resync of the new area (r.mu held): the source
// waits until the peer reports the same size, the target waits for the
// sync UUID. Disconnected, the bits wait for the next connection.
func (v *Volume) afterGrow(noResync bool) {
	if noResync {
		v.logf("Resync of new storage suppressed with --assume-clean")
		return
	}
	if v.m.S.Conn != state.Connected {
		return
	}
	if v.growSource() {
		v.grow.pending = true
		return
	}
	v.step(state.ResyncAfterGrow{})
}

// growSource: the Primary resyncs the new area to the other node; of
// two nodes in the same role, the one that connected actively.
func (v *Volume) growSource() bool {
	s := v.m.S
	if s.Role == s.Peer {
		return v.peer != nil && v.peer.active
	}
	return s.Role == state.Primary
}

// resyncAfterNeg follows a state change (r.mu held): a device that grew
// during the handshake resyncs its new area once Connected, when the
// handshake started no resync of its own.
func (v *Volume) resyncAfterNeg(os state.State) {
	s := v.m.S
	if !v.grow.afterNeg || s.Conn == os.Conn || s.Conn < state.Connected {
		return
	}
	v.grow.afterNeg = false
	if s.Conn != state.Connected || os.Conn >= state.Connected {
		return // the handshake's own resync moves the bits
	}
	v.step(state.ResyncAfterGrow{Source: v.growSource()})
}

func (v *Volume) sendResizeSizes(flags uint16) {
	if p := v.link(); p != nil {
		p.data.Send(repl.PSizes, repl.Sizes{DSize: uint64(v.diskSize / 512), USize: uint64(v.grow.usize / 512),
			CSize: uint64(v.size / 512), MaxBioSize: 1 << 20, DDSFlags: flags}.Append(nil))
	}
}

// receiveSizes handles P_SIZES: during the handshake the device takes
// the smaller disk's size; connected, it is the peer's part of a resize.
func (p *peerLink) receiveSizes(b []byte) error {
	s, err := repl.DecodeSizes(b)
	if err != nil {
		return err
	}
	const maxSect = math.MaxInt64 / 512
	if s.DSize > maxSect || s.USize > maxSect || s.CSize > maxSect {
		return fmt.Errorf("drbd: protocol error: P_SIZES with a size past 2^63 bytes (disk %d, user %d, current %d sectors)", s.DSize, s.USize, s.CSize)
	}
	peer := int64(s.DSize*512) &^ 4095 // the peer's usable disk, 0 without one
	r := p.r
	r.mu.Lock()
	defer r.mu.Unlock()
	v := p.v
	prevPeer := v.peerSize
	v.peerSize = s.DSize
	if v.disk == nil {
		v.sizeWithoutDisk(s.DSize, s.CSize) // peerread.go
		return nil
	}
	if v.m.S.Conn < state.Connected {
		if peer > 0 && v.size > 0 && peer < v.size && v.m.S.Disk >= state.Outdated {
			// receive_sizes: never shrink a device with usable data
			// while connecting; only an online resize may.
			r.d.Log.Error("The peer's disk size is too small! Going StandAlone.", "resource", r.name, "minor", v.minor,
				"peer-KiB", peer/1024, "device-KiB", v.size/1024)
			v.step(state.Disconnect{Force: true})
			return fmt.Errorf("drbd: the peer's disk (%d KiB) is smaller than the device (%d KiB)", peer/1024, v.size/1024)
		}
		target := v.diskSize
		if peer > 0 && peer < v.diskSize {
			target = peer
		}
		if peer == 0 && v.size > 0 {
			// A peer without a disk: the device keeps its last agreed
			// size (drbd_new_dev_size).
			target = min(v.size, v.diskSize)
		}
		if u := v.grow.usize; u > 0 && u < target {
			target = u // the disk section's size
		}
		if v.disk != nil && v.size > 0 && target > v.size {
			// Both disks grew since the device last had a size (one
			// side resized with --assume-peer-has-space, or the disks
			// grew while apart): the new area is out of sync here and
			// is resynced once connected.
			resync := s.DDSFlags&ddsfNoResync == 0
			if v.applySize(target, resync) && resync {
				v.grow.afterNeg = true
			}
			return nil
		}
		if peer > 0 && peer < v.diskSize && peer == target {
			r.d.Log.Warn("the peer's disk is smaller: the device, which holds no usable data yet, takes its size", "resource", r.name, "minor", v.minor, "KiB", target/1024)
		}
		v.size = target
		return nil
	}
	v.grow.answers++
	r.cond.Broadcast()
	flags := s.DDSFlags | v.grow.flags
	noResync := flags&ddsfNoResync != 0
	ldsc, err := v.refreshBacking()
	if err != nil {
		v.logf("resize: %v", err)
	}
	user := v.grow.usize
	if u := int64(s.USize*512) &^ 4095; u > 0 && (user == 0 || u < user) {
		user = u
	}
	target, err := newSize(sizeRequest{Local: v.diskSize, Peer: peer, Current: v.size, User: user, Connected: true})
	if err != nil {
		v.logf("resize: %v; the size stays", err)
		target = v.size
	}
	grew := v.applySize(target, !noResync)
	if grew {
		v.afterGrow(noResync)
	}
	if v.grow.pending && int64(s.CSize*512) == v.size {
		v.grow.pending = false
		v.step(state.ResyncAfterGrow{Source: true})
	}
	if int64(s.CSize*512) != v.size || grew || ldsc || s.DSize != prevPeer {
		v.sendResizeSizes(flags)
	}
	if grew {
		v.grow.flags = 0 // this resize's flags are spent
	}
	return nil
}

// checkResize is drbdadm's check-resize on an attached volume: remember
// the size the meta data is placed for.
func (v *Volume) checkResize() (*api.Reply, error) {
	v.r.mu.Lock()
	defer v.r.mu.Unlock()
	if v.md == nil {
		return nil, nil
	}
	if cv := v.r.cfg.Volume(v.vnr); cv != nil && v.md.Layout.Index == meta.Internal {
		v.r.d.recordSize(v.minor, cv.Disk, v.md.Size)
	}
	return nil, nil
}

// checkResizeOffline is check-resize on a volume that is not attached
// (drbdmeta check-resize): internal meta data at the end of the disk:
// its size is recorded; at the end of the last known size: it stays
// there until the next online resize, which says so.
func (d *Daemon) checkResizeOffline(q *api.Request) (*api.Reply, error) {
	if q.Config == nil || q.Volume == nil || q.Minor == nil {
		return nil, api.Failure(q.Resource, api.ErrInvalidRequest)
	}
	cv := q.Config.Volume(*q.Volume)
	if cv == nil {
		return nil, api.Failure(minorObj(q), api.ErrInvalidRequest)
	}
	mdev, idx, err := metaPlace(cv)
	if err != nil || idx != meta.Internal {
		return nil, nil // external meta data does not move
	}
	md, err := meta.Open(mdev, idx, false)
	if err != nil {
		return nil, errorf("%v", err)
	}
	sb, err := md.Read()
	md, _, err = d.findMeta(md, sb, err, mdev, *q.Minor, false)
	defer md.Close()
	if err != nil {
		return nil, errorf("%s: %v", mdev, err)
	}
	if now, err := meta.DeviceSize(mdev); err == nil && now != md.Size {
		return &api.Reply{Messages: []string{fmt.Sprintf("%s grew to %d bytes; its meta data is at the end of the old size (%d bytes) and moves at the next online resize: godrbdadm up %s on both nodes, then godrbdadm resize %s on the Primary",
			mdev, now, md.Size, q.Resource, q.Resource)}}, nil
	}
	return nil, nil
}

// notUp refuses a resize of a resource that is not running.
func notUp(q *api.Request) error {
	return ipc.Errorf(ipc.CodeNotFound, 10, "not up: resize works on the running resource, with a Primary").
		WithHint(fmt.Sprintf("grow the backing disks on both nodes, then run godrbdadm up %s on both and godrbdadm resize %s on the Primary (the meta data moves to the new end then)", q.Resource, q.Resource))
}
