package beat

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/wire"
)

var testKey = &wire.Key{Index: 1, Method: wire.SHA1, Secret: []byte("hbtestkey")}

func testRing() *wire.Keyring {
	return &wire.Keyring{Send: testKey, Keys: map[int]*wire.Key{1: testKey}}
}

// cluster is an in-memory network of cores with fake time, per-link drop
// hooks and a record of what each node delivered, logged and reported.
type cluster struct {
	t      *testing.T
	now    time.Time
	cores  map[string]*Core
	names  []string
	links  []string
	down   map[string]bool // "node/link": that node's link is cut
	dead   map[string]bool // crashed: sends and receives nothing
	drop   func(from, to, link string, pkt []byte) bool
	got    map[string][]Delivery
	events map[string][]Event
	logs   map[string][]string
	queue  []inflight
}

type inflight struct {
	from string
	pkt  []byte
}

func newCluster(t *testing.T, names []string, links []string, tweak func(*Config)) *cluster {
	cl := &cluster{t: t, now: time.Unix(1_800_000_000, 0), cores: map[string]*Core{}, names: names, links: links,
		down: map[string]bool{}, dead: map[string]bool{}, got: map[string][]Delivery{}, events: map[string][]Event{}, logs: map[string][]string{}}
	for i, n := range names {
		cfg := Config{Self: n, UUID: []byte(strings.Repeat(string(rune('a'+i)), 16)), Generation: 100, Nodes: names, Links: links,
			Keys: testRing(), Keepalive: 100 * time.Millisecond, Deadtime: 500 * time.Millisecond, Warntime: 250 * time.Millisecond,
			Initdead: 2 * time.Second, MaxRexmitDelay: 250 * time.Millisecond, Hopfudge: 1, Rand: func(int) int { return 0 }}
		if tweak != nil {
			tweak(&cfg)
		}
		cl.cores[n] = NewCore(cfg)
	}
	for _, n := range names {
		cl.apply(n, cl.cores[n].Start(cl.now))
	}
	return cl
}

func (cl *cluster) apply(from string, o Output) {
	for _, p := range o.Packets {
		cl.queue = append(cl.queue, inflight{from: from, pkt: p})
	}
	cl.got[from] = append(cl.got[from], o.Deliver...)
	cl.events[from] = append(cl.events[from], o.Events...)
	for _, l := range o.Logs {
		cl.logs[from] = append(cl.logs[from], l.Msg)
	}
}

// deliver flushes the network: every packet reaches every live node on
// every link that is up at both ends.
func (cl *cluster) deliver() {
	for len(cl.queue) > 0 {
		q := cl.queue
		cl.queue = nil
		for _, f := range q {
			if cl.dead[f.from] {
				continue
			}
			for _, to := range cl.names {
				if cl.dead[to] {
					continue
				}
				for _, l := range cl.links {
					if cl.down[f.from+"/"+l] || cl.down[to+"/"+l] {
						continue
					}
					if cl.drop != nil && cl.drop(f.from, to, l, f.pkt) {
						continue
					}
					cl.apply(to, cl.cores[to].Receive(cl.now, l, f.pkt))
				}
			}
		}
	}
}

// run advances fake time in 10 ms steps, ticking every live core.
func (cl *cluster) run(d time.Duration) {
	end := cl.now.Add(d)
	for cl.now.Before(end) {
		cl.now = cl.now.Add(10 * time.Millisecond)
		for _, n := range cl.names {
			if !cl.dead[n] {
				cl.apply(n, cl.cores[n].Tick(cl.now))
			}
		}
		cl.deliver()
	}
}

// runUntil advances time until cond holds, failing after limit.
func (cl *cluster) runUntil(limit time.Duration, what string, cond func() bool) time.Duration {
	cl.t.Helper()
	start := cl.now
	for !cond() {
		if cl.now.Sub(start) > limit {
			cl.t.Fatalf("after %v: %s did not happen", limit, what)
		}
		cl.run(10 * time.Millisecond)
	}
	return cl.now.Sub(start)
}

