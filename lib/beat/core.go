// Package beat is hb-beat: heartbeat 3's messaging layer. core.go is the
// pure part: it takes received packets, ticks and client requests with the
// time they happened, and returns what to send, deliver and report. It
// owns no socket, clock or goroutine, so every rule (liveness, warntime,
// initdead, sequencing, retransmission, acks, node lists) is tested with
// fake time. daemon.go drives it with real sockets.
package beat

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/linux-ha-go/ha/lib/wire"
)

// Node status values, as heartbeat names them.
const (
	StatusInit   = "init"
	StatusUp     = "up"
	StatusActive = "active"
	StatusDead   = "dead"
	StatusPing   = "ping" // a ping node that answers
)

// Node types.
const (
	TypeNormal = "normal"
	TypePing   = "ping"
)

// Link status values.
const (
	LinkUp   = "up"
	LinkDead = "dead"
)

// Protocol constants from heartbeat 3.0.6.
const (
	historySize      = 500 // sent messages kept for retransmission
	maxMissing       = 500 // missing seqs tracked per node
	flowControlLimit = 250 // gap that resets tracking; unacked window for clients
	maxRexmitPerReq  = 50
	startupGrace     = 5 * time.Second // dt advertised as deadtime+2s this long after start
	startupExtra     = 2 * time.Second
	reqnodesRetry    = time.Second
	protocolVersion  = "1"
)

// Config is what the core needs to know; times follow ha.cf.
type Config struct {
	Self       string
	UUID       []byte // 16 bytes
	Generation uint64
	Nodes      []string   // normal cluster nodes, including Self
	PingNodes  []PingNode // pseudo nodes
	Links      []string   // link names (interfaces), for the link table
	Keys       *wire.Keyring

	Keepalive      time.Duration
	Deadtime       time.Duration
	Warntime       time.Duration
	Initdead       time.Duration
	Deadping       time.Duration
	MaxRexmitDelay time.Duration
	Hopfudge       int
	// Rand returns a number in [0, n); the daemon passes math/rand, tests
	// a fixed function.
	Rand func(n int) int
	// Load is the first line of /proc/loadavg, sent as "ld".
	Load func() string
	// Autojoin admits nodes not listed in ha.cf when they send signed
	// heartbeats (ha.cf's autojoin other or any).
	Autojoin bool
	// TraditionalCompression and CompressionThreshold (bytes) are ha.cf's
	// traditional_compression and compression_threshold.
	TraditionalCompression bool
	CompressionThreshold   int
	// QuietBadPackets is ha.cf's `log_badpack off`: drops are counted,
	// not logged.
	QuietBadPackets bool
	// Answer R1 `starting` messages with `resource rsc_hold=none` so that
	// a heartbeat 3 peer managing haresources does not wait forever.
	AnswerStarting bool
}

// PingNode is a ping or ping_group pseudo node.
type PingNode struct {
	Name  string
	Addrs []string
}

// Output is what the core asks its driver to do.
type Output struct {
	Packets [][]byte   // datagrams to send on every link
	Deliver []Delivery // messages for local clients
	Events  []Event    // node and link status changes
	Logs    []Log
}

func (o *Output) merge(x Output) {
	o.Packets = append(o.Packets, x.Packets...)
	o.Deliver = append(o.Deliver, x.Deliver...)
	o.Events = append(o.Events, x.Events...)
	o.Logs = append(o.Logs, x.Logs...)
}

// Delivery is one cluster message for local clients.
type Delivery struct {
	From string
	To   string // "" for a broadcast
	Seq  uint64
	Msg  *wire.Message
}

// Event is a node or link status change.
type Event struct {
	Kind   string    `json:"kind"` // "node" or "link"
	Node   string    `json:"node"`
	Link   string    `json:"link,omitempty"`
	Status string    `json:"status"`
	Old    string    `json:"old,omitempty"`
	Time   time.Time `json:"time"`
}

// Log is a line for the daemon's log, with stable greppable wording.
type Log struct {
	Level slog.Level
	Msg   string
	Attrs []any
}

// Counters are the drops and retransmissions seen, for status and tests.
type Counters struct {
	Received        uint64 `json:"received" xml:"received,attr"`
	Sent            uint64 `json:"sent" xml:"sent,attr"`
	BadAuth         uint64 `json:"bad_auth" xml:"bad_auth,attr"`
	Malformed       uint64 `json:"malformed" xml:"malformed,attr"`
	UnknownNode     uint64 `json:"unknown_node" xml:"unknown_node,attr"`
	Replayed        uint64 `json:"replayed" xml:"replayed,attr"`
	Duplicates      uint64 `json:"duplicates" xml:"duplicates,attr"`
	RexmitRequested uint64 `json:"rexmit_requested" xml:"rexmit_requested,attr"`
	RexmitSent      uint64 `json:"rexmit_sent" xml:"rexmit_sent,attr"`
	Lost            uint64 `json:"lost" xml:"lost,attr"`
	LateHeartbeats  uint64 `json:"late_heartbeats" xml:"late_heartbeats,attr"`
}

