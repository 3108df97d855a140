package daemon

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/api"
	"github.com/linux-ha-go/ha/lib/drbd/iobuf"
	"github.com/linux-ha-go/ha/lib/drbd/meta"
	"github.com/linux-ha-go/ha/lib/drbd/repl"
	"github.com/linux-ha-go/ha/lib/drbd/state"
)

// netState is a resource's network configuration while it is connected
// or trying to connect.
type netState struct {
	cancel context.CancelFunc
	ln     net.Listener
	local  *api.Endpoint
	peer   *api.Endpoint
	opts   []api.Option
	active bool // this side dials; the other accepts
	proto  int
	done   chan struct{}
	retry  time.Duration
	// pingInt is net { ping-int } (idle time before TCP keepalive
	// probes); ackTimeout is timeout × ko-count, the longest a write
	// waits for the peer's ack before the connection is dropped.
	pingInt    time.Duration
	ackTimeout time.Duration
}

// peerLink is one established connection: DRBD's data and meta sockets.
type peerLink struct {
	r          *Resource
	dc, mc     net.Conn
	data, meta *repl.Conn
	sender     *repl.Sender
	v          *Volume
	active     bool
	ackTimeout time.Duration
	once       sync.Once
	closed     atomic.Bool
	reads      repl.Reads // P_DATA_REQUESTs waiting for the peer (peerread.go)
}

// broken says whether the connection failed or is being closed.
func (p *peerLink) broken() bool { return p.closed.Load() || p.sender.Err() != nil }

func (p *peerLink) close() {
	p.closed.Store(true)
	p.once.Do(func() {
		p.dc.Close()
		p.mc.Close()
	})
}

func hostPort(e *api.Endpoint) string { return net.JoinHostPort(e.Address, e.Port) }

func protoNumber(s string) int {
	switch s {
	case "A":
		return repl.ProtoA
	case "B":
		return repl.ProtoB
	}
	return repl.ProtoC
}

func (r *Resource) connect(q *api.Request) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.netConf {
		return api.Failure(r.name, api.ErrNetConfigured)
	}
	if r.cfg.Local == nil || r.cfg.Peer == nil {
		return api.Failure(r.name, api.ErrInvalidRequest)
	}
	_, discard := q.Flag("discard-my-data")
	for _, v := range r.vols {
		if discard && v.m.S.Role == state.Primary {
			return api.Failure(r.name, api.ErrDiscardIMP)
		}
	}
	ln, err := net.Listen("tcp", hostPort(r.cfg.Local))
	if err != nil {
		r.d.Log.Error("listen", "resource", r.name, "address", hostPort(r.cfg.Local), "error", err)
		return api.Failure(r.name, api.ErrLocalAddr)
	}
	opts := q.Options
	if len(opts) == 0 {
		opts = r.cfg.Net
	}
	ctx, cancel := context.WithCancel(context.Background())
	ns := &netState{cancel: cancel, ln: ln, local: r.cfg.Local, peer: r.cfg.Peer, opts: opts,
		active: hostPort(r.cfg.Local) < hostPort(r.cfg.Peer), proto: protoNumber(r.cfg.Protocol),
		done: make(chan struct{}), retry: 500 * time.Millisecond}
	if p, ok := opt(opts, "protocol"); ok {
		ns.proto = protoNumber(p)
	}
	ns.pingInt = time.Duration(optInt(opts, "ping-int", 10)) * time.Second
	ns.ackTimeout = time.Duration(optInt(opts, "timeout", 60)*optInt(opts, "ko-count", 7)) * 100 * time.Millisecond
	if ns.ackTimeout <= 0 {
		ns.ackTimeout = 42 * time.Second
	}
	if ci, ok := opt(opts, "connect-int"); ok {
		if n, err := strconv.Atoi(ci); err == nil && n > 0 && time.Duration(n)*time.Second < ns.retry {
			ns.retry = time.Duration(n) * time.Second
		}
	}
	for _, v := range r.vols {
		v.step(state.Connect{DiscardMyData: discard})
	}
	r.netConf = true
	r.net = ns
	go r.connLoop(ctx, ns)
	return nil
}