func (cl *cluster) status(of, node string) string {
	for _, n := range cl.cores[of].Nodes(cl.now) {
		if n.Name == node {
			return n.Status
		}
	}
	return "?"
}

func (cl *cluster) link(of, node, link string) string {
	for _, n := range cl.cores[of].Nodes(cl.now) {
		if n.Name == node {
			for _, l := range n.Links {
				if l.Name == link {
					return l.Status
				}
			}
		}
	}
	return "?"
}

func (cl *cluster) allActive() bool {
	for _, a := range cl.names {
		if cl.dead[a] {
			continue
		}
		for _, b := range cl.names {
			if !cl.dead[b] && cl.status(a, b) != StatusActive {
				return false
			}
		}
	}
	return true
}

func TestStartToActive(t *testing.T) {
	cl := newCluster(t, []string{"node1", "node2", "node3"}, []string{"eth0"}, nil)
	took := cl.runUntil(3*time.Second, "all nodes active", cl.allActive)
	if took > time.Second {
		t.Errorf("communication took %v to come up", took)
	}
	if !cl.cores["node1"].CommUp() || cl.link("node1", "node2", "eth0") != LinkUp || cl.link("node1", "node1", "eth0") != LinkUp {
		t.Fatal("links not up")
	}
}

func TestKilledNodeDeclaredDead(t *testing.T) {
	cl := newCluster(t, []string{"node1", "node2", "node3"}, []string{"eth0"}, nil)
	cl.runUntil(3*time.Second, "all active", cl.allActive)
	cl.run(startupGrace) // past the startup dt grace
	cl.dead["node3"] = true
	took := cl.runUntil(2*time.Second, "node3 dead on node1 and node2", func() bool {
		return cl.status("node1", "node3") == StatusDead && cl.status("node2", "node3") == StatusDead
	})
	// deadtime 500ms after the last heartbeat, which was at most one
	// keepalive (100ms) before the kill
	if took < 400*time.Millisecond || took > 620*time.Millisecond {
		t.Errorf("detection took %v, want deadtime (500ms) to deadtime+keepalive", took)
	}
	if cl.link("node1", "node3", "eth0") != LinkDead {
		t.Error("dead node's link still up")
	}
	if !containsLog(cl.logs["node1"], "node node3: is dead") {
		t.Errorf("no 'is dead' log: %v", cl.logs["node1"])
	}
	if cl.status("node1", "node2") != StatusActive {
		t.Error("node2 affected")
	}
}

func TestStartupGraceDeadtime(t *testing.T) {
	cl := newCluster(t, []string{"node1", "node2"}, []string{"eth0"}, nil)
	cl.runUntil(3*time.Second, "all active", cl.allActive)
	// within 5 s of start a node advertises deadtime+2s
	if dt := cl.cores["node1"].Nodes(cl.now)[1].DeadtimeMS; dt != 2500 {
		t.Fatalf("peer deadtime during startup %d ms, want 2500", dt)
	}
	cl.run(startupGrace)
	if dt := cl.cores["node1"].Nodes(cl.now)[1].DeadtimeMS; dt != 500 {
		t.Fatalf("peer deadtime after startup %d ms, want 500", dt)
	}
}

func TestCleanStop(t *testing.T) {
	cl := newCluster(t, []string{"node1", "node2"}, []string{"eth0"}, nil)
	cl.runUntil(3*time.Second, "all active", cl.allActive)
	cl.run(startupGrace)
	cl.apply("node2", cl.cores["node2"].Stop(cl.now))
	cl.deliver()
	cl.dead["node2"] = true
	if cl.status("node1", "node2") != StatusDead {
		t.Fatalf("after clean stop node2 is %s on node1, want dead at once", cl.status("node1", "node2"))
	}
}

