package ipc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/linux-ha-go/ha/lib/exitcode"
)

// Cred is the identity of a connected client, from SO_PEERCRED.
type Cred struct {
	PID int32
	UID uint32
	GID uint32
}

// Call is one request as a handler sees it.
type Call struct {
	Op   string
	Cred Cred
	args json.RawMessage
}

// Decode reads the request's arguments into v; no arguments leave v as is.
func (c *Call) Decode(v any) error {
	if len(c.args) == 0 || string(c.args) == "null" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(c.args)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errorf(CodeBadRequest, exitcode.InvalidParam, "%s: bad arguments: %v", c.Op, err)
	}
	return nil
}

// HandlerFunc answers one request with one result.
type HandlerFunc func(ctx context.Context, call *Call) (any, error)

// StreamFunc answers a subscription: it sends events until ctx ends (the
// client hung up or the server stops) or it returns.
type StreamFunc func(ctx context.Context, call *Call, send func(event any) error) error

// Server serves the protocol on a listener.
type Server struct {
	Log *slog.Logger
	// Authorize decides whether a peer may talk to the daemon. The
	// default, DefaultAuthorize, admits root, the daemon's own user and
	// members of the haclient group.
	Authorize func(Cred) error

	mu       sync.Mutex
	handlers map[string]HandlerFunc
	streams  map[string]StreamFunc
	conns    sync.WaitGroup
}

// NewServer returns a server with no operations.
func NewServer(log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{Log: log, Authorize: DefaultAuthorize,
		handlers: map[string]HandlerFunc{}, streams: map[string]StreamFunc{}}
}

// Handle registers a request/reply operation.
func (s *Server) Handle(op string, h HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[op] = h
}

// HandleStream registers a subscription operation.
func (s *Server) HandleStream(op string, h StreamFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streams[op] = h
}

// Ops lists the registered operations.
func (s *Server) Ops() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ops []string
	for op := range s.handlers {
		ops = append(ops, op)
	}
	for op := range s.streams {
		ops = append(ops, op)
	}
	return ops
}

// GroupName is the group whose members may use the daemons' sockets.
const GroupName = "haclient"

// Listen creates the socket at path: the directory is made if missing, a
// stale socket nobody answers on is removed, one a live daemon answers on
// is an error. The socket is mode 0660, group haclient where it exists.
func Listen(path string) (*net.UnixListener, error) {
	if err := os.MkdirAll(dirOf(path), 0o755); err != nil {
		return nil, exitcode.Wrap(exitcode.CantCreate, err, "check that the rundir is writable, or pick another with --rundir")
	}
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, exitcode.Wrap(exitcode.Exists,
				fmt.Errorf("socket %s is in use: another daemon is already running", path),
				"stop the running daemon first, or give this one another --rundir")
		}
		if err := os.Remove(path); err != nil {
			return nil, exitcode.Wrap(exitcode.CantCreate, err, "remove the stale socket by hand")
		}
	}
	old := unix.Umask(0o117)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	unix.Umask(old)
	if err != nil {
		return nil, exitcode.Wrap(exitcode.CantCreate, err, "check that the rundir is writable, or pick another with --rundir")
	}
	if g, err := user.LookupGroup(GroupName); err == nil {
		if gid, err := strconv.Atoi(g.Gid); err == nil {
			_ = os.Chown(path, -1, gid)
		}
	}
	_ = os.Chmod(path, 0o660)
	return ln, nil
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		return path[:i]
	}
	return "."
}

// DefaultAuthorize admits root, the daemon's own user, and members of the
// haclient group (primary or supplementary).
func DefaultAuthorize(c Cred) error {
	if c.UID == 0 || int(c.UID) == os.Geteuid() {
		return nil
	}
	if g, err := user.LookupGroup(GroupName); err == nil {
		gid, _ := strconv.Atoi(g.Gid)
		if int(c.GID) == gid || inSupplementary(c.PID, gid) {
			return nil
		}
	}
	return Errorf(CodeDenied, exitcode.InsufficientPriv,
		"permission denied for uid %d: only root, uid %d and group %s may use this socket", c.UID, os.Geteuid(), GroupName).
		WithHint("run as root, or add the user to the " + GroupName + " group")
}

func inSupplementary(pid int32, gid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Groups:"); ok {
			for _, f := range strings.Fields(rest) {
				if f == strconv.Itoa(gid) {
					return true
				}
			}
		}
	}
	return false
}

func peerCred(c *net.UnixConn) (Cred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return Cred{}, err
	}
	var cred *unix.Ucred
	var serr error
	err = raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return Cred{}, err
	}
	return Cred{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid}, nil
}

// Serve accepts connections until ctx ends, then closes the listener and
// waits for the connections to finish.
func (s *Server) Serve(ctx context.Context, ln *net.UnixListener) error {
	ln.SetUnlinkOnClose(true)
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	defer s.conns.Wait()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				s.Log.Warn("accept failed", "subsystem", "ipc", "err", err)
				continue
			}
			return err
		}
		s.conns.Add(1)
		go func() {
			defer s.conns.Done()
			s.serveConn(ctx, c)
		}()
	}
}

type connWriter struct {
	mu  sync.Mutex
	c   net.Conn
	enc *json.Encoder
}

func (w *connWriter) write(r *Reply) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.enc.Encode(r)
}

func (s *Server) serveConn(ctx context.Context, c *net.UnixConn) {
	defer c.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		c.Close()
	}()
	w := &connWriter{c: c, enc: json.NewEncoder(c)}
	cred, err := peerCred(c)
	if err != nil {
		s.Log.Warn("cannot read peer credentials", "subsystem", "ipc", "err", err)
		return
	}
	if s.Authorize != nil {
		if err := s.Authorize(cred); err != nil {
			s.Log.Warn("client refused", "subsystem", "ipc", "uid", cred.UID, "pid", cred.PID)
			_ = w.write(&Reply{Error: asError(err)})
			return
		}
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	var streams sync.WaitGroup
	defer streams.Wait()
	for sc.Scan() {
		var req Request
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			_ = w.write(&Reply{Error: Errorf(CodeBadRequest, exitcode.Protocol, "malformed request line: %v", err)})
			continue
		}
		call := &Call{Op: req.Op, Cred: cred, args: req.Args}
		s.mu.Lock()
		h, isCall := s.handlers[req.Op]
		st, isStream := s.streams[req.Op]
		s.mu.Unlock()
		switch {
		case isCall:
			res, err := h(ctx, call)
			rep := &Reply{ID: req.ID}
			if err != nil {
				rep.Error = asError(err)
			} else if rep.Result, err = json.Marshal(res); err != nil {
				rep.Error = asError(err)
			}
			if w.write(rep) != nil {
				return
			}
		case isStream:
			streams.Add(1)
			go func(id uint64) {
				defer streams.Done()
				err := st(ctx, call, func(ev any) error {
					b, err := json.Marshal(ev)
					if err != nil {
						return err
					}
					return w.write(&Reply{ID: id, Event: b})
				})
				rep := &Reply{ID: id, End: true}
				if err != nil && ctx.Err() == nil {
					rep.Error = asError(err)
				}
				_ = w.write(rep)
			}(req.ID)
		default:
			_ = w.write(&Reply{ID: req.ID, Error: Errorf(CodeUnknownOp, exitcode.Unimplemented, "unknown operation %q", req.Op)})
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
		_ = w.write(&Reply{Error: Errorf(CodeBadRequest, exitcode.Protocol, "request too long or unreadable: %v", err)})
	}
	cancel()
}