func (r *Resource) disconnect(q *api.Request) error {
	r.mu.Lock()
	ns := r.net
	if !r.netConf || ns == nil {
		r.mu.Unlock()
		return nil
	}
	var err error
	for _, v := range r.vols {
		if rv := v.step(state.Disconnect{}); !rv.OK() && rv != state.NothingToDo {
			err = refusal(r.name, rv)
		}
	}
	if err != nil {
		r.mu.Unlock()
		return err
	}
	r.netConf = false
	r.net = nil
	for _, v := range r.vols {
		if v.peer != nil {
			v.peer.close()
		}
	}
	r.mu.Unlock()
	ns.cancel()
	ns.ln.Close()
	<-ns.done
	return nil
}

// initial is an accepted socket named by its first packet.
type initial struct {
	meta bool
	c    net.Conn
}

// connLoop runs one connection per volume: each connects, runs its
// link until it breaks, and reconnects, until the network configuration
// goes away. (DRBD 8.4 carries all volumes of a resource over one
// connection; godrbd gives each volume its own data and meta socket.)
func (r *Resource) connLoop(ctx context.Context, ns *netState) {
	defer close(ns.done)
	r.mu.Lock()
	chans := map[int]chan initial{}
	for n := range r.vols {
		chans[n] = make(chan initial)
	}
	r.mu.Unlock()
	if !ns.active {
		go r.acceptLoop(ctx, ns, chans)
	}
	var wg sync.WaitGroup
	for n, ch := range chans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.volLoop(ctx, ns, n, ch)
		}()
	}
	wg.Wait()
}

// acceptLoop hands each accepted socket to its volume's loop, by the
// P_INITIAL_DATA / P_INITIAL_META packet it starts with (payload: the
// volume number).
func (r *Resource) acceptLoop(ctx context.Context, ns *netState, chans map[int]chan initial) {
	for {
		c, err := ns.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			h, err := repl.ReadHeader(c)
			var b [2]byte
			if err == nil && h.Length == 2 {
				_, err = io.ReadFull(c, b[:])
			} else if err == nil {
				err = fmt.Errorf("initial packet of %d bytes", h.Length)
			}
			c.SetReadDeadline(time.Time{})
			ch := chans[int(binary.BigEndian.Uint16(b[:]))]
			if err != nil || ch == nil || (h.Cmd != repl.PInitialData && h.Cmd != repl.PInitialMeta) {
				c.Close()
				return
			}
			select {
			case ch <- initial{meta: h.Cmd == repl.PInitialMeta, c: c}:
			case <-ctx.Done():
				c.Close()
			}
		}()
	}
}

func (r *Resource) volLoop(ctx context.Context, ns *netState, vnr int, ch chan initial) {
	for ctx.Err() == nil {
		dc, mc, err := r.establish(ctx, ns, vnr, ch)
		if err != nil {
			if ctx.Err() == nil {
				r.d.Log.Debug("connecting", "resource", r.name, "volume", vnr, "peer", hostPort(ns.peer), "error", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(ns.retry):
			}
			continue
		}
		if r.runLink(ctx, ns, vnr, dc, mc) {
			return
		}
	}
}

// establish makes a volume's data and meta socket: the active side
// dials twice and names each with P_INITIAL_DATA / P_INITIAL_META and
// the volume, the passive side waits until it has both.
func (r *Resource) establish(ctx context.Context, ns *netState, vnr int, ch chan initial) (net.Conn, net.Conn, error) {
	if ns.active {
		vb := binary.BigEndian.AppendUint16(nil, uint16(vnr))
		dl := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ns.local.Address)}}
		dc, err := dl.DialContext(ctx, "tcp", hostPort(ns.peer))
		if err != nil {
			return nil, nil, err
		}
		if err := repl.NewConn(dc).Send(repl.PInitialData, vb); err != nil {
			dc.Close()
			return nil, nil, err
		}
		mc, err := dl.DialContext(ctx, "tcp", hostPort(ns.peer))
		if err != nil {
			dc.Close()
			return nil, nil, err
		}
		if err := repl.NewConn(mc).Send(repl.PInitialMeta, vb); err != nil {
			dc.Close()
			mc.Close()
			return nil, nil, err
		}
		setNoDelay(dc)
		setNoDelay(mc)
		return dc, mc, nil
	}
	var dc, mc net.Conn
	for dc == nil || mc == nil {
		var in initial
		select {
		case <-ctx.Done():
			if dc != nil {
				dc.Close()
			}
			if mc != nil {
				mc.Close()
			}
			return nil, nil, ctx.Err()
		case in = <-ch:
		}
		if in.meta {
			if mc != nil {
				mc.Close()
			}
			mc = in.c
		} else {
			if dc != nil {
				dc.Close()
			}
			dc = in.c
		}
	}
	setNoDelay(dc)
	setNoDelay(mc)
	return dc, mc, nil
}