func TestInitdead(t *testing.T) {
	cl := newCluster(t, []string{"node1", "node2"}, []string{"eth0"}, nil)
	cl.dead["node2"] = true
	cl.run(time.Second)
	if s := cl.status("node1", "node2"); s != StatusInit {
		t.Fatalf("before initdead node2 is %s", s)
	}
	if cl.cores["node1"].CommUp() {
		t.Fatal("communication up before initdead with a node unheard")
	}
	cl.runUntil(1200*time.Millisecond, "node2 dead after initdead", func() bool { return cl.status("node1", "node2") == StatusDead })
	if !cl.cores["node1"].CommUp() || cl.status("node1", "node1") != StatusActive {
		t.Fatal("alone after initdead, node1 did not become active")
	}
}

func TestWarntimeOncePerEpisode(t *testing.T) {
	cl := newCluster(t, []string{"node1", "node2"}, []string{"eth0"}, nil)
	cl.runUntil(3*time.Second, "all active", cl.allActive)
	cl.run(startupGrace)
	// node2 goes silent 300ms (over warntime 250, under deadtime 500), twice in a row
	cl.dead["node2"] = true
	cl.run(300 * time.Millisecond)
	cl.dead["node2"] = false
	cl.cores["node2"].lastBeat = cl.now.Add(-time.Hour) // beat now
	cl.run(20 * time.Millisecond)
	cl.dead["node2"] = true
	cl.run(300 * time.Millisecond)
	cl.dead["node2"] = false
	cl.run(500 * time.Millisecond)
	n := 0
	for _, l := range cl.logs["node1"] {
		if strings.HasPrefix(l, "late heartbeat from node2: ") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("late heartbeat logged %d times, want once per episode: %v", n, cl.logs["node1"])
	}
	if cl.status("node1", "node2") != StatusActive {
		t.Fatal("late node declared dead")
	}
}