type missing struct {
	nextAsk time.Time
}

type node struct {
	name     string
	typ      string
	status   string
	uuid     []byte
	heard    bool      // a status was ever received
	lastBeat time.Time // last t=status (or ping reply)
	dt       time.Duration
	late     bool
	maxGap   time.Duration        // longest interval between heartbeats while alive
	deaths   int                  // times declared dead
	links    map[string]time.Time // last packet per link
	linkUp   map[string]bool
	protocol bool // peer speaks flow control

	gen       uint64
	statusSeq uint64 // seq of the newest status applied
	tracking  bool
	last      uint64 // highest seq seen
	done      uint64 // every seq <= done is processed
	missing   map[uint64]*missing
	pending   map[uint64]*wire.Message // received above a gap, not yet processed

	ackTrigger uint64
	acked      uint64 // highest of our seqs this node acked
}

type sent struct {
	seq     uint64
	raw     []byte
	lastOut time.Time
}

// Core is the protocol state of one hb-beat.
type Core struct {
	cfg       Config
	start     time.Time
	status    string
	seq       uint64
	history   []sent // ring, historySize
	nodes     map[string]*node
	order     []string
	lastBeat  time.Time
	commUp    bool
	reqAsked  time.Time // last reqnodes sent, zero when none pending
	stopped   bool
	graceDone bool
	C         Counters
	buf       []byte
}

// maxAutojoin bounds how many nodes autojoin may add.
const maxAutojoin = 256

func validNodeName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

// NewCore makes a core; Start must be called before anything else.
func NewCore(cfg Config) *Core {
	if cfg.Rand == nil {
		cfg.Rand = func(int) int { return 0 }
	}
	if cfg.Load == nil {
		cfg.Load = func() string { return "0.00 0.00 0.00 1/1 1" }
	}
	if cfg.MaxRexmitDelay <= 0 {
		cfg.MaxRexmitDelay = 250 * time.Millisecond
	}
	if cfg.Deadping <= 0 {
		cfg.Deadping = cfg.Deadtime
	}
	c := &Core{cfg: cfg, status: StatusInit, nodes: map[string]*node{}, history: make([]sent, 0, historySize)}
	for _, n := range cfg.Nodes {
		c.addNode(n, TypeNormal)
	}
	for _, p := range cfg.PingNodes {
		c.addNode(p.Name, TypePing)
	}
	return c
}

func (c *Core) addNode(name, typ string) *node {
	n := &node{name: name, typ: typ, status: StatusInit, links: map[string]time.Time{}, linkUp: map[string]bool{},
		missing: map[uint64]*missing{}, pending: map[uint64]*wire.Message{}, dt: c.cfg.Deadtime}
	if typ == TypePing {
		n.dt = c.cfg.Deadping
	}
	n.ackTrigger = uint64(c.cfg.Rand(10))
	c.nodes[name] = n
	c.order = append(c.order, name)
	return n
}

// Start sends the first heartbeats: status init, then status up.
func (c *Core) Start(now time.Time) Output {
	c.start = now
	var out Output
	self := c.nodes[c.cfg.Self]
	if self == nil {
		self = c.addNode(c.cfg.Self, TypeNormal)
	}
	self.uuid = c.cfg.UUID
	c.setOwnStatus(now, StatusInit, &out)
	c.setOwnStatus(now, StatusUp, &out)
	c.checkCommUp(now, &out)
	return out
}

func (c *Core) setOwnStatus(now time.Time, st string, out *Output) {
	self := c.nodes[c.cfg.Self]
	if c.status != st || self.status != st {
		out.Events = append(out.Events, Event{Kind: "node", Node: c.cfg.Self, Status: st, Old: self.status, Time: now})
	}
	c.status = st
	self.status = st
	c.sendStatus(now, out)
}

// advertisedDeadtime is the dt we send: deadtime+2s for 5 s after start,
// as heartbeat does.
func (c *Core) advertisedDeadtime(now time.Time) time.Duration {
	if now.Sub(c.start) < startupGrace {
		return c.cfg.Deadtime + startupExtra
	}
	return c.cfg.Deadtime
}

func (c *Core) sendStatus(now time.Time, out *Output) {
	m := &wire.Message{}
	m.Add("t", "status").Add("st", c.status).
		Add("dt", strconv.FormatInt(c.advertisedDeadtime(now).Milliseconds(), 16)).
		Add("protocol", protocolVersion)
	c.emit(now, m, "", true, out)
	c.lastBeat = now
}