func setNoDelay(c net.Conn) {
	if t, ok := c.(*net.TCPConn); ok {
		t.SetNoDelay(true)
	}
}

// keepAlive makes a silent peer (a cable pulled, a host frozen) a
// broken connection after ping-int and three missed probes.
func keepAlive(c net.Conn, idle time.Duration) {
	if t, ok := c.(*net.TCPConn); ok {
		t.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: idle, Interval: time.Second, Count: 3})
	}
}

func optInt(opts []api.Option, name string, def int) int {
	if v, ok := opt(opts, name); ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

// runLink runs one connection to its end. It reports whether the
// connection attempts must stop (authentication failed, incompatible
// settings: DRBD goes StandAlone).
func (r *Resource) runLink(ctx context.Context, ns *netState, vnr int, dc, mc net.Conn) (final bool) {
	r.mu.Lock()
	v := r.vols[vnr]
	r.mu.Unlock()
	if v == nil {
		dc.Close()
		mc.Close()
		return true
	}
	p := &peerLink{r: r, v: v, dc: dc, mc: mc, data: repl.NewConn(dc), meta: repl.NewConn(mc), active: ns.active, ackTimeout: ns.ackTimeout}
	keepAlive(dc, ns.pingInt)
	keepAlive(mc, ns.pingInt)
	setBuffers(dc, ns.opts)
	stop := context.AfterFunc(ctx, p.close)
	defer stop()
	defer p.close()
	alg, _ := opt(ns.opts, "cram-hmac-alg")
	secret, _ := opt(ns.opts, "shared-secret")
	dc.SetDeadline(time.Now().Add(10 * time.Second))
	agreed, err := repl.Handshake(p.data, repl.HandshakeConfig{CramHMACAlg: alg, SharedSecret: secret, Rand: rand.Reader})
	for _, l := range agreed.Log {
		r.d.Log.Info(r.name + ": " + l)
	}
	if err != nil {
		r.d.Log.Warn("handshake failed", "resource", r.name, "error", err)
		if errors.Is(err, repl.ErrAuth) || errors.Is(err, repl.ErrIncompatible) {
			r.mu.Lock()
			v.noteLinkError("handshake: " + err.Error())
			r.mu.Unlock()
			r.standAlone()
			return true
		}
		return false
	}
	r.mu.Lock()
	v.lastErr = nil
	r.mu.Unlock()
	p.meta.Version = agreed.Version
	p.data.Volume, p.meta.Volume = uint16(vnr), uint16(vnr)
	r.mu.Lock()
	mine := repl.Protocol{Protocol: uint32(ns.proto)}
	{
		mine.AfterSB0, mine.AfterSB1, mine.AfterSB2 = uint32(v.m.Pol.AfterSB0), uint32(v.m.Pol.AfterSB1), uint32(v.m.Pol.AfterSB2)
		if v.m.Cfg.TwoPrimaries {
			mine.TwoPrimaries = 1
		}
		if v.m.DiscardMyData {
			mine.ConnFlags |= repl.CFDiscardMyData
		}
	}
	r.mu.Unlock()
	if err := p.data.Send(repl.PProtocol, mine.Append(nil)); err != nil {
		return false
	}
	h, b, err := p.data.Recv()
	if err != nil {
		return false
	}
	dc.SetDeadline(time.Time{})
	if h.Cmd != repl.PProtocol {
		r.d.Log.Warn("expected ReportProtocol", "resource", r.name, "got", h.Cmd.String())
		return false
	}
	theirs, err := repl.DecodeProtocol(b)
	if err == nil {
		err = repl.CheckProtocol(mine, theirs)
	}
	if err != nil {
		r.d.Log.Error(r.name+": "+err.Error(), "resource", r.name)
		r.standAlone()
		return true
	}
	p.sender = repl.NewSender(p.data, p.meta, ns.proto)
	p.sender.OnResyncAck = p.resyncAcked
	p.sender.OnInSync = p.inSync
	p.sender.OnLost = p.lost
	p.sender.OnNegAck = p.negAck
	p.sender.MaxEpoch = uint32(optInt(ns.opts, "max-epoch-size", 2048))
	p.sender.OnNegDReply = p.reads.NegReply
	p.sender.OnNegRSDReply = p.resyncFailed

	r.mu.Lock()
	if !r.netConf || r.net != ns || r.vols[vnr] != v {
		r.mu.Unlock()
		return true
	}
	v.peer = p
	r.d.Log.Info("connection established", "resource", r.name, "volume", vnr, "peer", hostPort(ns.peer), "protocol", agreed.Version)
	v.sendSizes()
	v.connects++
	v.step(state.Established{})
	r.mu.Unlock()

	ackErr := make(chan error, 1)
	recvDone := make(chan struct{})
	go func() { ackErr <- p.sender.Acks() }()
	go p.watchAcks(recvDone)
	go func() {
		err := <-ackErr
		if errors.Is(err, io.EOF) {
			// The peer closed: let the data socket drain what it sent
			// before (its state, for one: it may have dropped the
			// connection after a sync handshake this side must run too).
			select {
			case <-recvDone:
			case <-time.After(time.Second):
			}
		}
		p.close()
	}()
	err = p.receive()
	close(recvDone)
	p.close()
	p.linkEnded(err)
	r.d.Log.Info("connection lost", "resource", r.name, "volume", vnr, "error", err)
	r.mu.Lock()
	if v.peer == p {
		v.peer = nil
		v.resyncing = false
		v.rxBitmap = nil
		if v.m.S.Conn >= state.WFReportParams {
			v.step(state.NetFailure{Conn: state.NetworkFailure})
		}
	}
	// The sync handshake dropped the connection (split brain, two
	// Primaries): StandAlone, the network configuration is gone, for
	// every volume of the resource.
	final = r.net == ns && v.m.S.Conn == state.StandAlone
	switch {
	case err != nil && !netGone(err):
		v.noteLinkError(err.Error())
	case final && v.splitBrain == nil:
		v.noteLinkError("the sync handshake or a state change refused the peer (the log says why)")
	}
	r.mu.Unlock()
	if final {
		r.standAlone()
	}
	return final
}

// standAlone ends the connection attempts after a final error.
func (r *Resource) standAlone() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range r.vols {
		if v.peer != nil {
			v.peer.close()
		}
		if v.m.S.Conn >= state.WFReportParams {
			v.step(state.NetFailure{Conn: state.NetworkFailure})
		}
		v.step(state.Disconnect{Force: true})
	}
	r.netConf = false
	if r.net != nil {
		r.net.cancel()
		r.net.ln.Close()
		r.net = nil
	}
}