func containsLog(logs []string, s string) bool {
	for _, l := range logs {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func msg(t string, kv ...string) *wire.Message {
	m := (&wire.Message{}).Add("t", t)
	for i := 0; i+1 < len(kv); i += 2 {
		m.Add(kv[i], kv[i+1])
	}
	return m
}

func payloads(ds []Delivery, from, typ string) []string {
	var out []string
	for _, d := range ds {
		if d.From == from && d.Msg.Get("t") == typ {
			out = append(out, d.Msg.Get("n"))
		}
	}
	return out
}

// Messages lost on the wire are asked for again and delivered once, in
// order, even when they arrive on two links.
func TestReliableDelivery(t *testing.T) {
	cl := newCluster(t, []string{"node1", "node2"}, []string{"eth0", "eth1"}, nil)
	cl.runUntil(3*time.Second, "all active", cl.allActive)
	// drop every third client packet from node1 to node2, on both links
	count := 0
	cl.drop = func(from, to, link string, pkt []byte) bool {
		if from == "node1" && to == "node2" && strings.Contains(string(pkt), "(0)t=app") {
			if link == "eth0" {
				count++
			}
			return count%3 == 0
		}
		return false
	}
	var want []string
	for i := 0; i < 30; i++ {
		s := string(rune('A' + i))
		want = append(want, s)
		o, err := cl.cores["node1"].Send(cl.now, msg("app", "n", s), "")
		if err != nil {
			t.Fatal(err)
		}
		cl.apply("node1", o)
		cl.deliver()
		cl.run(10 * time.Millisecond)
	}
	cl.drop = nil
	cl.runUntil(3*time.Second, "all 30 delivered", func() bool { return len(payloads(cl.got["node2"], "node1", "app")) >= 30 })
	cl.run(time.Second)
	got := payloads(cl.got["node2"], "node1", "app")
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Fatalf("delivered %v\nwant %v", got, want)
	}
	if cl.cores["node1"].C.RexmitSent == 0 || cl.cores["node2"].C.Duplicates == 0 {
		t.Fatalf("counters %+v %+v", cl.cores["node1"].C, cl.cores["node2"].C)
	}
	// the sender's own clients got each broadcast once too
	if got := payloads(cl.got["node1"], "node1", "app"); len(got) != 30 {
		t.Fatalf("local delivery %d", len(got))
	}
}

func TestDirectedMessage(t *testing.T) {
	cl := newCluster(t, []string{"node1", "node2", "node3"}, []string{"eth0"}, nil)
	cl.runUntil(3*time.Second, "all active", cl.allActive)
	o, err := cl.cores["node1"].Send(cl.now, msg("app", "n", "x"), "node3")
	if err != nil {
		t.Fatal(err)
	}
	cl.apply("node1", o)
	cl.deliver()
	if len(payloads(cl.got["node3"], "node1", "app")) != 1 || len(payloads(cl.got["node2"], "node1", "app")) != 0 || len(payloads(cl.got["node1"], "node1", "app")) != 0 {
		t.Fatal("directed message went to the wrong nodes")
	}
	if _, err := cl.cores["node1"].Send(cl.now, msg("app"), "nodeX"); err == nil {
		t.Fatal("send to unknown node accepted")
	}
	if _, err := cl.cores["node1"].Send(cl.now, msg("NS_ackmsg"), ""); err == nil {
		t.Fatal("reserved type accepted")
	}
}

// One link of two cut: nothing changes but that link's status.
func TestOneLinkCut(t *testing.T) {
	cl := newCluster(t, []string{"node1", "node2"}, []string{"eth0", "eth1"}, nil)
	cl.runUntil(3*time.Second, "all active", cl.allActive)
	cl.run(startupGrace)
	cl.down["node2/eth1"] = true
	cl.runUntil(time.Second, "link eth1 of node2 dead on node1", func() bool { return cl.link("node1", "node2", "eth1") == LinkDead })
	cl.run(2 * time.Second)
	if cl.status("node1", "node2") != StatusActive || cl.link("node1", "node2", "eth0") != LinkUp {
		t.Fatal("cutting one link of two changed the node")
	}
	for _, e := range cl.events["node1"] {
		if e.Kind == "node" && e.Node == "node2" && e.Status == StatusDead {
			t.Fatal("node2 was reported dead")
		}
	}
	cl.down["node2/eth1"] = false
	cl.runUntil(time.Second, "link back up", func() bool { return cl.link("node1", "node2", "eth1") == LinkUp })
}

// A peer that stops acking fills the window: the sender's client sees an
// overflow error instead of unbounded buffering.
func TestFlowControlOverflow(t *testing.T) {
	cl := newCluster(t, []string{"node1", "node2"}, []string{"eth0"}, nil)
	cl.runUntil(3*time.Second, "all active", cl.allActive)
	cl.drop = func(from, to, link string, pkt []byte) bool {
		return from == "node2" && strings.Contains(string(pkt), "NS_ackmsg")
	}
	var err error
	sent := 0
	for i := 0; i < 400 && err == nil; i++ {
		var o Output
		o, err = cl.cores["node1"].Send(cl.now, msg("app"), "")
		if err == nil {
			sent++
			cl.apply("node1", o)
			cl.deliver()
		}
	}
	if _, ok := err.(ErrOverflow); !ok || sent > flowControlLimit {
		t.Fatalf("after %d sends: %v", sent, err)
	}
	cl.drop = nil
	cl.run(time.Second)
	if _, err := cl.cores["node1"].Send(cl.now, msg("app"), ""); err != nil {
		t.Fatalf("after acks resumed: %v", err)
	}
}

func TestBadPacketsDroppedAndCounted(t *testing.T) {
	cl := newCluster(t, []string{"node1", "node2"}, []string{"eth0"}, nil)
	cl.runUntil(3*time.Second, "all active", cl.allActive)
	c := cl.cores["node1"]
	before := c.C
	// forged signature
	other := &wire.Key{Index: 1, Method: wire.SHA1, Secret: []byte("wrong")}
	m := msg("status", "st", "active", "src", "node2", "seq", "ffff", "hg", "64", "ts", "1")
	forged, _ := wire.Encode(nil, m, other)
	cl.apply("node1", c.Receive(cl.now, "eth0", forged))
	// unknown node
	u, _ := wire.Encode(nil, msg("status", "src", "intruder", "seq", "1", "hg", "1"), testKey)
	cl.apply("node1", c.Receive(cl.now, "eth0", u))
	// replay: lower generation
	r, _ := wire.Encode(nil, msg("status", "st", "active", "src", "node2", "seq", "1", "hg", "63"), testKey)
	cl.apply("node1", c.Receive(cl.now, "eth0", r))
	// truncated and garbage
	cl.apply("node1", c.Receive(cl.now, "eth0", forged[:40]))
	cl.apply("node1", c.Receive(cl.now, "eth0", []byte("hello")))
	if c.C.BadAuth != before.BadAuth+1 || c.C.UnknownNode != before.UnknownNode+1 || c.C.Replayed != before.Replayed+1 || c.C.Malformed != before.Malformed+2 {
		t.Fatalf("counters before %+v after %+v", before, c.C)
	}
	if cl.status("node1", "node2") != StatusActive {
		t.Fatal("bad packets changed node2's status")
	}
}

func TestRestartedPeer(t *testing.T) {
	cl := newCluster(t, []string{"node1", "node2"}, []string{"eth0"}, nil)
	cl.runUntil(3*time.Second, "all active", cl.allActive)
	cl.run(startupGrace)
	cl.dead["node2"] = true
	cl.runUntil(2*time.Second, "node2 dead", func() bool { return cl.status("node1", "node2") == StatusDead })
	// node2 comes back with a new generation and seq from 1
	cfg := cl.cores["node2"].cfg
	cfg.Generation++
	cl.cores["node2"] = NewCore(cfg)
	cl.dead["node2"] = false
	cl.apply("node2", cl.cores["node2"].Start(cl.now))
	cl.runUntil(3*time.Second, "node2 active again on node1", cl.allActive)
	o, _ := cl.cores["node2"].Send(cl.now, msg("app", "n", "after"), "")
	cl.apply("node2", o)
	cl.deliver()
	if got := payloads(cl.got["node1"], "node2", "app"); len(got) != 1 || got[0] != "after" {
		t.Fatalf("after restart delivered %v", got)
	}
}

func TestPingNode(t *testing.T) {
	cl := newCluster(t, []string{"node1"}, []string{"eth0"}, func(c *Config) {
		c.PingNodes = []PingNode{{Name: "10.0.0.254", Addrs: []string{"10.0.0.254"}}}
	})
	c := cl.cores["node1"]
	cl.apply("node1", c.PingHeard(cl.now, "10.0.0.254"))
	if cl.status("node1", "10.0.0.254") != StatusPing {
		t.Fatal("ping node not up after a reply")
	}
	cl.runUntil(time.Second, "ping node dead", func() bool { return cl.status("node1", "10.0.0.254") == StatusDead })
	if n := c.Nodes(cl.now)[1]; n.Type != TypePing || len(n.Links) != 0 {
		t.Fatalf("ping node info %+v", n)
	}
}

// A message too large for one datagram even compressed is refused to the
// sender and uses up no sequence number, so peers see no gap.
func TestTooLargeMessageRefused(t *testing.T) {
	cl := newCluster(t, []string{"node1", "node2"}, []string{"eth0"}, nil)
	cl.runUntil(3*time.Second, "all active", cl.allActive)
	c := cl.cores["node1"]
	seq := c.Seq()
	noise := make([]byte, 2*wire.MaxMessage)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = 'a' + byte(r.IntN(26)) // random letters do not compress below 256 KiB
	}
	if _, err := c.Send(cl.now, msg("app", "data", string(noise)), ""); err == nil || !strings.Contains(err.Error(), "larger than 256 KiB") {
		t.Fatalf("oversize send: %v", err)
	}
	if c.Seq() != seq {
		t.Fatalf("seq moved from %d to %d", seq, c.Seq())
	}
	o, err := c.Send(cl.now, msg("app", "n", "after"), "")
	if err != nil {
		t.Fatal(err)
	}
	cl.apply("node1", o)
	cl.deliver()
	cl.run(500 * time.Millisecond)
	if got := payloads(cl.got["node2"], "node1", "app"); len(got) != 1 || cl.cores["node2"].C.Lost != 0 {
		t.Fatalf("after the refused send: delivered %v, lost %d", got, cl.cores["node2"].C.Lost)
	}
}