// emit adds the control fields, signs, records the packet in the history
// (sequenced messages) and queues it.
func (c *Core) emit(now time.Time, m *wire.Message, dest string, sequenced bool, out *Output) (uint64, error) {
	if dest != "" {
		m.Set("dest", dest)
		if n := c.nodes[dest]; n != nil && len(n.uuid) == 16 {
			m.AddBinary("destuuid", n.uuid)
		}
	}
	m.Add("src", c.cfg.Self)
	if len(c.cfg.UUID) == 16 {
		m.AddBinary("srcuuid", c.cfg.UUID)
	}
	var seq uint64
	if sequenced {
		c.seq++
		seq = c.seq
		m.Add("seq", strconv.FormatUint(seq, 16))
	}
	m.Add("hg", strconv.FormatUint(c.cfg.Generation, 16))
	m.Add("ts", strconv.FormatInt(now.Unix(), 16))
	if sequenced {
		m.Add("ld", c.cfg.Load())
	}
	m.Add("ttl", strconv.Itoa(c.cfg.Hopfudge+len(c.cfg.Nodes)))
	raw, err := wire.Encode(nil, m, c.cfg.Keys.Send)
	// Heartbeat compresses a message over 256 KiB, and with
	// traditional_compression one over compression_threshold.
	if errors.Is(err, wire.ErrTooLarge) || (err == nil && c.cfg.TraditionalCompression && c.cfg.CompressionThreshold > 0 && len(raw) > c.cfg.CompressionThreshold) {
		raw, err = wire.EncodeCompressed(m, c.cfg.Keys.Send)
		if err == nil && len(raw) > wire.MaxMessage {
			err = fmt.Errorf("%w even compressed", wire.ErrTooLarge)
		}
	}
	if err != nil {
		if sequenced {
			c.seq-- // nothing went out under this number
		}
		return 0, err
	}
	if sequenced {
		c.remember(sent{seq: seq, raw: raw, lastOut: now})
	}
	out.Packets = append(out.Packets, raw)
	c.C.Sent++
	return seq, nil
}

func (c *Core) remember(s sent) {
	if len(c.history) < historySize {
		c.history = append(c.history, s)
		return
	}
	c.history[int(s.seq-1)%historySize] = s
}

func (c *Core) lookupSent(seq uint64) *sent {
	if seq == 0 || seq > c.seq {
		return nil
	}
	i := int(seq-1) % historySize
	if i < len(c.history) && c.history[i].seq == seq {
		return &c.history[i]
	}
	return nil
}

// ErrOverflow is returned by Send when peers have not acknowledged enough
// of what we sent: the client must retry later.
type ErrOverflow struct{ Unacked uint64 }

func (e ErrOverflow) Error() string {
	return fmt.Sprintf("send queue full: %d messages not yet acknowledged by live peers (limit %d); retry later", e.Unacked, flowControlLimit)
}

// Send sends a client message to one node (dest) or all (dest ""). The
// message must carry its type in "t". Local clients get it too when it is
// for us or for all.
func (c *Core) Send(now time.Time, m *wire.Message, dest string) (Output, error) {
	var out Output
	t := m.Get("t")
	if t == "" || t == "status" || strings.HasPrefix(t, "NS_") {
		return out, fmt.Errorf("message type %q is reserved for hb-beat itself", t)
	}
	if dest != "" && c.nodes[dest] == nil {
		return out, fmt.Errorf("no node %q in the cluster", dest)
	}
	if c.stopped {
		return out, fmt.Errorf("hb-beat is stopping")
	}
	if un := c.unacked(); un >= flowControlLimit {
		return out, ErrOverflow{Unacked: un}
	}
	m = m.Clone()
	seq, err := c.emit(now, m, dest, true, &out)
	if err != nil {
		return out, fmt.Errorf("cannot send a %s message: %w", t, err)
	}
	if dest == "" || dest == c.cfg.Self {
		out.Deliver = append(out.Deliver, Delivery{From: c.cfg.Self, To: dest, Seq: seq, Msg: m})
	}
	return out, nil
}

// unacked is how far the slowest live, acking peer lags behind our seq.
func (c *Core) unacked() uint64 {
	var worst uint64
	for _, n := range c.nodes {
		if n.name == c.cfg.Self || n.typ != TypeNormal || !n.protocol || n.status == StatusDead || !n.heard {
			continue
		}
		if lag := c.seq - min(n.acked, c.seq); lag > worst {
			worst = lag
		}
	}
	return worst
}

// Stop tells the others we leave: a dead status, which hb-beat peers act
// on at once, and heartbeat's shutdone.
func (c *Core) Stop(now time.Time) Output {
	var out Output
	c.status = StatusDead
	c.sendStatus(now, &out)
	m := &wire.Message{}
	m.Add("t", "shutdone").Add("st", StatusDead)
	c.emit(now, m, "", true, &out)
	c.stopped = true
	return out
}

