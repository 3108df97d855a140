package beat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/linux-ha-go/ha/lib/hacf"
	"github.com/linux-ha-go/ha/lib/wire"
)

// Options configure a daemon.
type Options struct {
	Conf     *hacf.Config
	Keys     *wire.Keyring
	Self     string
	Statedir string
	Bind     string // local address to bind the links to; overrides ha.cf bindaddr
	Log      *slog.Logger
	// Notify receives sd_notify-style state: "READY=1", "STATUS=…".
	Notify func(state string)
}

// Daemon runs the core on real sockets.
type Daemon struct {
	opts  Options
	core  *Core
	links []*link
	log   *slog.Logger
	epfd  int
	evfd  int
	reqs  chan func()
	start time.Time
	tick  time.Duration

	lastLoop atomic.Int64 // unix nanos of the loop's last turn, for the watchdog

	mu        sync.Mutex
	watchers  map[*watcher]struct{}
	receivers map[*receiver]struct{}
	sendErrs  uint64
}

type watcher struct {
	ch       chan Event
	overflow bool
}

type receiver struct {
	types    map[string]bool
	ch       chan Delivery
	overflow bool
}

// New opens the links and prepares the core; Run serves.
func New(opts Options) (*Daemon, error) {
	c := opts.Conf
	bind := opts.Bind
	if bind == "" && len(c.Bind) > 0 {
		bind = c.Bind[0]
	}
	uuid, err := LoadUUID(opts.Statedir, c.UUIDFrom, opts.Self)
	if err != nil {
		return nil, fmt.Errorf("node uuid: %w", err)
	}
	now := time.Now()
	gen, err := NextGeneration(opts.Statedir, c.HBGenMethod, now)
	if err != nil {
		return nil, fmt.Errorf("heartbeat generation: %w", err)
	}
	links, err := openLinks(c, bind)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, l := range links {
		if !contains(names, l.name) {
			names = append(names, l.name)
		}
	}
	var pings []PingNode
	for _, p := range c.PingNodes {
		pings = append(pings, PingNode{Name: p.Name, Addrs: p.Addrs})
	}
	cfg := Config{
		Self: opts.Self, UUID: uuid, Generation: gen, Nodes: c.Nodes, PingNodes: pings, Links: names, Keys: opts.Keys,
		Keepalive: c.Keepalive, Deadtime: c.Deadtime, Warntime: c.Warntime, Initdead: c.Initdead, Deadping: c.Deadping,
		MaxRexmitDelay: c.MaxRexmitDelay, Hopfudge: c.Hopfudge, Rand: rand.IntN, Load: loadavg, AnswerStarting: true,
		QuietBadPackets: !c.LogBadpack, Autojoin: c.Autojoin != "none", TraditionalCompression: c.TraditionalCompression,
		CompressionThreshold: c.CompressionThreshold * 1024,
	}
	if !contains(cfg.Nodes, opts.Self) {
		cfg.Nodes = append(append([]string(nil), cfg.Nodes...), opts.Self) // autojoin any
	}
	d := &Daemon{opts: opts, core: NewCore(cfg), links: links, log: opts.Log, reqs: make(chan func(), 64),
		watchers: map[*watcher]struct{}{}, receivers: map[*receiver]struct{}{}}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.opts.Notify == nil {
		d.opts.Notify = func(string) {}
	}
	// The loop wakes at least this often (for the watchdog's liveness).
	d.tick = time.Second
	d.log.Info("starting", "subsystem", "beat", "node", opts.Self, "generation", gen, "links", strings.Join(names, ","), "bind", bind)
	for _, w := range c.Warnings() {
		d.log.Warn(w, "subsystem", "config")
	}
	return d, nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "0.00 0.00 0.00 1/1 1"
	}
	return strings.TrimSpace(string(b))
}

// Run serves until ctx ends, then says goodbye to the peers.
func (d *Daemon) Run(ctx context.Context) error {
	defer func() {
		for _, l := range d.links {
			l.close()
		}
	}()
	// The wake-up fd exists before any goroutine can post a request.
	var err error
	if d.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return err
	}
	if d.evfd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		unix.Close(d.epfd)
		return err
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // this thread stays real-time; never unlocked
		if d.opts.Conf.Realtime {
			if err := realtime(d.opts.Conf.RTPrio); err != nil {
				d.log.Warn("cannot use real-time scheduling; heartbeats may be late on a busy machine", "subsystem", "beat", "err", err)
			}
			if err := lockMemory(); err != nil {
				d.log.Warn("cannot lock ourselves into memory", "subsystem", "beat", "err", err)
			}
		}
		errc <- d.loop(ctx)
	}()
	if len(d.opts.Conf.PingNodes) > 0 {
		go d.pingLoop(ctx)
	}
	return <-errc
}