// The same status heard on two links, or an old one arriving late, does
// not move a node's status back.
func TestStatusNotMovedBack(t *testing.T) {
	cl := newCluster(t, []string{"node1", "node2"}, []string{"eth0"}, nil)
	c := cl.cores["node1"]
	mk := func(seq, st string) []byte {
		b, _ := wire.Encode(nil, msg("status", "st", st, "dt", "1f4", "protocol", "1", "src", "node2", "seq", seq, "hg", "64"), testKey)
		return b
	}
	c.Receive(cl.now, "eth0", mk("1", StatusInit))
	c.Receive(cl.now, "eth0", mk("2", StatusUp))
	c.Receive(cl.now, "eth1", mk("1", StatusInit)) // late copy from another link
	c.Receive(cl.now, "eth1", mk("2", StatusUp))
	if s := cl.status("node1", "node2"); s != StatusUp {
		t.Fatalf("node2 is %s, want up", s)
	}
}

// Messages over 256 KiB travel compressed, as heartbeat sends them; with
// traditional_compression so do those over the threshold.
func TestCompressedMessages(t *testing.T) {
	cl := newCluster(t, []string{"node1", "node2"}, []string{"eth0"}, func(c *Config) {
		c.TraditionalCompression = true
		c.CompressionThreshold = 2048
	})
	cl.runUntil(3*time.Second, "all active", cl.allActive)
	for _, size := range []int{3000, 600 << 10} {
		body := strings.Repeat("<nvpair name='a' value='b'/>", size/28)
		o, err := cl.cores["node1"].Send(cl.now, msg("app", "n", body), "")
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if !strings.Contains(string(o.Packets[0]), wire.CompressedField) {
			t.Fatalf("%d bytes sent uncompressed", size)
		}
		cl.apply("node1", o)
		cl.deliver()
		got := payloads(cl.got["node2"], "node1", "app")
		if len(got) == 0 || got[len(got)-1] != body {
			t.Fatalf("%d bytes: not delivered intact", size)
		}
	}
}