// Receive handles one datagram that arrived on link.
func (c *Core) Receive(now time.Time, link string, pkt []byte) Output {
	var out Output
	c.C.Received++
	pkt = append([]byte(nil), pkt...) // decoded fields alias it; the caller reuses its buffer
	p, err := wire.Decode(pkt)
	if err != nil {
		c.C.Malformed++
		c.badPacketLog(&out, Log{Level: slog.LevelWarn, Msg: "dropped malformed packet", Attrs: []any{"link", link, "bytes", len(pkt), "err", err}})
		return out
	}
	if err := c.cfg.Keys.Verify(p); err != nil {
		c.C.BadAuth++
		c.badPacketLog(&out, Log{Level: slog.LevelWarn, Msg: "dropped packet with bad authentication", Attrs: []any{"link", link, "src", p.Msg.Get("src"), "err", err}})
		return out
	}
	m, err := wire.Expand(p.Msg)
	if err != nil {
		c.C.Malformed++
		c.badPacketLog(&out, Log{Level: slog.LevelWarn, Msg: "dropped malformed packet", Attrs: []any{"link", link, "err", err}})
		return out
	}
	src := strings.ToLower(m.Get("src"))
	n := c.nodes[src]
	if n == nil && c.cfg.Autojoin && validNodeName(src) && len(c.nodes) < maxAutojoin {
		n = c.addNode(src, TypeNormal)
		out.Logs = append(out.Logs, Log{Level: slog.LevelInfo, Msg: "node joined (autojoin)", Attrs: []any{"node", src}})
	}
	if n == nil || n.typ != TypeNormal {
		c.C.UnknownNode++
		c.badPacketLog(&out, Log{Level: slog.LevelWarn, Msg: "dropped packet from unknown node", Attrs: []any{"link", link, "src", src}})
		return out
	}
	if t := m.Get("t"); !(t == "shutdone" || (t == "status" && m.Get("st") == StatusDead)) {
		c.linkHeard(now, n, link, &out) // a goodbye does not bring a link up
	}
	if src == c.cfg.Self {
		return out // our own copy: it proves the link, nothing more
	}
	if u := m.GetBytes("srcuuid"); len(u) == 16 {
		n.uuid = append(n.uuid[:0], u...)
	}
	gen, err := strconv.ParseUint(m.Get("hg"), 16, 64)
	if err != nil {
		c.C.Malformed++
		return out
	}
	t := m.Get("t")
	if gen < n.gen {
		c.C.Replayed++
		out.Logs = append(out.Logs, Log{Level: slog.LevelError, Msg: "attempted replay attack", Attrs: []any{"node", src, "gen", gen, "curgen", n.gen}})
		return out
	}
	if gen > n.gen {
		if n.gen != 0 {
			out.Logs = append(out.Logs, Log{Level: slog.LevelInfo, Msg: "heartbeat restart on node", Attrs: []any{"node", src}})
		}
		n.gen = gen
		n.tracking = false
		n.statusSeq = 0
		n.missing = map[uint64]*missing{}
		n.pending = map[uint64]*wire.Message{}
		n.acked = 0
	}
	seqText := m.Get("seq")
	if seqText == "" {
		// Unsequenced control messages (NS_*).
		c.control(now, n, m, &out)
		return out
	}
	seq, err := strconv.ParseUint(seqText, 16, 64)
	if err != nil || seq == 0 {
		c.C.Malformed++
		return out
	}
	// Liveness is judged on arrival, from the newest status only: the
	// same status heard on a second link, or an older one arriving late,
	// must not move the node's state back.
	if t == "status" && (!n.tracking || seq > n.statusSeq) {
		n.statusSeq = seq
		c.statusHeard(now, n, m, &out)
	}
	c.sequence(now, n, seq, m, &out)
	return out
}

func (c *Core) linkHeard(now time.Time, n *node, link string, out *Output) {
	n.links[link] = now
	if !n.linkUp[link] {
		n.linkUp[link] = true
		out.Events = append(out.Events, Event{Kind: "link", Node: n.name, Link: link, Status: LinkUp, Old: LinkDead, Time: now})
		out.Logs = append(out.Logs, Log{Level: slog.LevelInfo, Msg: "link up", Attrs: []any{"node", n.name, "link", link}})
	}
}

func (c *Core) statusHeard(now time.Time, n *node, m *wire.Message, out *Output) {
	if n.heard && n.status != StatusDead {
		gap := now.Sub(n.lastBeat)
		n.maxGap = max(n.maxGap, gap)
		if gap > c.cfg.Warntime {
			if !n.late {
				n.late = true
				c.C.LateHeartbeats++
				out.Logs = append(out.Logs, Log{Level: slog.LevelWarn,
					Msg:   fmt.Sprintf("late heartbeat from %s: %d ms", n.name, gap.Milliseconds()),
					Attrs: []any{"node", n.name, "gap_ms", gap.Milliseconds()}})
			}
		} else {
			n.late = false
		}
	}
	n.heard = true
	n.lastBeat = now
	if m.Get("protocol") != "" {
		n.protocol = true
	}
	if dt, err := strconv.ParseUint(m.Get("dt"), 16, 32); err == nil && dt > 0 {
		n.dt = time.Duration(dt) * time.Millisecond
	}
	st := m.Get("st")
	switch st {
	case StatusInit, StatusUp, StatusActive:
	case StatusDead:
		c.markDead(now, n, "stopped cleanly", out)
		return
	default:
		st = StatusActive
	}
	if n.status != st {
		if n.status == StatusDead {
			out.Logs = append(out.Logs, Log{Level: slog.LevelInfo, Msg: "node returning", Attrs: []any{"node", n.name, "status", st}})
		}
		out.Events = append(out.Events, Event{Kind: "node", Node: n.name, Status: st, Old: n.status, Time: now})
		out.Logs = append(out.Logs, Log{Level: slog.LevelInfo, Msg: "status update", Attrs: []any{"node", n.name, "status", st}})
		n.status = st
	}
	c.checkCommUp(now, out)
}

