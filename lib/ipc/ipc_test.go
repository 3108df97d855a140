package ipc

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/exitcode"
)

func startServer(t *testing.T) (string, *Server) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(nil)
	s.Handle("echo", func(ctx context.Context, c *Call) (any, error) {
		var a struct{ Text string }
		if err := c.Decode(&a); err != nil {
			return nil, err
		}
		return map[string]any{"text": a.Text, "uid": c.Cred.UID}, nil
	})
	s.Handle("fail", func(ctx context.Context, c *Call) (any, error) {
		return nil, Errorf(CodeNotFound, exitcode.NoSuch, "no node %q", "nodeX").WithHint("check hb-beat nodes")
	})
	s.HandleStream("count", func(ctx context.Context, c *Call, send func(any) error) error {
		for i := 0; i < 3; i++ {
			if err := send(i); err != nil {
				return err
			}
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return path, s
}

func TestCallAndErrors(t *testing.T) {
	path, _ := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, "testd", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var res struct {
		Text string
		UID  uint32
	}
	if err := c.Call(ctx, "echo", map[string]string{"text": "hi"}, &res); err != nil {
		t.Fatal(err)
	}
	if res.Text != "hi" || res.UID != uint32(os.Getuid()) {
		t.Fatalf("echo = %+v", res)
	}
	err = c.Call(ctx, "fail", nil, nil)
	if !IsCode(err, CodeNotFound) {
		t.Fatalf("fail: %v", err)
	}
	if got := exitcode.Of(ToExit(err)); got != exitcode.NoSuch {
		t.Fatalf("exit code %d", got)
	}
	if h := exitcode.HintOf(ToExit(err)); h != "check hb-beat nodes" {
		t.Fatalf("hint %q", h)
	}
	if err := c.Call(ctx, "nope", nil, nil); !IsCode(err, CodeUnknownOp) {
		t.Fatalf("unknown op: %v", err)
	}
	if err := c.Call(ctx, "echo", map[string]string{"bogus": "x"}, nil); !IsCode(err, CodeBadRequest) {
		t.Fatalf("bad args: %v", err)
	}
	// the connection still works after errors
	if err := c.Call(ctx, "echo", map[string]string{"text": "again"}, &res); err != nil || res.Text != "again" {
		t.Fatalf("after errors: %v %+v", err, res)
	}
}

func TestSubscribe(t *testing.T) {
	path, _ := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, "testd", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got []int
	err = c.Subscribe(ctx, "count", nil, func(ev json.RawMessage) error {
		var i int
		if err := json.Unmarshal(ev, &i); err != nil {
			return err
		}
		got = append(got, i)
		return nil
	})
	if err != nil || len(got) != 3 || got[2] != 2 {
		t.Fatalf("subscribe: %v %v", err, got)
	}
}

func TestSocketModeAndNotRunning(t *testing.T) {
	path, _ := startServer(t)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode %o", st.Mode().Perm())
	}
	if _, err := Listen(path); exitcode.Of(err) != exitcode.Exists {
		t.Fatalf("second Listen on a live socket: %v", err)
	}
	_, err = Dial(context.Background(), "hb-beat", filepath.Join(t.TempDir(), "none.sock"))
	if exitcode.Of(err) != exitcode.NotRunning {
		t.Fatalf("dial missing: %v", err)
	}
	if !errors.Is(err, err) || err.Error() == "" {
		t.Fatal("empty error")
	}
}

func TestDenied(t *testing.T) {
	path, s := startServer(t)
	s.Authorize = func(c Cred) error {
		return Errorf(CodeDenied, exitcode.InsufficientPriv, "permission denied for uid %d", c.UID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, "testd", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Call(ctx, "echo", nil, nil); !IsCode(err, CodeDenied) {
		t.Fatalf("want denied, got %v", err)
	}
}