// Sending, with r.mu held.

func (v *Volume) link() *peerLink { return v.peer }

func (v *Volume) myFlags() uint64 {
	var f uint64
	if v.m.DiscardMyData {
		f |= state.PeerFlagDiscardMyData
	}
	if v.m.CrashedPrimary {
		f |= state.PeerFlagCrashedPrimary
	}
	if v.m.S.Disk == state.Inconsistent {
		f |= state.PeerFlagInconsistent
	}
	if v.m.SkipInitialSync {
		f |= state.PeerFlagSkipInitSync
	}
	return f
}

func (v *Volume) bits() uint64 {
	if v.bm == nil {
		return 0
	}
	return v.bm.Count()
}

func (v *Volume) sendUUIDs() {
	if p := v.link(); p != nil {
		p.data.Send(repl.PUUIDs, repl.UUIDs{UUIDs: v.m.UUID, Bits: v.bits(), Flags: v.myFlags()}.Append(nil))
	}
}

func (v *Volume) sendState() {
	if p := v.link(); p != nil {
		v.sendUUIDs()
		p.data.Send(repl.PState, binary.BigEndian.AppendUint32(nil, repl.EncodeState(v.m.S)))
	}
}

func (v *Volume) sendSizes() {
	if p := v.link(); p != nil {
		v.refreshAtConnect() // resize.go: report the disk's size as it is now
		s := repl.Sizes{DSize: uint64(v.diskSize / 512), CSize: uint64(v.diskSize / 512), MaxBioSize: 1 << 20}
		if v.disk == nil {
			// Diskless: no disk size, only the device's (as DRBD
			// sends d_size 0 without a local disk).
			s.DSize, s.CSize = 0, uint64(v.size/512)
		}
		p.data.Send(repl.PSizes, s.Append(nil))
	}
}