func (d *Daemon) loop(ctx context.Context) error {
	defer unix.Close(d.epfd)
	defer unix.Close(d.evfd)
	byFD := map[int32]*link{}
	add := func(fd int) error {
		return unix.EpollCtl(d.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)})
	}
	if err := add(d.evfd); err != nil {
		return err
	}
	for _, l := range d.links {
		if err := add(l.recvFD); err != nil {
			return err
		}
		byFD[int32(l.recvFD)] = l
	}
	stop := context.AfterFunc(ctx, func() { d.wake() })
	defer stop()

	d.start = time.Now()
	d.do(d.core.Start(d.start))
	d.opts.Notify("READY=1")
	d.notifyStatus()
	buf := make([]byte, wire.MaxMessage+1)
	events := make([]unix.EpollEvent, 16)
	var evbuf [8]byte
	for {
		if ctx.Err() != nil {
			d.opts.Notify("STOPPING=1")
			d.do(d.core.Stop(time.Now()))
			d.log.Info("stopped; told the peers", "subsystem", "beat", "node", d.opts.Self)
			d.closeSubscribers()
			return nil
		}
		// Sleep until the core has work, at most a second; round up, as a
		// timeout rounded down to 0 would spin until then.
		next := d.core.Next()
		if lim := time.Now().Add(time.Second); next.After(lim) {
			next = lim
		}
		wait := int((time.Until(next) + time.Millisecond - 1) / time.Millisecond)
		if wait < 0 {
			wait = 0
		}
		n, err := unix.EpollWait(d.epfd, events, wait)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("epoll: %w", err)
		}
		now := time.Now()
		d.lastLoop.Store(now.UnixNano())
		for _, ev := range events[:max(n, 0)] {
			if int(ev.Fd) == d.evfd {
				_, _ = unix.Read(d.evfd, evbuf[:])
				d.drainRequests()
				continue
			}
			l := byFD[ev.Fd]
			for {
				m, _, err := unix.Recvfrom(l.recvFD, buf, unix.MSG_DONTWAIT)
				if err != nil || m < 0 {
					break
				}
				if m > wire.MaxMessage {
					d.core.C.Malformed++
					continue
				}
				d.do(d.core.Receive(now, l.name, buf[:m]))
			}
		}
		if !now.Before(d.core.Next()) {
			d.do(d.core.Tick(now))
		}
	}
}

func (d *Daemon) wake() {
	var one = [8]byte{1}
	_, _ = unix.Write(d.evfd, one[:])
}

func (d *Daemon) drainRequests() {
	for {
		select {
		case f := <-d.reqs:
			f()
		default:
			return
		}
	}
}

// exec runs f on the loop thread and waits for it.
func (d *Daemon) exec(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case d.reqs <- func() { f(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	d.wake()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// do carries out what the core asked for.
func (d *Daemon) do(out Output) {
	for _, p := range out.Packets {
		for _, l := range d.links {
			for _, s := range l.sends {
				if err := unix.Sendto(s.fd, p, unix.MSG_DONTWAIT, s.to); err != nil {
					d.sendErrs++
					if d.sendErrs == 1 || d.sendErrs%1000 == 0 {
						d.log.Warn("send failed", "subsystem", "beat", "link", l.name, "to", s.desc, "err", err, "failures", d.sendErrs)
					}
				}
			}
		}
	}
	for _, lg := range out.Logs {
		d.log.Log(context.Background(), lg.Level, lg.Msg, append([]any{"subsystem", "beat"}, lg.Attrs...)...)
	}
	if len(out.Events) == 0 && len(out.Deliver) == 0 {
		return
	}
	d.mu.Lock()
	for _, ev := range out.Events {
		for w := range d.watchers {
			select {
			case w.ch <- ev:
			default:
				w.overflow = true
				close(w.ch)
				delete(d.watchers, w)
			}
		}
	}
	for _, dl := range out.Deliver {
		t := dl.Msg.Get("t")
		for r := range d.receivers {
			if len(r.types) > 0 && !r.types[t] {
				continue
			}
			select {
			case r.ch <- dl:
			default:
				r.overflow = true
				close(r.ch)
				delete(d.receivers, r)
			}
		}
	}
	d.mu.Unlock()
	for _, ev := range out.Events {
		if ev.Kind == "node" {
			d.notifyStatus()
			break
		}
	}
}

func (d *Daemon) closeSubscribers() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for w := range d.watchers {
		close(w.ch)
		delete(d.watchers, w)
	}
	for r := range d.receivers {
		close(r.ch)
		delete(d.receivers, r)
	}
}

func (d *Daemon) notifyStatus() {
	nodes := d.core.Nodes(time.Now())
	total, alive := 0, 0
	for _, n := range nodes {
		if n.Type != TypeNormal {
			continue
		}
		total++
		if n.Status != StatusDead && n.Status != StatusInit {
			alive++
		}
	}
	d.opts.Notify(fmt.Sprintf("STATUS=%s: %d of %d nodes alive", d.core.Status(), alive, total))
}

// Alive reports whether the loop turned recently (for the watchdog).
func (d *Daemon) Alive() bool {
	last := d.lastLoop.Load()
	return last != 0 && time.Since(time.Unix(0, last)) < 10*d.tick+time.Second
}