func (c *Core) markDead(now time.Time, n *node, why string, out *Output) {
	if n.status == StatusDead {
		return
	}
	out.Events = append(out.Events, Event{Kind: "node", Node: n.name, Status: StatusDead, Old: n.status, Time: now})
	out.Logs = append(out.Logs, Log{Level: slog.LevelWarn, Msg: fmt.Sprintf("node %s: is dead", n.name), Attrs: []any{"node", n.name, "reason", why}})
	n.status = StatusDead
	n.deaths++
	n.late = false
	for l, up := range n.linkUp {
		if up {
			n.linkUp[l] = false
			out.Events = append(out.Events, Event{Kind: "link", Node: n.name, Link: l, Status: LinkDead, Old: LinkUp, Time: now})
		}
	}
	// What was missing from a dead node will not come.
	n.missing = map[uint64]*missing{}
	c.flushPending(now, n, out, true)
}

// sequence tracks seq numbers per sender, asks for what is missing,
// processes messages once and in order, and acks.
func (c *Core) sequence(now time.Time, n *node, seq uint64, m *wire.Message, out *Output) {
	if !n.tracking {
		n.tracking = true
		n.last = seq - 1
		n.done = seq - 1
	}
	switch {
	case seq <= n.last:
		if _, ok := n.missing[seq]; !ok {
			c.C.Duplicates++
			return
		}
		delete(n.missing, seq)
		n.pending[seq] = m
	case seq == n.last+1:
		n.last = seq
		n.pending[seq] = m
	default: // a gap
		gap := seq - n.last - 1
		if gap > flowControlLimit {
			out.Logs = append(out.Logs, Log{Level: slog.LevelWarn, Msg: "lost a lot of packets", Attrs: []any{"node", n.name, "count", gap}})
			c.C.Lost += gap
			n.missing = map[uint64]*missing{}
			c.flushPending(now, n, out, true)
			n.last, n.done = seq, seq-1
			n.pending[seq] = m
			break
		}
		out.Logs = append(out.Logs, Log{Level: slog.LevelWarn, Msg: fmt.Sprintf("%d lost packet(s) for [%s] [%d:%d]", gap, n.name, n.last, seq),
			Attrs: []any{"node", n.name, "count", gap}})
		for s := n.last + 1; s < seq; s++ {
			if len(n.missing) >= maxMissing {
				break
			}
			delay := 50*time.Millisecond + time.Duration(c.cfg.Rand(int(max(1, c.cfg.MaxRexmitDelay.Milliseconds()-50))))*time.Millisecond
			n.missing[s] = &missing{nextAsk: now.Add(delay)}
		}
		n.last = seq
		n.pending[seq] = m
	}
	c.flushPending(now, n, out, false)
}

// flushPending processes pending messages in order while there is no gap;
// force skips gaps (the sender died or the packets are lost for good).
func (c *Core) flushPending(now time.Time, n *node, out *Output, force bool) {
	for {
		next := n.done + 1
		m, ok := n.pending[next]
		if !ok {
			if !force || len(n.pending) == 0 {
				break
			}
			// skip to the lowest pending
			lowest := uint64(0)
			for s := range n.pending {
				if lowest == 0 || s < lowest {
					lowest = s
				}
			}
			c.C.Lost += lowest - next
			n.done = lowest - 1
			continue
		}
		delete(n.pending, next)
		n.done = next
		if m != nil { // nil marks a seq lost for good
			c.process(now, n, next, m, out)
		}
	}
	if len(n.missing) == 0 && n.protocol && n.done == n.last && n.done%10 == n.ackTrigger {
		ack := &wire.Message{}
		ack.Add("t", "NS_ackmsg").Add("dest", n.name).Add("ackseq", strconv.FormatUint(n.done, 16))
		c.emitTo(now, ack, n, out)
	}
}