func (v *Volume) sendSyncUUID() {
	if p := v.link(); p != nil {
		v.sendUUIDs()
		p.data.Send(repl.PSyncUUID, binary.BigEndian.AppendUint64(nil, v.m.UUID.Bitmap))
	}
}

func (v *Volume) bitmapBytes() []byte {
	if v.bm == nil {
		return nil
	}
	return v.bm.Bytes((v.bm.Len() + 63) / 64 * 8)
}

const bitmapChunk = 256 << 10

// xferBits is the number of bitmap bits both nodes have: the blocks of
// the smaller disk. xferBytes is their size on the wire (64-bit words).
func (v *Volume) xferBits() uint64 {
	if v.bm == nil {
		return 0
	}
	return min(v.bm.Len(), uint64(v.size)/4096)
}

func (v *Volume) xferBytes() int { return int((v.xferBits() + 63) / 64 * 8) }

func (v *Volume) sendBitmap() {
	p := v.link()
	if p == nil {
		return
	}
	b := v.bitmapBytes()
	if n := v.xferBytes(); len(b) > n {
		b = b[:n]
	}
	for len(b) > 0 {
		n := min(len(b), bitmapChunk)
		if err := p.data.Send(repl.PBitmap, b[:n]); err != nil {
			return
		}
		b = b[n:]
	}
	if v.bm == nil {
		p.data.Send(repl.PBitmap)
	}
}

// startResync begins a resync: the target asks for every block its
// bitmap marks; the source answers (in receive) and counts the acks.
func (v *Volume) startResync() {
	if v.bm == nil {
		return
	}
	// Blocks beyond the smaller disk are not replicated.
	if n := v.xferBits(); n < v.bm.Len() {
		v.bm.ClearRange(n, v.bm.Len()-n)
	}
	v.rsTotal = v.bm.Count()
	v.rsSameBase = v.rsSameCsum.Load()
	v.resyncing = true
	if v.m.S.Conn == state.SyncSource {
		v.handler("before-resync-source") // its exit code is ignored, as by DRBD
	}
	if v.m.S.Conn != state.SyncTarget {
		return
	}
	p := v.link()
	if p == nil {
		return
	}
	var runs []repl.Run
	v.bm.Runs(func(start, n uint64) bool {
		runs = append(runs, repl.Run{Start: start, N: n})
		return true
	})
	csums, _ := opt(v.r.cfg.Net, "csums-alg")
	request := func() {
		if err := v.resyncLoop(p, runs, csums); err != nil {
			p.close()
		}
	}
	// DRBD runs before-resync-target before the first request and drops
	// the connection when it fails.
	if !v.handlerThen("before-resync-target", func(code int) {
		if code != 0 {
			v.r.d.Log.Error(fmt.Sprintf("%s/%d drbd%d: before-resync-target handler returned %d, dropping connection.", v.r.name, v.vnr, v.minor, code))
			p.close()
			return
		}
		request()
	}) {
		go request()
	}
}

// Resync requests are at most rsReqSize (DRBD's max-bio-size;
// resyncctl.go paces them); with csums-alg, rsCsumReqSize, the unit that
// moves when one of its blocks differs.
const (
	rsReqSize     = 1 << 20
	rsCsumReqSize = 128 << 10
)

