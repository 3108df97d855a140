package cib

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/ipc"
)

// The live path: requests sent through SocketBackend to a server that
// answers them with a FileBackend give what the FileBackend gives
// directly.
func TestSocketBackend(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cib.xml")
	if err := os.WriteFile(file, []byte(unknownDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, SocketName)
	ln, err := ipc.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	s := ipc.NewServer(nil)
	Register(s, &FileBackend{Path: file})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { s.Serve(ctx, ln); close(done) }()
	defer func() { cancel(); <-done }()

	live := &SocketBackend{Path: sock}
	res, err := live.Do(ctx, &Request{Op: Modify, Input: `<node id="1" uname="a" description="live"/>`})
	if err != nil || !res.Changed || res.Version != (Version{0, 4, 0}) {
		t.Fatalf("modify: %+v %v", res, err)
	}
	res, err = live.Do(ctx, &Request{Op: Query, Section: "nodes"})
	if err != nil || !strings.Contains(res.Answer, `description="live"`) {
		t.Fatalf("query: %+v %v", res, err)
	}
	_, err = live.Do(ctx, &Request{Op: Create, Section: "nodes", Input: `<node id="1" uname="a"/>`})
	if exitcode.Of(err) != exitcode.Exists || exitcode.HintOf(err) == "" {
		t.Fatalf("create existing: %v", err)
	}
	doc, err := live.Load(ctx)
	if err != nil || doc.Version() != (Version{0, 4, 0}) {
		t.Fatalf("load: %v", err)
	}
	_, err = (&SocketBackend{Path: filepath.Join(dir, "none.sock")}).Do(ctx, &Request{Op: Query})
	if exitcode.Of(err) != exitcode.Unavailable || !strings.Contains(exitcode.HintOf(err), "CIB_file") {
		t.Fatalf("no daemon: %v / %q", err, exitcode.HintOf(err))
	}
}

// A refused change leaves the file as it was.
func TestFileBackendRefuses(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cib.xml")
	os.WriteFile(file, []byte(unknownDoc), 0o644)
	before, _ := os.ReadFile(file)
	be := &FileBackend{Path: file, Validate: func(c *CIB) error {
		if len(Child(Child(c.Root(), "configuration"), "resources").ChildElements()) > 1 {
			return exitcode.New(exitcode.Config, "too many resources")
		}
		return nil
	}}
	_, err := be.Do(context.Background(), &Request{Op: Create, Section: "resources", Input: `<primitive id="b" class="lsb" type="x"/>`})
	if exitcode.Of(err) != exitcode.Config {
		t.Fatalf("got %v", err)
	}
	after, _ := os.ReadFile(file)
	if string(before) != string(after) {
		t.Fatal("file changed by a refused request")
	}
}

// Writing keeps the file's mode and goes through a symbolic link.
func TestFileBackendKeepsModeAndLink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.xml")
	os.WriteFile(real, []byte(unknownDoc), 0o640)
	link := filepath.Join(dir, "cib.xml")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	be := &FileBackend{Path: link}
	if _, err := be.Do(context.Background(), &Request{Op: Bump}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the link was replaced")
	}
	st, _ := os.Stat(real)
	if st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", st.Mode())
	}
	c, _ := ParseFile(real)
	if c.Version().Epoch != 4 {
		t.Errorf("epoch %d", c.Version().Epoch)
	}
}

// Concurrent writers on one file are serialised: no update is lost.
func TestFileBackendConcurrentIncrements(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cib.xml")
	os.WriteFile(file, []byte(opsDoc), 0o644)
	be := &FileBackend{Path: file}
	const n = 12
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := be.Do(context.Background(), &Request{Op: Modify, Input: `<nvpair id="n" value="value++"/>`})
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	c, err := ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := c.XPath("//nvpair[@id='n']")
	if v := Attr(got[0], "value"); v != "17" {
		t.Fatalf("value %s after %d increments of 5, want 17", v, n)
	}
	if c.Version().Epoch != 1+n {
		t.Fatalf("epoch %d", c.Version().Epoch)
	}
}