// emitTo sends an unsequenced message whose dest field is already in place.
func (c *Core) emitTo(now time.Time, m *wire.Message, n *node, out *Output) {
	if len(n.uuid) == 16 {
		m.AddBinary("destuuid", n.uuid)
	}
	m.Add("src", c.cfg.Self)
	if len(c.cfg.UUID) == 16 {
		m.AddBinary("srcuuid", c.cfg.UUID)
	}
	m.Add("hg", strconv.FormatUint(c.cfg.Generation, 16))
	m.Add("ts", strconv.FormatInt(now.Unix(), 16))
	m.Add("ttl", strconv.Itoa(c.cfg.Hopfudge+len(c.cfg.Nodes)))
	raw, err := wire.Encode(nil, m, c.cfg.Keys.Send)
	if err != nil {
		return
	}
	out.Packets = append(out.Packets, raw)
	c.C.Sent++
}

func (c *Core) forUs(m *wire.Message) bool {
	if u := m.GetBytes("destuuid"); len(u) == 16 && len(c.cfg.UUID) == 16 {
		return string(u) == string(c.cfg.UUID)
	}
	d := m.Get("dest")
	return d == "" || strings.EqualFold(d, c.cfg.Self)
}

// process handles one sequenced message, in order.
func (c *Core) process(now time.Time, n *node, seq uint64, m *wire.Message, out *Output) {
	if !c.forUs(m) {
		return
	}
	switch t := m.Get("t"); t {
	case "status":
		return // handled on arrival
	case "reqnodes":
		rep := &wire.Message{}
		rep.Add("t", "repnodes")
		var names strings.Builder
		for _, name := range c.order {
			if c.nodes[name].typ == TypeNormal {
				names.WriteString(name + " ")
			}
		}
		rep.Add("nodelist", names.String()).Add("delnodelist", " ")
		c.emit(now, rep, n.name, true, out)
		return
	case "repnodes":
		if !c.reqAsked.IsZero() {
			c.reqAsked = time.Time{}
			c.comeUp(now, out)
		}
		return
	case "starting":
		if c.cfg.AnswerStarting {
			r := &wire.Message{}
			r.Add("t", "resource").Add("rsc_hold", "none").Add("rtype", "full").Add("isstable", "1")
			c.emit(now, r, "", true, out)
		}
	case "shutdone":
		c.markDead(now, n, "shutdown notice", out)
		return
	}
	out.Deliver = append(out.Deliver, Delivery{From: n.name, To: m.Get("dest"), Seq: seq, Msg: m})
}

// control handles unsequenced NS_* messages.
func (c *Core) control(now time.Time, n *node, m *wire.Message, out *Output) {
	if !c.forUs(m) {
		return
	}
	switch m.Get("t") {
	case "NS_ackmsg":
		if a, err := strconv.ParseUint(m.Get("ackseq"), 16, 64); err == nil && a <= c.seq && a > n.acked {
			n.acked = a
		}
	case "NS_rexmit":
		first, err1 := strconv.ParseUint(m.Get("firstseq"), 10, 64)
		last, err2 := strconv.ParseUint(m.Get("lastseq"), 10, 64)
		if err1 != nil || err2 != nil || first == 0 || last < first {
			c.C.Malformed++
			return
		}
		c.C.RexmitRequested++
		if last-first >= maxRexmitPerReq {
			last = first + maxRexmitPerReq - 1
		}
		for s := first; s <= last; s++ {
			if s > c.seq {
				out.Logs = append(out.Logs, Log{Level: slog.LevelInfo, Msg: fmt.Sprintf("rexmit of seq %d requested. %d is max.", s, c.seq)})
				break
			}
			if s <= n.acked {
				continue
			}
			h := c.lookupSent(s)
			if h == nil {
				nak := &wire.Message{}
				info := "seqno not found"
				if c.seq > historySize && s <= c.seq-historySize {
					info = "seqno too low"
				}
				nak.Add("t", "NS_nak_rexmit").Add("firstseq", strconv.FormatUint(s, 16)).Add("dest", n.name).Add("info", info)
				c.emitTo(now, nak, n, out)
				continue
			}
			if now.Sub(h.lastOut) < c.cfg.MaxRexmitDelay-10*time.Millisecond {
				continue
			}
			h.lastOut = now
			out.Packets = append(out.Packets, h.raw)
			c.C.RexmitSent++
		}
	case "NS_nak_rexmit":
		s, err := strconv.ParseUint(m.Get("firstseq"), 16, 64)
		if err != nil {
			return
		}
		if _, ok := n.missing[s]; ok {
			delete(n.missing, s)
			out.Logs = append(out.Logs, Log{Level: slog.LevelError, Msg: fmt.Sprintf("irretrievably lost packet node %s seq %d", n.name, s)})
			c.C.Lost++
			if len(n.missing) == 0 {
				c.flushPending(now, n, out, true)
			} else {
				// skip just this one when it is next
				c.skipLost(now, n, s, out)
			}
		}
	}
}

func (c *Core) skipLost(now time.Time, n *node, s uint64, out *Output) {
	if n.done+1 == s {
		n.done = s
		c.flushPending(now, n, out, false)
	} else {
		n.pending[s] = nil // placeholder processed as nothing
	}
}