func (v *Volume) resyncDone() {
	target := v.m.S.Conn == state.SyncTarget || v.m.S.Conn == state.PausedSyncT
	v.resyncing = false
	v.writeBitmap()
	v.step(state.ResyncDone{PeerUUIDs: v.peerUUIDs})
	v.logSameCsum()
	if target {
		v.handler("after-resync-target")
	}
}

// resyncAcked is the source's side: the target wrote a resync block.
func (p *peerLink) resyncAcked(sector uint64, size uint32) {
	r := p.r
	r.mu.Lock()
	defer r.mu.Unlock()
	v := p.v
	if v.bm == nil || v.peer != p {
		return
	}
	v.clearInSync(sector, size)
	if v.bm.Count() == 0 && (v.m.S.Conn == state.SyncSource || v.m.S.Conn == state.PausedSyncS) {
		v.resyncDone()
	}
}

// linkError is why this node last dropped a connection (a protocol
// error, a refused peer state, a failed authentication): status shows
// it until a connection is established again.
type linkError struct {
	at     time.Time
	reason string
}

// noteLinkError records it (r.mu held).
func (v *Volume) noteLinkError(reason string) {
	v.lastErr = &linkError{at: time.Now(), reason: reason}
}

// netGone tells a connection that went away (the peer closed it, the
// network failed, this node closed it) from one this node dropped for
// what the peer sent.
func netGone(err error) bool {
	var op *net.OpError
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.As(err, &op)
}

// receivePiece is the part of a large received block written at once,
// while the rest still arrives: the peer's write then ends soon after
// the last byte, not a whole block's write later.
const receivePiece = 256 << 10

// receiveBlock reads a streamed block from the data socket piece by
// piece and writes each piece as it arrives. err is the connection's
// error; werr the disk's first error, after which the rest is still
// read but not written.
func (v *Volume) receiveBlock(c *repl.Conn, block []byte, off int64) (werr, err error) {
	for pos := 0; pos < len(block); {
		k := receivePiece
		if len(block)-pos < 2*receivePiece {
			k = len(block) - pos
		}
		if err := c.ReadInto(block[pos : pos+k]); err != nil {
			return werr, err
		}
		if werr == nil {
			werr = v.writeLocal(block[pos:pos+k], off+int64(pos))
		}
		pos += k
	}
	return werr, nil
}

