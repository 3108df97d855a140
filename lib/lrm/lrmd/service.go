package lrmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/ipc"
	"github.com/linux-ha-go/ha/lib/lrm"
	"github.com/linux-ha-go/ha/lib/lrm/agents"
)

// SocketName is hb-lrmd's socket in the rundir.
const SocketName = "lrmd.sock"

// Daemon names hb-lrmd in client errors.
const Daemon = "hb-lrmd"

// The socket API. Each op's arguments and result are the structs below.
const (
	OpRegister   = "register"   // RegisterArgs → {}
	OpUnregister = "unregister" // RscArgs → {}
	OpExec       = "exec"       // ExecRequest → lrm.Result
	OpCancel     = "cancel"     // CancelArgs → {}
	OpResources  = "resources"  // → []Resource
	OpClasses    = "classes"    // → []string
	OpProviders  = "providers"  // → []string
	OpAgents     = "agents"     // AgentsArgs → []string
	OpMetadata   = "metadata"   // AgentArgs → MetadataReply
	OpSubscribe  = "subscribe"  // stream of Event
)

// RegisterArgs registers a resource.
type RegisterArgs struct {
	ID     string            `json:"id"`
	Agent  string            `json:"agent"`
	Params map[string]string `json:"params,omitempty"`
}

// RscArgs names a resource.
type RscArgs struct {
	ID string `json:"id"`
}

// CancelArgs names a recurring operation.
type CancelArgs struct {
	ID       string        `json:"id"`
	Action   string        `json:"action"`
	Interval time.Duration `json:"interval_ns"`
}

// AgentsArgs filters the agent list.
type AgentsArgs struct {
	Class    string `json:"class,omitempty"`
	Provider string `json:"provider,omitempty"`
}

// AgentArgs names an agent.
type AgentArgs struct {
	Agent string `json:"agent"`
}

// MetadataReply carries an agent's meta-data.
type MetadataReply struct {
	XML string `json:"xml"`
}

// Service serves the executor and the agent lists on the socket.
type Service struct {
	Exec   *Executor
	Agents *agents.Runner
}