func (c *Core) badPacketLog(out *Output, l Log) {
	if !c.cfg.QuietBadPackets {
		out.Logs = append(out.Logs, l)
	}
}

// Tick runs the timers: heartbeats, deadtime, link deadness, initdead,
// retransmission requests, reqnodes retries.
func (c *Core) Tick(now time.Time) Output {
	var out Output
	if c.stopped {
		return out
	}
	graceOver := !c.graceDone && now.Sub(c.start) >= startupGrace
	if graceOver {
		c.graceDone = true // tell the peers our real deadtime at once
	}
	if graceOver || now.Sub(c.lastBeat) >= c.cfg.Keepalive {
		c.sendStatus(now, &out)
	}
	sinceStart := now.Sub(c.start)
	for _, name := range c.order {
		n := c.nodes[name]
		if name == c.cfg.Self {
			c.expireLinks(now, n, &out)
			continue
		}
		switch {
		case n.status == StatusDead:
		case n.heard && now.Sub(n.lastBeat) > n.dt:
			c.markDead(now, n, fmt.Sprintf("no heartbeat for %d ms (deadtime %d ms)", now.Sub(n.lastBeat).Milliseconds(), n.dt.Milliseconds()), &out)
		case !n.heard && sinceStart > c.cfg.Initdead:
			c.markDead(now, n, "not heard since start (initdead)", &out)
		}
		if n.status != StatusDead {
			c.expireLinks(now, n, &out)
		}
		for s, ms := range n.missing {
			if now.Before(ms.nextAsk) {
				continue
			}
			ms.nextAsk = now.Add(c.cfg.MaxRexmitDelay)
			req := &wire.Message{}
			req.Add("t", "NS_rexmit").Add("dest", n.name).
				Add("firstseq", strconv.FormatUint(s, 10)).Add("lastseq", strconv.FormatUint(s, 10))
			c.emitTo(now, req, n, &out)
		}
	}
	c.expirePing(now, &out)
	if !c.commUp {
		c.checkCommUp(now, &out)
	} else if !c.reqAsked.IsZero() && now.Sub(c.reqAsked) >= reqnodesRetry {
		c.askNodes(now, &out)
	}
	return out
}

func (c *Core) expireLinks(now time.Time, n *node, out *Output) {
	for l, up := range n.linkUp {
		if up && now.Sub(n.links[l]) > c.cfg.Deadtime {
			n.linkUp[l] = false
			out.Events = append(out.Events, Event{Kind: "link", Node: n.name, Link: l, Status: LinkDead, Old: LinkUp, Time: now})
			out.Logs = append(out.Logs, Log{Level: slog.LevelWarn, Msg: fmt.Sprintf("link %s:%s dead", n.name, l), Attrs: []any{"node", n.name, "link", l}})
		}
	}
}

// PingHeard records an echo reply from a ping node (or any address of a
// ping group).
func (c *Core) PingHeard(now time.Time, name string) Output {
	var out Output
	n := c.nodes[name]
	if n == nil || n.typ != TypePing {
		return out
	}
	n.heard = true
	n.lastBeat = now
	if n.status != StatusPing {
		out.Events = append(out.Events, Event{Kind: "node", Node: name, Status: StatusPing, Old: n.status, Time: now})
		out.Logs = append(out.Logs, Log{Level: slog.LevelInfo, Msg: "ping node reachable", Attrs: []any{"node", name}})
		n.status = StatusPing
	}
	return out
}

// checkCommUp brings communication up once every node was heard from or
// initdead has passed: with peers that speak flow control we first ask
// one for its node list (heartbeat's reqnodes), as heartbeat does.
func (c *Core) checkCommUp(now time.Time, out *Output) {
	if c.commUp {
		return
	}
	allHeard := true
	for _, name := range c.order {
		n := c.nodes[name]
		if name == c.cfg.Self || n.typ != TypeNormal {
			continue
		}
		if !n.heard && n.status != StatusDead {
			allHeard = false
		}
	}
	if !allHeard && now.Sub(c.start) <= c.cfg.Initdead {
		return
	}
	if c.firstLivePeer() != nil && c.reqAsked.IsZero() {
		c.askNodes(now, out)
		return
	}
	if c.firstLivePeer() == nil {
		c.comeUp(now, out)
	}
}

func (c *Core) firstLivePeer() *node {
	for _, name := range c.order {
		n := c.nodes[name]
		if name != c.cfg.Self && n.typ == TypeNormal && n.heard && n.status != StatusDead && n.protocol {
			return n
		}
	}
	return nil
}

func (c *Core) askNodes(now time.Time, out *Output) {
	p := c.firstLivePeer()
	if p == nil {
		c.reqAsked = time.Time{}
		c.comeUp(now, out)
		return
	}
	m := &wire.Message{}
	m.Add("t", "reqnodes")
	c.emit(now, m, p.name, true, out)
	c.reqAsked = now
}

