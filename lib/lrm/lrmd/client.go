package lrmd

import (
	"context"
	"encoding/json"
	"path/filepath"
	"time"

	"github.com/linux-ha-go/ha/lib/ipc"
	"github.com/linux-ha-go/ha/lib/lrm"
)

// Client is a typed client of hb-lrmd's socket, for hb-crmd and the
// command line. Calls on one Client are serialised; a subscription
// needs a Client of its own.
type Client struct {
	c *ipc.Client
}

// Dial connects to hb-lrmd's socket in rundir.
func Dial(ctx context.Context, rundir string) (*Client, error) {
	c, err := ipc.Dial(ctx, Daemon, filepath.Join(rundir, SocketName))
	if err != nil {
		return nil, err
	}
	return &Client{c: c}, nil
}

// Close hangs up.
func (c *Client) Close() error { return c.c.Close() }

// Register registers a resource (again: updates its parameters).
func (c *Client) Register(ctx context.Context, id string, a lrm.Agent, params map[string]string) error {
	return c.c.Call(ctx, OpRegister, RegisterArgs{ID: id, Agent: a.String(), Params: params}, nil)
}

// Unregister forgets a resource, cancelling its recurring operations.
func (c *Client) Unregister(ctx context.Context, id string) error {
	return c.c.Call(ctx, OpUnregister, RscArgs{ID: id}, nil)
}

// Exec runs an operation (see ExecRequest).
func (c *Client) Exec(ctx context.Context, req ExecRequest) (*lrm.Result, error) {
	var res lrm.Result
	if err := c.c.Call(ctx, OpExec, req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Cancel cancels a recurring operation.
func (c *Client) Cancel(ctx context.Context, id, action string, interval time.Duration) error {
	return c.c.Call(ctx, OpCancel, CancelArgs{ID: id, Action: action, Interval: interval}, nil)
}

// Resources lists the registered resources with their history.
func (c *Client) Resources(ctx context.Context) ([]Resource, error) {
	var rs []Resource
	err := c.c.Call(ctx, OpResources, nil, &rs)
	return rs, err
}

// Metadata fetches an agent's meta-data.
func (c *Client) Metadata(ctx context.Context, a lrm.Agent) (string, error) {
	var rep MetadataReply
	err := c.c.Call(ctx, OpMetadata, AgentArgs{Agent: a.String()}, &rep)
	return rep.XML, err
}

// Agents lists agent names ("" class for all).
func (c *Client) Agents(ctx context.Context, class, provider string) ([]string, error) {
	var out []string
	err := c.c.Call(ctx, OpAgents, AgentsArgs{Class: class, Provider: provider}, &out)
	return out, err
}

// Subscribe calls fn for every event, starting with {Type: "subscribed"}
// once the subscription is live, until fn returns an error, ctx ends or
// the daemon ends the stream. Use a Client of its own.
func (c *Client) Subscribe(ctx context.Context, fn func(Event) error) error {
	return c.c.Subscribe(ctx, OpSubscribe, nil, func(raw json.RawMessage) error {
		var ev Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			return err
		}
		return fn(ev)
	})
}