// Register installs the handlers on s.
func (sv *Service) Register(s *ipc.Server) {
	s.Handle(OpRegister, func(ctx context.Context, c *ipc.Call) (any, error) {
		var a RegisterArgs
		if err := c.Decode(&a); err != nil {
			return nil, err
		}
		ag, err := lrm.ParseAgent(a.Agent)
		if err != nil {
			return nil, ipc.Errorf(ipc.CodeBadRequest, exitcode.InvalidParam, "%v", err)
		}
		return struct{}{}, sv.Exec.Register(a.ID, ag, a.Params)
	})
	s.Handle(OpUnregister, func(ctx context.Context, c *ipc.Call) (any, error) {
		var a RscArgs
		if err := c.Decode(&a); err != nil {
			return nil, err
		}
		return struct{}{}, sv.Exec.Unregister(a.ID)
	})
	s.Handle(OpExec, func(ctx context.Context, c *ipc.Call) (any, error) {
		var a ExecRequest
		if err := c.Decode(&a); err != nil {
			return nil, err
		}
		res, err := sv.Exec.Exec(ctx, a)
		if errors.Is(err, context.Canceled) {
			return nil, ipc.Errorf(ipc.CodeRefused, exitcode.Disconnect, "client went away")
		}
		return res, err
	})
	s.Handle(OpCancel, func(ctx context.Context, c *ipc.Call) (any, error) {
		var a CancelArgs
		if err := c.Decode(&a); err != nil {
			return nil, err
		}
		return struct{}{}, sv.Exec.Cancel(a.ID, a.Action, a.Interval)
	})
	s.Handle(OpResources, func(ctx context.Context, c *ipc.Call) (any, error) {
		return sv.Exec.Resources(), nil
	})
	s.Handle(OpClasses, func(ctx context.Context, c *ipc.Call) (any, error) {
		out := []string{}
		for _, k := range lrm.Classes {
			if k == lrm.Systemd && sv.Agents.SystemdRunning() != nil {
				continue
			}
			out = append(out, string(k))
		}
		return out, nil
	})
	s.Handle(OpProviders, func(ctx context.Context, c *ipc.Call) (any, error) {
		p, err := sv.Agents.Providers()
		if err != nil {
			return nil, ipc.Errorf(ipc.CodeNotFound, exitcode.NoSuch, "cannot list OCF providers: %v", err)
		}
		return p, nil
	})
	s.Handle(OpAgents, func(ctx context.Context, c *ipc.Call) (any, error) {
		var a AgentsArgs
		if err := c.Decode(&a); err != nil {
			return nil, err
		}
		return ListNames(ctx, sv.Agents, a)
	})
	s.Handle(OpMetadata, func(ctx context.Context, c *ipc.Call) (any, error) {
		var a AgentArgs
		if err := c.Decode(&a); err != nil {
			return nil, err
		}
		ag, err := lrm.ParseAgent(a.Agent)
		if err != nil {
			return nil, ipc.Errorf(ipc.CodeBadRequest, exitcode.InvalidParam, "%v", err)
		}
		x, err := sv.Agents.Metadata(ctx, ag)
		if err != nil {
			return nil, ipc.Errorf(codeOf(err), exitcode.Of(err), "%v", err).WithHint(exitcode.HintOf(err))
		}
		return MetadataReply{XML: x}, nil
	})
	s.HandleStream(OpSubscribe, func(ctx context.Context, c *ipc.Call, send func(any) error) error {
		ch, stop := sv.Exec.Subscribe()
		defer stop()
		// the first event says the subscription is live: a client may now
		// fetch the resources and apply every later event on top
		if err := send(Event{Type: "subscribed"}); err != nil {
			return err
		}
		for {
			select {
			case ev, ok := <-ch:
				if !ok {
					return ipc.Errorf(ipc.CodeOverflow, exitcode.TempFail, "subscription ended: the subscriber fell %d events behind, or hb-lrmd is stopping", SubscriberBuffer)
				}
				if err := send(ev); err != nil {
					return err
				}
			case <-ctx.Done():
				return nil
			}
		}
	})
}

func codeOf(err error) string {
	switch exitcode.Of(err) {
	case exitcode.NoSuch:
		return ipc.CodeNotFound
	case exitcode.Timeout:
		return ipc.CodeTimeout
	}
	return ipc.CodeInternal
}

// ListNames lists agent names for a class filter ("" all, "ocf",
// "ocf:heartbeat", "lsb", …).
func ListNames(ctx context.Context, r *agents.Runner, a AgentsArgs) ([]string, error) {
	class := lrm.Class(a.Class)
	if class != "" {
		known := false
		for _, k := range lrm.Classes {
			known = known || k == class
		}
		if !known {
			return nil, ipc.Errorf(ipc.CodeBadRequest, exitcode.InvalidParam, "unknown class %q (known: ocf, lsb, heartbeat, systemd, service, stonith)", a.Class)
		}
	}
	list, err := r.List(ctx, class, a.Provider)
	if err != nil {
		return nil, ipc.Errorf(ipc.CodeNotFound, exitcode.NoSuch, "%v", err)
	}
	out := make([]string, 0, len(list))
	for _, ag := range list {
		out = append(out, ag.String())
	}
	return out, nil
}

// ResourceList is the status reply, printable for people.
type ResourceList []Resource

// Describe renders one result in a line.
func Describe(r *lrm.Result) string {
	s := fmt.Sprintf("%-10s call=%-4d rc=%d (%s)", lrm.HistoryKey(r.Action, r.Interval), r.CallID, int(r.RC), r.RCName)
	if r.Status != lrm.StatusDone {
		s += " status=" + r.StatusName
	}
	if !r.Start.IsZero() {
		s += fmt.Sprintf(" started=%s took=%s", r.Start.Format(time.RFC3339), r.Duration.Round(time.Millisecond))
	}
	if r.ExitReason != "" {
		s += fmt.Sprintf(" reason=%q", r.ExitReason)
	}
	return s
}
