package beat

import (
	"context"
	"errors"
	"time"

	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/hacf"
	"github.com/linux-ha-go/ha/lib/ipc"
	"github.com/linux-ha-go/ha/lib/wire"
)

// SocketName is hb-beat's socket in the rundir.
const SocketName = "beat.sock"

// API operations.
const (
	OpStatus    = "status"
	OpNodes     = "nodes"
	OpLinks     = "links"
	OpParameter = "parameter"
	OpSend      = "send"
	OpWatch     = "watch"   // stream of Event
	OpReceive   = "receive" // stream of ClusterMessage
)

// StatusReply answers OpStatus.
type StatusReply struct {
	Node        string   `json:"node" xml:"node,attr"`
	Status      string   `json:"status" xml:"status,attr"`
	CommUp      bool     `json:"comm_up" xml:"comm_up,attr"`
	Version     string   `json:"version" xml:"version,attr"`
	Generation  uint64   `json:"generation" xml:"generation,attr"`
	UptimeMS    int64    `json:"uptime_ms" xml:"uptime_ms,attr"`
	KeepaliveMS int64    `json:"keepalive_ms" xml:"keepalive_ms,attr"`
	DeadtimeMS  int64    `json:"deadtime_ms" xml:"deadtime_ms,attr"`
	Seq         uint64   `json:"seq" xml:"seq,attr"`
	Nodes       int      `json:"nodes" xml:"nodes,attr"`
	NodesAlive  int      `json:"nodes_alive" xml:"nodes_alive,attr"`
	Receivers   int      `json:"receivers" xml:"receivers,attr"` // clients receiving messages
	Watchers    int      `json:"watchers" xml:"watchers,attr"`   // clients watching status
	Counters    Counters `json:"counters" xml:"counters"`
}

// LinkReply is one of our links.
type LinkReply struct {
	Name   string   `json:"name" xml:"name,attr"`
	Kinds  []string `json:"kinds" xml:"kind"`
	Media  string   `json:"media" xml:"media,attr"`
	Status string   `json:"status" xml:"status,attr"` // up while we hear our own or a peer's packets on it
}

// ParameterArgs asks for one ha.cf parameter.
type ParameterArgs struct {
	Name string `json:"name"`
}

// SendArgs is a client message to send.
type SendArgs struct {
	Type   string            `json:"type"`
	To     string            `json:"to,omitempty"`
	Fields map[string]string `json:"fields,omitempty"`
}

// SendReply says which seq the message got.
type SendReply struct {
	Seq uint64 `json:"seq"`
}

// ReceiveArgs filters a receive stream by message type (none: all).
type ReceiveArgs struct {
	Types []string `json:"types,omitempty"`
}

// ClusterMessage is a delivered message as clients see it.
type ClusterMessage struct {
	From   string            `json:"from"`
	To     string            `json:"to,omitempty"`
	Seq    uint64            `json:"seq"`
	Type   string            `json:"type"`
	Fields map[string]string `json:"fields"`
}

// controlFields are the fields hb-beat adds; clients see them as
// From/To/Seq, not as fields.
var controlFields = map[string]bool{"t": true, "src": true, "srcuuid": true, "dest": true, "destuuid": true,
	"seq": true, "hg": true, "ts": true, "ld": true, "ttl": true, "auth": true}

func toClient(d Delivery) ClusterMessage {
	cm := ClusterMessage{From: d.From, To: d.To, Seq: d.Seq, Type: d.Msg.Get("t"), Fields: map[string]string{}}
	for _, f := range d.Msg.Fields {
		if controlFields[f.Name] {
			continue
		}
		if _, dup := cm.Fields[f.Name]; !dup {
			cm.Fields[f.Name] = string(f.Value)
		}
	}
	return cm
}

