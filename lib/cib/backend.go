package cib

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
	"golang.org/x/sys/unix"

	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/ipc"
)

// Result is what a backend returns for a request.
type Result struct {
	// Answer is the XML answer of a query (or of a refused create).
	Answer string `json:"answer,omitempty"`
	// Version is the CIB's version after the request.
	Version Version `json:"version"`
	// Changed is true when the document was rewritten.
	Changed bool `json:"changed,omitempty"`
}

// Backend is where a CIB lives. The file backend (CIB_file=) and the
// live cluster (hb-crmd's socket) implement it, so every command of
// hb-cibadmin and hb-verify runs the same code on either.
type Backend interface {
	// Do performs one request. A refused change leaves the CIB as it was.
	Do(ctx context.Context, r *Request) (*Result, error)
	// Load returns the whole current document (for hb-verify -L, --diff).
	Load(ctx context.Context) (*CIB, error)
}

// Validator checks a document before it is written; an error refuses
// the change whole.
type Validator func(*CIB) error

// FileBackend works on one cib.xml with no daemon, as Pacemaker's tools
// do with CIB_file: the whole document (status included) is read,
// changed, validated and written back atomically. No digest file is
// kept and cib-last-written is not stamped, as with cibadmin.
type FileBackend struct {
	Path     string
	Validate Validator
}

// Load reads and parses the file, adding an empty <status> as Pacemaker
// does when it is missing.
func (f *FileBackend) Load(ctx context.Context) (*CIB, error) {
	c, err := ParseFile(f.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, exitcode.Wrap(exitcode.NoInput, err, "CIB_file names a file that does not exist; give the path of a cib.xml")
		}
		var se *SyntaxError
		if errors.As(err, &se) {
			return nil, exitcode.Wrap(exitcode.Config, err, "fix the XML, or restore a backup of the file")
		}
		return nil, exitcode.Wrap(exitcode.NoInput, err, "")
	}
	if Child(c.Root(), "status") == nil {
		c.Root().CreateElement("status")
	}
	return c, nil
}

// Do performs r under an exclusive lock of the file's directory.
func (f *FileBackend) Do(ctx context.Context, r *Request) (*Result, error) {
	unlock, err := lockDir(filepath.Dir(f.Path), r.Op != Query)
	if err != nil {
		return nil, err
	}
	defer unlock()
	cur, err := f.Load(ctx)
	if err != nil {
		return nil, err
	}
	next, answer, err := Perform(cur, r)
	res := &Result{Version: cur.Version()}
	if answer != nil {
		res.Answer = ElementString(answer)
	}
	if err != nil {
		return res, err
	}
	if next == nil || Equal(cur.Root(), next.Root()) {
		return res, nil
	}
	if f.Validate != nil {
		if err := f.Validate(next); err != nil {
			return res, err
		}
	}
	// Keep the file's mode, and write through a symbolic link to its target.
	path, mode := f.Path, os.FileMode(0o644)
	if real, err := filepath.EvalSymlinks(f.Path); err == nil {
		path = real
	}
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	if err := WriteFileAtomic(path, next.Bytes(), mode); err != nil {
		return res, exitcode.Wrap(exitcode.CantCreate, err, "check that the directory is writable")
	}
	res.Version, res.Changed = next.Version(), true
	return res, nil
}

// WriteFileAtomic writes data to path through a temporary file that is
// synced and renamed over path, then syncs the directory, so that a
// crash leaves either the old or the new file.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := renameio.WriteFile(path, data, mode); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func lockDir(dir string, exclusive bool) (func(), error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, exitcode.Wrap(exitcode.NoInput, err, "")
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if err := unix.Flock(int(d.Fd()), how); err != nil {
		d.Close()
		return nil, exitcode.Wrap(exitcode.OSErr, fmt.Errorf("lock %s: %w", dir, err), "")
	}
	return func() { d.Close() }, nil
}

// SocketName is hb-crmd's socket in the rundir.
const SocketName = "crmd.sock"

// SocketBackend sends requests to hb-crmd, which applies them to the
// live CIB with the same Perform and validation and replicates them.
// Operations: "cib.do" (args Request, result Result) and "cib.load"
// (result {"xml": "..."}).
type SocketBackend struct {
	Path string
}

func (s *SocketBackend) dial(ctx context.Context) (*ipc.Client, error) {
	c, err := ipc.Dial(ctx, "hb-crmd", s.Path)
	if err != nil {
		return nil, exitcode.Wrap(exitcode.Unavailable, err,
			"start hb-crmd, or set CIB_file=/path/to/cib.xml to work on a file")
	}
	return c, nil
}

// Do sends one request.
func (s *SocketBackend) Do(ctx context.Context, r *Request) (*Result, error) {
	c, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var res Result
	if err := c.Call(ctx, "cib.do", r, &res); err != nil {
		return nil, ipc.ToExit(err)
	}
	return &res, nil
}

// Load fetches the whole live CIB.
func (s *SocketBackend) Load(ctx context.Context) (*CIB, error) {
	c, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var res struct {
		XML string `json:"xml"`
	}
	if err := c.Call(ctx, "cib.load", nil, &res); err != nil {
		return nil, ipc.ToExit(err)
	}
	return Parse("live CIB", []byte(res.XML))
}