// autojoin admits a node not listed in ha.cf once it sends a signed
// heartbeat; without autojoin it is dropped as unknown.
func TestAutojoin(t *testing.T) {
	for _, join := range []bool{false, true} {
		cl := newCluster(t, []string{"node1", "node2"}, []string{"eth0"}, func(c *Config) {
			c.Autojoin = join
			if c.Self == "node2" {
				c.Nodes = []string{"node1", "node2", "node3"}
			}
		})
		newcomer := NewCore(Config{Self: "node3", UUID: []byte("cccccccccccccccc"), Generation: 5, Nodes: []string{"node1", "node2", "node3"},
			Links: []string{"eth0"}, Keys: testRing(), Keepalive: 100 * time.Millisecond, Deadtime: 500 * time.Millisecond,
			Warntime: 250 * time.Millisecond, Initdead: 2 * time.Second})
		cl.cores["node3"] = newcomer
		cl.names = append(cl.names, "node3")
		cl.apply("node3", newcomer.Start(cl.now))
		cl.run(time.Second)
		st := cl.status("node1", "node3")
		if join && st != StatusActive {
			t.Fatalf("with autojoin node3 is %s on node1", st)
		}
		if !join && (st != "?" || cl.cores["node1"].C.UnknownNode == 0) {
			t.Fatalf("without autojoin node3 is %q on node1", st)
		}
	}
}