// receive reads the data socket: state packets, bitmaps, writes of the
// Primary, resync requests and replies.
func (p *peerLink) receive() error {
	r := p.r
	var ack, rep, buf []byte
	var epochWrites uint32
	for {
		h, err := p.data.RecvHeader()
		if err != nil {
			return err
		}
		b := p.data.Buffer(int(h.Length))
		// A large write's block is read as it is written (streamed):
		// here only its data header.
		streamed := (h.Cmd == repl.PData || h.Cmd == repl.PRSDataReply) && len(b) >= repl.DataHeaderSize+2*receivePiece
		n := len(b)
		if streamed {
			n = repl.DataHeaderSize
		}
		if err := p.data.ReadInto(b[:n]); err != nil {
			return err
		}
		v := p.v
		switch h.Cmd {
		case repl.PSizes:
			if err := p.receiveSizes(b); err != nil { // resize.go
				return err
			}
		case repl.PUUIDs:
			u, err := repl.DecodeUUIDs(b)
			if err != nil {
				return err
			}
			r.mu.Lock()
			if err := v.peerUUIDsArrived(u.UUIDs); err != nil {
				r.mu.Unlock()
				return err
			}
			v.peerUUIDs, v.peerBits, v.peerFlags = u.UUIDs, u.Bits, u.Flags
			v.noteExposed()
			r.mu.Unlock()
		case repl.PState:
			w, err := repl.DecodeU32(b)
			if err != nil {
				return err
			}
			ps, err := repl.DecodeState(w)
			if err != nil {
				return err
			}
			r.mu.Lock()
			v.peerState = ps
			r.cond.Broadcast()
			// receive_state runs the sync handshake on a new connection
			// and, on an established one, when either side newly
			// attached its disk (Negotiating).
			renegotiate := v.m.S.Conn == state.Connected && (ps.Disk == state.Negotiating || v.m.S.Disk == state.Negotiating)
			if v.m.S.Conn == state.WFReportParams || renegotiate {
				v.step(state.PeerParams{UUIDs: v.peerUUIDs, Bits: v.peerBits, SelfBits: v.bits(), Flags: v.peerFlags,
					Role: ps.Role, Disk: ps.Disk, ResolveConflicts: p.active})
			} else {
				before := v.m.S.Conn
				v.step(state.PeerState{Role: ps.Role, Disk: ps.Disk, Conn: ps.Conn, UUIDs: v.peerUUIDs, Bits: v.peerBits,
					Flags: v.peerFlags, SelfBits: v.bits(), ResolveConflicts: p.active})
				// receive_state: we want a resync the peer has not decided
				// on yet (primary --force): tell it.
				if before > state.WFReportParams && v.m.S.Conn > state.Connected && ps.Conn <= state.Connected && ps.Disk != state.Negotiating {
					v.sendState()
				}
			}
			dropped := v.m.S.Conn < state.Connected
			r.mu.Unlock()
			if dropped {
				return fmt.Errorf("connection dropped on the peer's state report")
			}
		case repl.PSyncUUID:
			u, err := repl.DecodeU64(b)
			if err != nil {
				return err
			}
			r.mu.Lock()
			v.step(state.SyncUUID{UUID: u})
			r.mu.Unlock()
		case repl.PBitmap:
			r.mu.Lock()
			v.rxBitmap = append(v.rxBitmap, b...)
			want := v.xferBytes()
			if len(v.rxBitmap) >= want {
				if v.bm != nil {
					n := v.xferBits()
					peer, err := meta.LoadBitmap(v.rxBitmap[:want], n)
					if err == nil {
						for i := peer.NextSet(0); i < n; i = peer.NextSet(i + 1) {
							v.bm.Set(i)
						}
					}
					v.writeBitmap()
				}
				v.rxBitmap = nil
				if v.m.S.Conn == state.WFBitMapT {
					v.sendBitmap()
				}
				v.step(state.BitmapDone{})
			}
			r.mu.Unlock()
		case repl.PDataReply:
			if err := p.dataReply(b); err != nil {
				return err
			}
		case repl.PData, repl.PRSDataReply:
			d, block, err := repl.DecodeData(b)
			if err != nil {
				return err
			}
			if err := v.peerMayWrite(h.Cmd); err != nil {
				return err
			}
			if err := v.peerRange(h.Cmd, d.Sector, len(block)); err != nil {
				return err
			}
			a := repl.BlockAck{Sector: d.Sector, BlockID: d.BlockID, BlkSize: uint32(len(block)), SeqNum: d.SeqNum}
			if d.DPFlags&repl.DPSendReceiveAck != 0 {
				ack = a.Append(ack[:0])
				if err := p.meta.Send(repl.PRecvAck, ack); err != nil {
					return err
				}
			}
			v.peerWroteAlone(h.Cmd, d.Sector, len(block))
			var werr error
			if streamed {
				if werr, err = v.receiveBlock(p.data, block, int64(d.Sector)*512); err != nil {
					return err
				}
			} else {
				werr = v.writeLocal(block, int64(d.Sector)*512)
			}
			if werr == nil && d.DPFlags&(repl.DPFUA|repl.DPFlush) != 0 {
				werr = v.flushLocal()
			}
			v.nr.Add(uint64(len(block)) / 1024)
			if h.Cmd == repl.PData { // an epoch counts the Primary's writes only
				epochWrites++
			}
			cmd := repl.Cmd(0)
			switch {
			case h.Cmd == repl.PRSDataReply && werr == nil:
				cmd = repl.PRSWriteAck
			case werr != nil:
				cmd = repl.PNegAck
			case d.DPFlags&repl.DPSendWriteAck != 0:
				cmd = repl.PWriteAck
			}
			if cmd != 0 {
				ack = a.Append(ack[:0])
				if err := p.meta.Send(cmd, ack); err != nil {
					return err
				}
			}
			if h.Cmd == repl.PRSDataReply || h.Cmd == repl.PNegRSDReply {
				v.rsAnswered(uint32(len(block)))
				r.mu.Lock()
				v.rsEnd(p, d.Sector, uint32(len(block)))
				r.mu.Unlock()
			}
			if cmd == repl.PRSWriteAck {
				r.mu.Lock()
				if v.bm != nil {
					v.rsBlocksRecv.Add(uint64(len(block)) / 4096)
					v.clearInSync(d.Sector, uint32(len(block)))
					if v.bm.Count() == 0 && (v.m.S.Conn == state.SyncTarget || v.m.S.Conn == state.PausedSyncT) {
						v.resyncDone()
					}
				}
				r.mu.Unlock()
			}
		case repl.PBarrier:
			br, err := repl.DecodeBarrier(b)
			if err != nil {
				return err
			}
			if err := v.flushLocal(); err != nil {
				return fmt.Errorf("drbd: flush for barrier %d: %w", br.Barrier, err)
			}
			v.barriers.Add(1)
			ack = repl.BarrierAck{Barrier: br.Barrier, SetSize: epochWrites}.Append(ack[:0])
			epochWrites = 0
			if err := p.meta.Send(repl.PBarrierAck, ack); err != nil {
				return err
			}
		case repl.PDataRequest, repl.PRSDataRequest, repl.PCsumRSRequest:
			q, err := repl.DecodeBlockReq(b)
			if err != nil {
				return err
			}
			if err := v.peerRange(h.Cmd, q.Sector, int(q.BlkSize)); err != nil {
				return err
			}
			if h.Cmd == repl.PCsumRSRequest {
				same, err := p.sameCsum(v, q, b[24:])
				if err != nil {
					return err
				}
				if same {
					continue
				}
				h.Cmd = repl.PRSDataRequest
			}
			if cap(buf) < int(q.BlkSize) {
				buf = iobuf.Aligned(int(q.BlkSize))
			}
			blk := buf[:q.BlkSize]
			reply, nack := repl.PDataReply, repl.PNegDReply
			if h.Cmd == repl.PRSDataRequest {
				reply, nack = repl.PRSDataReply, repl.PNegRSDReply
			}
			// Read and send under ioMu: no application write may slip
			// between them.
			v.ioMu.Lock()
			rerr := v.readForPeer(h.Cmd, blk, int64(q.Sector)*512)
			if rerr != nil {
				v.ioMu.Unlock()
				ack = repl.BlockAck{Sector: q.Sector, BlockID: q.BlockID, BlkSize: q.BlkSize}.Append(ack[:0])
				if err := p.meta.Send(nack, ack); err != nil {
					return err
				}
				continue
			}
			rep = repl.DataHeader{Sector: q.Sector, BlockID: q.BlockID}.Append(rep[:0])
			err = p.data.Send(reply, rep, blk)
			v.ioMu.Unlock()
			if err != nil {
				return err
			}
			v.ns.Add(uint64(len(blk)) / 1024)
			if h.Cmd == repl.PRSDataRequest {
				v.rsBlocksSent.Add(uint64(len(blk)) / 4096)
			}
		case repl.POVRequest:
			q, err := repl.DecodeBlockReq(b)
			if err != nil {
				return err
			}
			if err := v.peerRange(h.Cmd, q.Sector, int(q.BlkSize)); err != nil {
				return err
			}
			if rep, err = p.answerVerify(v, q, rep); err != nil {
				return err
			}
		case repl.POVReply:
			q, err := repl.DecodeBlockReq(b)
			if err != nil {
				return err
			}
			if err := v.peerRange(h.Cmd, q.Sector, int(q.BlkSize)); err != nil {
				return err
			}
			v.verifyReply(q, b[24:])
		case repl.PPing:
			if err := p.meta.Send(repl.PPingAck); err != nil {
				return err
			}
		case repl.PUnplugRemote, repl.PProtocol:
		default:
			return fmt.Errorf("drbd: unexpected %s on the data socket", h.Cmd)
		}
	}
}