func (c *Core) comeUp(now time.Time, out *Output) {
	if c.commUp {
		return
	}
	c.commUp = true
	out.Logs = append(out.Logs, Log{Level: slog.LevelInfo, Msg: "communication up: this node is active"})
	c.setOwnStatus(now, StatusActive, out)
}

// CommUp reports whether communication is up (heartbeat's Comm_now_up).
func (c *Core) CommUp() bool { return c.commUp }

// expirePing marks ping nodes dead that have not answered within deadping.
func (c *Core) expirePing(now time.Time, out *Output) {
	for _, name := range c.order {
		n := c.nodes[name]
		if n.typ != TypePing || n.status == StatusDead {
			continue
		}
		if (n.heard && now.Sub(n.lastBeat) > c.cfg.Deadping) || (!n.heard && now.Sub(c.start) > c.cfg.Deadping) {
			c.markDead(now, n, "no echo reply within deadping", out)
		}
	}
}

// NodeInfo is a node as the API reports it.
type NodeInfo struct {
	Name       string     `json:"name" xml:"name,attr"`
	Type       string     `json:"type" xml:"type,attr"`
	Status     string     `json:"status" xml:"status,attr"`
	Self       bool       `json:"self,omitempty" xml:"self,attr,omitempty"`
	DeadtimeMS int64      `json:"deadtime_ms" xml:"deadtime_ms,attr"`
	LastSeenMS int64      `json:"last_heartbeat_ms_ago,omitempty" xml:"last_heartbeat_ms_ago,attr,omitempty"`
	MaxGapMS   int64      `json:"max_heartbeat_gap_ms,omitempty" xml:"max_heartbeat_gap_ms,attr,omitempty"`
	Deaths     int        `json:"deaths,omitempty" xml:"deaths,attr,omitempty"`
	Links      []LinkInfo `json:"links" xml:"link"`
}

// LinkInfo is one link of one node.
type LinkInfo struct {
	Name   string `json:"name" xml:"name,attr"`
	Status string `json:"status" xml:"status,attr"`
}

// Nodes lists nodes in configuration order with their links.
func (c *Core) Nodes(now time.Time) []NodeInfo {
	var out []NodeInfo
	for _, name := range c.order {
		n := c.nodes[name]
		ni := NodeInfo{Name: name, Type: n.typ, Status: n.status, Self: name == c.cfg.Self, DeadtimeMS: n.dt.Milliseconds(),
			MaxGapMS: n.maxGap.Milliseconds(), Deaths: n.deaths}
		if ni.Self {
			ni.DeadtimeMS = c.advertisedDeadtime(now).Milliseconds()
		}
		if n.heard && !ni.Self {
			ni.LastSeenMS = now.Sub(n.lastBeat).Milliseconds()
		}
		if n.typ == TypeNormal {
			names := append([]string(nil), c.cfg.Links...)
			for l := range n.linkUp {
				if !containsStr(names, l) {
					names = append(names, l)
				}
			}
			sort.Strings(names)
			for _, l := range names {
				st := LinkDead
				if n.linkUp[l] {
					st = LinkUp
				}
				ni.Links = append(ni.Links, LinkInfo{Name: l, Status: st})
			}
		}
		out = append(out, ni)
	}
	return out
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Seq is the last sequence number we sent.
func (c *Core) Seq() uint64 { return c.seq }

// Status is our own status.
func (c *Core) Status() string { return c.status }

// Next returns when Tick next has work to do (a heartbeat to send, a
// node or link that would expire, a retransmission request, a retry),
// so that the driver sleeps exactly until then.
func (c *Core) Next() time.Time {
	next := c.lastBeat.Add(c.cfg.Keepalive)
	earlier := func(t time.Time) {
		if t.Before(next) {
			next = t
		}
	}
	if !c.graceDone {
		earlier(c.start.Add(startupGrace))
	}
	const past = time.Millisecond // expiry is "more than", so look just past it
	for _, name := range c.order {
		n := c.nodes[name]
		for l, up := range n.linkUp {
			if up {
				earlier(n.links[l].Add(c.cfg.Deadtime + past))
			}
		}
		if name == c.cfg.Self || n.status == StatusDead {
			continue
		}
		switch {
		case n.typ == TypePing && n.heard:
			earlier(n.lastBeat.Add(c.cfg.Deadping + past))
		case n.typ == TypePing:
			earlier(c.start.Add(c.cfg.Deadping + past))
		case n.heard:
			earlier(n.lastBeat.Add(n.dt + past))
		default:
			earlier(c.start.Add(c.cfg.Initdead + past))
		}
		for _, ms := range n.missing {
			earlier(ms.nextAsk)
		}
	}
	if !c.commUp {
		earlier(c.start.Add(c.cfg.Initdead + past))
	} else if !c.reqAsked.IsZero() {
		earlier(c.reqAsked.Add(reqnodesRetry))
	}
	return next
}