// Register puts the API's operations on an ipc server.
func (d *Daemon) Register(s *ipc.Server) {
	s.Handle(OpStatus, func(ctx context.Context, _ *ipc.Call) (any, error) {
		var r StatusReply
		err := d.exec(ctx, func() {
			now := time.Now()
			r = StatusReply{Node: d.opts.Self, Status: d.core.Status(), CommUp: d.core.CommUp(), Version: hacf.Version,
				Generation: d.core.cfg.Generation, UptimeMS: now.Sub(d.start).Milliseconds(),
				KeepaliveMS: d.opts.Conf.Keepalive.Milliseconds(), DeadtimeMS: d.opts.Conf.Deadtime.Milliseconds(),
				Seq: d.core.Seq(), Counters: d.core.C}
			d.mu.Lock()
			r.Receivers, r.Watchers = len(d.receivers), len(d.watchers)
			d.mu.Unlock()
			for _, n := range d.core.Nodes(now) {
				if n.Type == TypeNormal {
					r.Nodes++
					if n.Status != StatusDead && n.Status != StatusInit {
						r.NodesAlive++
					}
				}
			}
		})
		return r, err
	})
	s.Handle(OpNodes, func(ctx context.Context, _ *ipc.Call) (any, error) {
		var r []NodeInfo
		err := d.exec(ctx, func() { r = d.core.Nodes(time.Now()) })
		return r, err
	})
	s.Handle(OpLinks, func(ctx context.Context, _ *ipc.Call) (any, error) {
		var r []LinkReply
		err := d.exec(ctx, func() {
			up := map[string]bool{}
			for _, n := range d.core.Nodes(time.Now()) {
				for _, l := range n.Links {
					if l.Status == LinkUp {
						up[l.Name] = true
					}
				}
			}
			seen := map[string]int{}
			for _, l := range d.links {
				st := LinkDead
				if up[l.name] {
					st = LinkUp
				}
				if i, ok := seen[l.name]; ok {
					r[i].Media += ", " + l.describe()
					continue
				}
				seen[l.name] = len(r)
				r = append(r, LinkReply{Name: l.name, Kinds: l.kinds, Media: l.describe(), Status: st})
			}
		})
		return r, err
	})
	s.Handle(OpParameter, func(ctx context.Context, c *ipc.Call) (any, error) {
		var a ParameterArgs
		if err := c.Decode(&a); err != nil {
			return nil, err
		}
		v, ok := d.opts.Conf.Parameter(a.Name)
		if !ok {
			return nil, ipc.Errorf(ipc.CodeNotFound, exitcode.Error, "cannot get parameter %s's value", a.Name)
		}
		return map[string]string{"value": v}, nil
	})
	s.Handle(OpSend, func(ctx context.Context, c *ipc.Call) (any, error) {
		var a SendArgs
		if err := c.Decode(&a); err != nil {
			return nil, err
		}
		m := (&wire.Message{}).Add("t", a.Type)
		for k, v := range a.Fields {
			if controlFields[k] {
				return nil, ipc.Errorf(ipc.CodeBadRequest, exitcode.InvalidParam, "field %q is set by hb-beat itself", k)
			}
			m.Add(k, v)
		}
		var seq uint64
		var serr error
		err := d.exec(ctx, func() {
			var out Output
			out, serr = d.core.Send(time.Now(), m, a.To)
			if serr == nil {
				seq = d.core.Seq()
				d.do(out)
			}
		})
		if err != nil {
			return nil, err
		}
		var of ErrOverflow
		switch {
		case errors.As(serr, &of):
			return nil, ipc.Errorf(ipc.CodeOverflow, exitcode.TempFail, "%v", serr)
		case serr != nil:
			return nil, ipc.Errorf(ipc.CodeRefused, exitcode.InvalidParam, "%v", serr)
		}
		return SendReply{Seq: seq}, nil
	})
	s.HandleStream(OpWatch, func(ctx context.Context, _ *ipc.Call, send func(any) error) error {
		w := &watcher{ch: make(chan Event, 1024)}
		var snapshot []NodeInfo
		if err := d.exec(ctx, func() {
			snapshot = d.core.Nodes(time.Now())
			d.mu.Lock()
			d.watchers[w] = struct{}{}
			d.mu.Unlock()
		}); err != nil {
			return err
		}
		defer d.dropWatcher(w)
		now := time.Now()
		for _, n := range snapshot {
			if err := send(Event{Kind: "node", Node: n.Name, Status: n.Status, Time: now}); err != nil {
				return err
			}
			for _, l := range n.Links {
				if err := send(Event{Kind: "link", Node: n.Name, Link: l.Name, Status: l.Status, Time: now}); err != nil {
					return err
				}
			}
		}
		for {
			select {
			case <-ctx.Done():
				return nil
			case ev, ok := <-w.ch:
				if !ok {
					if w.overflow {
						return ipc.Errorf(ipc.CodeOverflow, exitcode.TempFail, "event queue overflowed: this client read too slowly")
					}
					return nil
				}
				if err := send(ev); err != nil {
					return err
				}
			}
		}
	})
	s.HandleStream(OpReceive, func(ctx context.Context, c *ipc.Call, send func(any) error) error {
		var a ReceiveArgs
		if err := c.Decode(&a); err != nil {
			return err
		}
		r := &receiver{types: map[string]bool{}, ch: make(chan Delivery, 4096)}
		for _, t := range a.Types {
			r.types[t] = true
		}
		d.mu.Lock()
		d.receivers[r] = struct{}{}
		d.mu.Unlock()
		defer d.dropReceiver(r)
		for {
			select {
			case <-ctx.Done():
				return nil
			case dl, ok := <-r.ch:
				if !ok {
					if r.overflow {
						return ipc.Errorf(ipc.CodeOverflow, exitcode.TempFail, "message queue overflowed: this client read too slowly")
					}
					return nil
				}
				if err := send(toClient(dl)); err != nil {
					return err
				}
			}
		}
	})
}

func (d *Daemon) dropWatcher(w *watcher) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.watchers[w]; ok {
		delete(d.watchers, w)
		close(w.ch)
	}
}

func (d *Daemon) dropReceiver(r *receiver) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.receivers[r]; ok {
		delete(d.receivers, r)
		close(r.ch)
	}
}
