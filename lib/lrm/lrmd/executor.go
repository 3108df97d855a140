// Package lrmd is the core of the hb-lrmd daemon: registered resources,
// their operations run through lib/lrm/agents (serialised per resource,
// in parallel across resources up to a bound), recurring monitors, the
// operation history, and subscribers that hear of results; and the local
// socket API that serves them.
package lrmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/ipc"
	"github.com/linux-ha-go/ha/lib/lrm"
	"github.com/linux-ha-go/ha/lib/lrm/agents"
)

// Runner runs one operation; *agents.Runner is the real one.
type Runner interface {
	Exec(ctx context.Context, op *lrm.Op) *lrm.Result
}

var _ Runner = (*agents.Runner)(nil)

// Resource is a registered resource as clients see it.
type Resource struct {
	ID      string            `json:"id"`
	Agent   lrm.Agent         `json:"agent"`
	Params  map[string]string `json:"params,omitempty"`
	History lrm.History       `json:"history"`
	// Recurring lists the active recurring operations by key.
	Recurring []string `json:"recurring,omitempty"`
}

// ExecRequest asks for one operation.
type ExecRequest struct {
	Resource string            `json:"resource"`
	Action   string            `json:"action"`
	Interval time.Duration     `json:"interval_ns,omitempty"`
	Timeout  time.Duration     `json:"timeout_ns,omitempty"`
	Params   map[string]string `json:"params,omitempty"` // replace the registered ones when given
	Meta     map[string]string `json:"meta,omitempty"`
	// Async returns at once with the call id; the result goes to
	// subscribers and the history.
	Async bool `json:"async,omitempty"`
	// UserData is returned as is in the result (hb-crmd puts its
	// transition key there, as Pacemaker's controller does).
	UserData string `json:"user_data,omitempty"`
}

// Event is what subscribers receive.
type Event struct {
	Type   string      `json:"type"` // "subscribed" (first), "result", "registered", "unregistered"
	Result *lrm.Result `json:"result,omitempty"`
	Rsc    string      `json:"resource,omitempty"`
}

// Errors callers branch on.
var (
	ErrStopping = errors.New("hb-lrmd is stopping")
)

type job struct {
	op   lrm.Op
	user string
	enq  time.Time
	call int64
	rec  *recurring // nil for a one-shot
	done chan *lrm.Result
}

type recurring struct {
	key     string
	op      lrm.Op
	user    string
	stopped bool
	timer   *time.Timer
	first   chan *lrm.Result // the first result goes to the requester
}

type resource struct {
	id        string
	agent     lrm.Agent
	params    map[string]string
	history   lrm.History
	recurring map[string]*recurring
	queue     []*job
	wake      chan struct{}
	running   bool
	gone      bool
}

// Executor owns the resources. Its methods are safe for concurrent use.
type Executor struct {
	run Runner
	log *slog.Logger
	sem chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	rscs     map[string]*resource
	nextCall int64
	subs     map[int]chan Event
	nextSub  int
	closing  bool
}

// SubscriberBuffer bounds the events waiting for one subscriber; a
// subscriber that falls this far behind is dropped.
const SubscriberBuffer = 4096

// DefaultParallel is how many operations run at once across resources
// (Pacemaker's node-action-limit default: twice the cores).
func DefaultParallel() int { return max(4, 2*runtime.NumCPU()) }

