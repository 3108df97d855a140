package adm

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/api"
	"github.com/linux-ha-go/ha/lib/ipc"
)

const twoNodes = `resource r0 {
	net { protocol C; }
	on alice { device /dev/drbd0; disk /dev/sdb1; meta-disk internal; address 10.0.0.1:7789; }
	on bob { device /dev/drbd0; disk /dev/sdb1; meta-disk internal; address 10.0.0.2:7789; }
}
`

func setup(t *testing.T) (*Options, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	f := filepath.Join(dir, "drbd.conf")
	if err := os.WriteFile(f, []byte(twoNodes), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	return &Options{
		ConfigFile: f, Rundir: filepath.Join(dir, "run"), Node: "alice", NoTTY: true,
		Stdout: &out, Stderr: &errb,
		HaveIP: func(string, string) bool { return true },
	}, &out, &errb
}

// fakeGodrbd serves godrbd's socket: it records requests and answers
// with answer(op).
type fakeGodrbd struct {
	mu   sync.Mutex
	reqs []api.Request
}

func startFake(t *testing.T, rundir string, answer func(req *api.Request) (any, error)) *fakeGodrbd {
	t.Helper()
	os.MkdirAll(rundir, 0o755)
	ln, err := ipc.Listen(filepath.Join(rundir, api.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeGodrbd{}
	s := ipc.NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, op := range []string{api.OpPrimary, api.OpRole, api.OpNewResource, api.OpNewMinor, api.OpApplyAL, api.OpAttach, api.OpConnect, api.OpDown, api.OpShow} {
		s.Handle(op, func(ctx context.Context, c *ipc.Call) (any, error) {
			var req api.Request
			if err := c.Decode(&req); err != nil {
				return nil, err
			}
			f.mu.Lock()
			f.reqs = append(f.reqs, req)
			f.mu.Unlock()
			return answer(&req)
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() {
		cancel()
		ln.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("fake godrbd did not stop")
		}
	})
	return f
}

func TestDryRunUp(t *testing.T) {
	o, out, errb := setup(t)
	o.DryRun = 1
	err := Run(context.Background(), o, "up", []string{"r0"}, nil)
	if code, _ := CodeOf(err); err != nil && code != 0 {
		t.Fatalf("up: %v (%s)", err, errb)
	}
	want := `godrbd new-resource r0
godrbd new-minor r0 0 0
godrbd apply-al 0 /dev/sdb1 internal
godrbd attach 0 /dev/sdb1 /dev/sdb1 internal
godrbd connect r0 ipv4:10.0.0.1:7789 ipv4:10.0.0.2:7789 --protocol=C
`
	if out.String() != want {
		t.Errorf("dry run:\n%s\nwant:\n%s", out, want)
	}
}

func TestNotRunning(t *testing.T) {
	o, _, _ := setup(t)
	err := Run(context.Background(), o, "primary", []string{"r0"}, nil)
	if err == nil {
		t.Fatal("primary without godrbd succeeded")
	}
	if !strings.Contains(err.Error(), "godrbd is not running") || !strings.Contains(err.Error(), filepath.Join(o.Rundir, "godrbd.sock")) {
		t.Errorf("error = %v", err)
	}
}

func TestRefusal(t *testing.T) {
	o, out, errb := setup(t)
	startFake(t, o.Rundir, func(req *api.Request) (any, error) {
		switch req.Op {
		case api.OpPrimary:
			if _, force := req.Flag("force"); force {
				return api.Reply{}, nil
			}
			return nil, api.StateRefusal(req.Args[0], api.SSNoUpToDateDisk).IPC()
		case api.OpRole:
			return api.Reply{Text: "Secondary/Unknown"}, nil
		}
		return api.Reply{}, nil
	})
	err := Run(context.Background(), o, "primary", []string{"r0"}, nil)
	code, ok := CodeOf(err)
	if !ok || code != 17 {
		t.Fatalf("primary: err %v code %d", err, code)
	}
	wantErr := "0: State change failed: (-2) Need access to UpToDate data\nCommand 'godrbd primary 0' terminated with exit code 17\n"
	if errb.String() != wantErr {
		t.Errorf("stderr %q, want %q", errb, wantErr)
	}
	errb.Reset()
	if err := Run(context.Background(), o, "primary", []string{"r0"}, []api.Option{{Name: "force"}}); err != nil {
		t.Fatalf("primary --force: %v %s", err, errb)
	}
	if err := Run(context.Background(), o, "role", []string{"r0"}, nil); err != nil {
		t.Fatalf("role: %v", err)
	}
	if out.String() != "Secondary/Unknown\n" {
		t.Errorf("role printed %q", out)
	}
}

func TestUpSendsConfig(t *testing.T) {
	o, _, errb := setup(t)
	f := startFake(t, o.Rundir, func(req *api.Request) (any, error) { return api.Reply{}, nil })
	if err := Run(context.Background(), o, "up", []string{"r0"}, nil); err != nil {
		t.Fatalf("up: %v %s", err, errb)
	}
	var ops []string
	for _, r := range f.reqs {
		ops = append(ops, r.Op)
	}
	if got := strings.Join(ops, " "); got != "new-resource new-minor apply-al attach connect" {
		t.Fatalf("ops %s", got)
	}
	c := f.reqs[4].Config
	if c == nil || c.Local.Address != "10.0.0.1" || c.Peer.Address != "10.0.0.2" || c.Protocol != "C" || c.Volumes[0].Disk != "/dev/sdb1" || c.Volumes[0].Device != "/dev/drbd0" {
		t.Errorf("config sent: %+v", c)
	}
}

func TestUpFailureSkipsRest(t *testing.T) {
	o, _, errb := setup(t)
	startFake(t, o.Rundir, func(req *api.Request) (any, error) {
		if req.Op == api.OpAttach {
			return nil, api.Failure(req.Args[0], api.ErrMDInvalid).IPC()
		}
		return api.Reply{}, nil
	})
	err := Run(context.Background(), o, "up", []string{"r0"}, nil)
	if code, _ := CodeOf(err); code != 1 {
		t.Fatalf("up: %v", err)
	}
	for _, want := range []string{"0: Failure: (119) No valid meta-data signature found.", "connect r0: skipped due to earlier error"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb)
		}
	}
}

func TestLegacy(t *testing.T) {
	for in, want := range map[string]string{
		"-- --discard-my-data connect r0":           "connect --discard-my-data r0",
		"-d -- --overwrite-data-of-peer primary r0": "-d primary --force r0",
		"primary r0": "primary r0",
	} {
		if got := strings.Join(Legacy(strings.Fields(in)), " "); got != want {
			t.Errorf("Legacy(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRefusalRoundTrip(t *testing.T) {
	for _, code := range []int{-1, -2, -4, -12, -16, 127, 158} {
		r := &api.Refusal{Object: "0", Code: code}
		back := api.FromIPC(r.IPC())
		got, ok := back.(*api.Refusal)
		if !ok || got.Code != code || got.Error() != r.Error() {
			t.Errorf("code %d: got %#v", code, back)
		}
	}
	if c := api.StateRefusal("0", -2).ExitCode(); c != 17 {
		t.Errorf("-2 exit %d", c)
	}
}

func TestConnectWithoutPeer(t *testing.T) {
	o, _, errb := setup(t)
	os.WriteFile(o.ConfigFile, []byte(`resource r0 {
	on alice { device /dev/drbd0; disk /dev/sdb1; meta-disk internal; address 10.0.0.1:7789; }
}
`), 0o644)
	f := startFake(t, o.Rundir, func(req *api.Request) (any, error) { return api.Reply{}, nil })
	err := Run(context.Background(), o, "connect", []string{"r0"}, nil)
	if code, _ := CodeOf(err); code != 20 {
		t.Fatalf("connect: %v", err)
	}
	if !strings.Contains(errb.String(), "resource r0: cannot configure network without knowing my peer.") {
		t.Errorf("stderr: %s", errb)
	}
	errb.Reset()
	err = Run(context.Background(), o, "up", []string{"r0"}, nil)
	if code, _ := CodeOf(err); code != 1 {
		t.Fatalf("up: %v", err)
	}
	if len(f.reqs) != 4 {
		t.Errorf("up sent %d requests, want 4 (all but connect)", len(f.reqs))
	}
}

func TestResources(t *testing.T) {
	o, _, _ := setup(t)
	rs, err := Resources(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Name != "r0" || rs[0].Local.Address != "10.0.0.1" || rs[0].Peer.Address != "10.0.0.2" || rs[0].Volumes[0].Minor != 0 {
		t.Fatalf("resources: %+v", rs[0])
	}
	o.Node = "carol"
	if rs, err := Resources(o); err != nil || len(rs) != 0 {
		t.Fatalf("carol: %v %v", rs, err)
	}
}
