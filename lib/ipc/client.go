package ipc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"

	"github.com/linux-ha-go/ha/lib/exitcode"
)

// Client is a connection to one daemon. Calls on one client are
// serialised; use one client per subscription.
type Client struct {
	mu     sync.Mutex
	conn   net.Conn
	sc     *bufio.Scanner
	enc    *json.Encoder
	nextID uint64
	daemon string
	path   string
}

// Dial connects to a daemon's socket. daemon names it in errors
// ("hb-beat"). When nothing listens, the error says so in one line, names
// the socket and carries exit code "not running".
func Dial(ctx context.Context, daemon, path string) (*Client, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, exitcode.Wrap(exitcode.NotRunning,
				fmt.Errorf("%s is not running: nothing answers on %s", daemon, path),
				fmt.Sprintf("start it (systemctl start %s, or %s run), or point --rundir at its directory", daemon, daemon))
		}
		if errors.Is(err, os.ErrPermission) {
			return nil, exitcode.Wrap(exitcode.InsufficientPriv,
				fmt.Errorf("cannot connect to %s on %s: %w", daemon, path, err),
				"run as root or as a member of the haclient group")
		}
		return nil, exitcode.Wrap(exitcode.Disconnect, fmt.Errorf("cannot connect to %s on %s: %w", daemon, path, err), "")
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	return &Client{conn: c, sc: sc, enc: json.NewEncoder(c), daemon: daemon, path: path}, nil
}

// Close hangs up.
func (c *Client) Close() error { return c.conn.Close() }

func (c *Client) send(op string, args any) (uint64, error) {
	c.nextID++
	req := Request{ID: c.nextID, Op: op}
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return 0, err
		}
		req.Args = b
	}
	if err := c.enc.Encode(&req); err != nil {
		// The server may have refused us and hung up before reading:
		// its reason is waiting to be read.
		if r, rerr := c.read(); rerr == nil && r.Error != nil {
			return 0, r.Error
		}
		return 0, c.lost(err)
	}
	return req.ID, nil
}

func (c *Client) read() (*Reply, error) {
	if !c.sc.Scan() {
		err := c.sc.Err()
		if err == nil {
			err = errors.New("connection closed")
		}
		return nil, c.lost(err)
	}
	var r Reply
	if err := json.Unmarshal(c.sc.Bytes(), &r); err != nil {
		return nil, exitcode.Wrap(exitcode.Protocol, fmt.Errorf("%s sent a malformed reply: %v", c.daemon, err), "")
	}
	return &r, nil
}

func (c *Client) lost(err error) error {
	return exitcode.Wrap(exitcode.Disconnect, fmt.Errorf("lost connection to %s on %s: %v", c.daemon, c.path, err), "")
}

// Call sends one request and decodes its result into result (may be nil).
// A daemon-side error comes back as *Error.
func (c *Client) Call(ctx context.Context, op string, args, result any) error {
	return c.exchange(ctx, op, args, func(r *Reply) (bool, error) {
		if result != nil && len(r.Result) > 0 {
			return true, json.Unmarshal(r.Result, result)
		}
		return true, nil
	})
}

// Subscribe sends a subscription request and calls fn for every event
// until fn returns an error, the server ends the stream, or ctx ends. The
// client should not be used for anything else afterwards.
func (c *Client) Subscribe(ctx context.Context, op string, args any, fn func(event json.RawMessage) error) error {
	return c.exchange(ctx, op, args, func(r *Reply) (bool, error) {
		if r.End {
			return true, nil
		}
		return false, fn(r.Event)
	})
}

// exchange sends one request, then hands each reply to it to handle
// (error replies excepted) until handle says it is done or fails.
func (c *Client) exchange(ctx context.Context, op string, args any, handle func(*Reply) (done bool, err error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { c.conn.Close() })
	defer stop()
	id, err := c.send(op, args)
	if err != nil {
		return ctxErr(ctx, err)
	}
	for {
		r, err := c.read()
		if err != nil {
			return ctxErr(ctx, err)
		}
		if r.ID != id && r.ID != 0 {
			continue
		}
		if r.Error != nil {
			return r.Error
		}
		if done, err := handle(r); done || err != nil {
			return err
		}
	}
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return exitcode.Wrap(exitcode.Timeout, errors.New("timed out waiting for the daemon"), "")
		}
		return ctx.Err()
	}
	return err
}