// New returns an executor running at most parallel operations at once.
func New(run Runner, log *slog.Logger, parallel int) *Executor {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if parallel <= 0 {
		parallel = DefaultParallel()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Executor{run: run, log: log, sem: make(chan struct{}, parallel), ctx: ctx, cancel: cancel,
		rscs: map[string]*resource{}, subs: map[int]chan Event{}}
}

// Close stops the executor: recurring operations are cancelled and
// queued ones answered "cancelled"; running ones finish (each within its
// timeout), unless ctx ends first, in which case their process groups
// are killed. Subscribers hear of the last results, then their channels
// close.
func (e *Executor) Close(ctx context.Context) {
	e.mu.Lock()
	e.closing = true
	running := 0
	for _, r := range e.rscs {
		for _, rec := range r.recurring {
			e.stopRecurring(rec)
		}
		r.gone = true
		if r.running {
			running++
		}
		e.kick(r)
	}
	e.mu.Unlock()
	if running > 0 {
		e.log.Info("waiting for running operations", "subsystem", "lrmd", "running", running)
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		e.log.Warn("killing running operations", "subsystem", "lrmd")
		e.cancel()
		<-done
	}
	e.cancel()
	e.mu.Lock()
	for id, ch := range e.subs {
		close(ch)
		delete(e.subs, id)
	}
	e.mu.Unlock()
}

// Register adds a resource, or updates its parameters if it is there
// with the same agent. A different agent under the same id is refused.
func (e *Executor) Register(id string, a lrm.Agent, params map[string]string) error {
	if id == "" {
		return ipc.Errorf(ipc.CodeBadRequest, exitcode.InvalidParam, "a resource needs an id")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		return stopping()
	}
	if r, ok := e.rscs[id]; ok {
		if r.agent != a {
			return ipc.Errorf(ipc.CodeExists, exitcode.Exists, "resource %s is registered as %s, not %s", id, r.agent, a).
				WithHint(fmt.Sprintf("unregister it first (hb-lrmd unregister %s)", id))
		}
		r.params = maps.Clone(params)
		return nil
	}
	r := &resource{id: id, agent: a, params: maps.Clone(params), recurring: map[string]*recurring{},
		wake: make(chan struct{}, 1)}
	e.rscs[id] = r
	e.wg.Add(1)
	go e.worker(r)
	e.log.Info("resource registered", "subsystem", "lrmd", "resource", id, "agent", a.String())
	e.publish(Event{Type: "registered", Rsc: id})
	return nil
}

// Unregister cancels a resource's recurring operations and forgets it
// once its running operation, if any, is done.
func (e *Executor) Unregister(id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.rscs[id]
	if !ok {
		return notFound(id)
	}
	for _, rec := range r.recurring {
		e.stopRecurring(rec)
	}
	r.recurring = map[string]*recurring{}
	r.gone = true
	delete(e.rscs, id)
	e.kick(r)
	e.log.Info("resource unregistered", "subsystem", "lrmd", "resource", id)
	e.publish(Event{Type: "unregistered", Rsc: id})
	return nil
}

func stopping() error {
	return ipc.Errorf(ipc.CodeRefused, exitcode.Unavailable, "%v", ErrStopping)
}

func notFound(id string) error {
	return ipc.Errorf(ipc.CodeNotFound, exitcode.NoSuch, "no resource %q is registered", id).
		WithHint("register it first (hb-lrmd register " + id + " CLASS:PROVIDER:TYPE), or list them with hb-lrmd status")
}

// Exec runs an operation. A one-shot waits for its result (unless
// Async); a recurring one (Interval > 0) is scheduled and returns its
// first result, then runs every Interval, reporting changes to
// subscribers. A recurring operation with the same action and interval
// replaces the old one.
func (e *Executor) Exec(ctx context.Context, req ExecRequest) (*lrm.Result, error) {
	if req.Action == "" {
		return nil, ipc.Errorf(ipc.CodeBadRequest, exitcode.InvalidParam, "an operation needs an action")
	}
	if req.Interval < 0 || req.Timeout < 0 {
		return nil, ipc.Errorf(ipc.CodeBadRequest, exitcode.InvalidParam, "interval and timeout cannot be negative")
	}
	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		return nil, stopping()
	}
	r, ok := e.rscs[req.Resource]
	if !ok {
		e.mu.Unlock()
		return nil, notFound(req.Resource)
	}
	params := req.Params
	if params == nil {
		params = r.params
	}
	op := lrm.Op{Resource: r.id, Agent: r.agent, Action: req.Action, Params: maps.Clone(params),
		Meta: maps.Clone(req.Meta), Interval: req.Interval, Timeout: req.Timeout}
	j := &job{op: op, user: req.UserData, done: make(chan *lrm.Result, 1)}
	if req.Interval > 0 {
		key := lrm.HistoryKey(req.Action, req.Interval)
		if old := r.recurring[key]; old != nil {
			e.stopRecurring(old)
		}
		rec := &recurring{key: key, op: op, user: req.UserData, first: j.done}
		r.recurring[key] = rec
		j.rec = rec
	}
	if req.Action == "stop" {
		// a stopped resource has nothing to monitor (as Pacemaker's
		// executor does, stop cancels the resource's recurring ops)
		for k, rec := range r.recurring {
			e.stopRecurring(rec)
			delete(r.recurring, k)
		}
	}
	e.enqueue(r, j)
	call := j.call
	e.mu.Unlock()

	if req.Async {
		return &lrm.Result{Resource: r.id, Agent: r.agent.String(), Action: req.Action, Interval: req.Interval,
			CallID: call, Status: lrm.StatusPending, StatusName: lrm.StatusPending.String(), AgentExit: -1, UserData: req.UserData}, nil
	}
	select {
	case res := <-j.done:
		return res, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// enqueue adds a job; e.mu is held.
func (e *Executor) enqueue(r *resource, j *job) {
	e.nextCall++
	j.call = e.nextCall
	j.enq = time.Now()
	r.queue = append(r.queue, j)
	e.kick(r)
}

func (e *Executor) kick(r *resource) {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (e *Executor) stopRecurring(rec *recurring) {
	rec.stopped = true
	if rec.timer != nil {
		rec.timer.Stop()
	}
}

// Cancel stops a recurring operation. Subscribers get a cancelled result.
func (e *Executor) Cancel(id, action string, interval time.Duration) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.rscs[id]
	if !ok {
		return notFound(id)
	}
	key := lrm.HistoryKey(action, interval)
	rec, ok := r.recurring[key]
	if !ok {
		return ipc.Errorf(ipc.CodeNotFound, exitcode.NoSuch, "resource %s has no recurring %s every %s", id, action, interval).
			WithHint("hb-lrmd status lists the recurring operations")
	}
	e.stopRecurring(rec)
	delete(r.recurring, key)
	e.nextCall++
	res := &lrm.Result{Resource: id, Agent: r.agent.String(), Action: action, Interval: interval,
		CallID: e.nextCall, Status: lrm.StatusCancelled, AgentExit: -1, Start: time.Now()}
	res.Fill()
	e.publish(Event{Type: "result", Result: res})
	return nil
}

// worker runs one resource's jobs, one at a time, in order.
func (e *Executor) worker(r *resource) {
	defer e.wg.Done()
	for {
		e.mu.Lock()
		for len(r.queue) == 0 && !r.gone {
			e.mu.Unlock()
			select {
			case <-r.wake:
			case <-e.ctx.Done():
				e.mu.Lock()
				r.gone = true
				e.mu.Unlock()
			}
			e.mu.Lock()
		}
		if len(r.queue) == 0 && r.gone {
			e.mu.Unlock()
			return
		}
		j := r.queue[0]
		r.queue = r.queue[1:]
		if (j.rec != nil && j.rec.stopped) || r.gone {
			res := e.cancelled(r, j, "resource was unregistered")
			if j.rec != nil {
				res.ExitReason = "the recurring operation was cancelled"
				if j.rec.first != nil {
					j.rec.first <- res
					j.rec.first = nil
				}
			} else {
				j.done <- res
			}
			e.mu.Unlock()
			continue
		}
		r.running = true
		e.mu.Unlock()

		var res *lrm.Result
		select {
		case e.sem <- struct{}{}:
			op := j.op
			res = e.run.Exec(e.ctx, &op)
			<-e.sem
		case <-e.ctx.Done():
			res = e.cancelled(r, j, "hb-lrmd is stopping")
		}
		res.CallID = j.call
		res.Resource = r.id
		res.UserData = j.user
		if q := res.Start.Sub(j.enq); q > 0 {
			res.Queued = q
		}
		e.finish(r, j, res)
	}
}

func (e *Executor) cancelled(r *resource, j *job, why string) *lrm.Result {
	res := &lrm.Result{Resource: r.id, Agent: r.agent.String(), Action: j.op.Action, Interval: j.op.Interval,
		CallID: j.call, Status: lrm.StatusCancelled, AgentExit: -1, ExitReason: why, Start: time.Now(), UserData: j.user}
	res.Fill()
	return res
}

func (e *Executor) finish(r *resource, j *job, res *lrm.Result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r.running = false
	if j.rec != nil && j.rec.stopped {
		// cancelled while running: the requester still gets its answer
		if j.rec.first != nil {
			j.rec.first <- res
			j.rec.first = nil
		}
		return
	}
	// the history and the events keep no output: it can be large, and
	// only the requester of the operation wants it
	hist := *res
	hist.Stdout, hist.Stderr = "", ""
	news := r.history.Record(&hist)
	res.LastRCChange = hist.LastRCChange
	lvl := slog.LevelInfo
	if lrm.Failed(res) {
		lvl = slog.LevelWarn
	}
	if news {
		e.log.Log(e.ctx, lvl, "operation result", "subsystem", "lrmd", "resource", r.id, "action", res.Action,
			"interval", res.Interval, "call", res.CallID, "rc", int(res.RC), "rc_name", res.RCName,
			"status", res.StatusName, "reason", res.ExitReason, "duration", res.Duration.Round(time.Millisecond))
		e.publish(Event{Type: "result", Result: &hist})
	}
	if j.rec == nil {
		j.done <- res
		return
	}
	rec := j.rec
	if rec.first != nil {
		rec.first <- res
		rec.first = nil
	}
	if r.gone || e.ctx.Err() != nil {
		return
	}
	rec.timer = time.AfterFunc(rec.op.Interval, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if rec.stopped || r.gone {
			return
		}
		e.enqueue(r, &job{op: rec.op, user: rec.user, rec: rec, done: make(chan *lrm.Result, 1)})
	})
}

// publish sends an event to every subscriber; e.mu is held. A
// subscriber whose buffer is full is dropped (its channel closed).
func (e *Executor) publish(ev Event) {
	for id, ch := range e.subs {
		select {
		case ch <- ev:
		default:
			close(ch)
			delete(e.subs, id)
			e.log.Warn("subscriber dropped: too far behind", "subsystem", "lrmd", "buffer", SubscriberBuffer)
		}
	}
}

// Subscribe returns a channel of events and a function that ends the
// subscription. The channel is closed when the subscriber is dropped or
// the executor closes.
func (e *Executor) Subscribe() (<-chan Event, func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch := make(chan Event, SubscriberBuffer)
	id := e.nextSub
	e.nextSub++
	e.subs[id] = ch
	return ch, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if c, ok := e.subs[id]; ok {
			close(c)
			delete(e.subs, id)
		}
	}
}

// Resources lists the registered resources with their history, by id.
func (e *Executor) Resources() []Resource {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Resource, 0, len(e.rscs))
	for _, r := range e.rscs {
		res := Resource{ID: r.id, Agent: r.agent, Params: maps.Clone(r.params),
			History: lrm.History{Last: maps.Clone(r.history.Last), LastFailure: r.history.LastFailure}}
		for k := range r.recurring {
			res.Recurring = append(res.Recurring, k)
		}
		sort.Strings(res.Recurring)
		out = append(out, res)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Alive reports whether the executor's state can be reached: a wedged
// executor blocks here, so systemd's watchdog, fed only while this
// returns, restarts the daemon.
func (e *Executor) Alive() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !e.closing
}
