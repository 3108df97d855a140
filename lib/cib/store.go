package cib

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/linux-ha-go/ha/lib/exitcode"
)

// Store is a node's own copy of the CIB: $statedir/crm/cib.xml with its
// digest in cib.xml.sig, and numbered backups cib-N.raw (+ .sig) whose
// next number is kept in cib.last, as Pacemaker keeps
// /var/lib/pacemaker/cib. A cib.xml from Pacemaker is read as is and
// ours can be read by Pacemaker.
type Store struct {
	Dir string // $statedir/crm
	// Keep bounds the number of backups (default 100, Pacemaker's).
	Keep int
	// Now stamps cib-last-written; time.Now when nil.
	Now func() time.Time
}

// DefaultKeep is the number of backups kept.
const DefaultKeep = 100

// ErrDigest is a cib.xml whose digest does not match cib.xml.sig.
var ErrDigest = errors.New("digest mismatch")

// Path returns the path of cib.xml.
func (s *Store) Path() string { return filepath.Join(s.Dir, "cib.xml") }

func (s *Store) keep() int {
	if s.Keep > 0 {
		return s.Keep
	}
	return DefaultKeep
}

// Load reads cib.xml and checks it against cib.xml.sig. A missing
// cib.xml returns an error matching fs.ErrNotExist; a missing .sig is
// accepted (a hand-made first CIB); a mismatch is refused with a hint
// that says how to recover.
func (s *Store) Load() (*CIB, error) {
	p := s.Path()
	c, err := ParseFile(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, exitcode.Wrap(exitcode.Config, err, s.recoverHint())
	}
	sig, err := os.ReadFile(p + ".sig")
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, exitcode.Wrap(exitcode.NoInput, err, "")
	}
	want := strings.TrimSpace(string(sig))
	if got := c.Digest(); !strings.EqualFold(got, want) {
		return nil, exitcode.Wrap(exitcode.Digest,
			fmt.Errorf("%s: %w: the file's digest is %s but %s.sig says %s; it was edited by hand or damaged", p, ErrDigest, got, p, want),
			s.recoverHint())
	}
	return c, nil
}

func (s *Store) recoverHint() string {
	h := []string{
		"to keep the edited file: check it with 'hb-verify -x " + s.Path() + "', then remove " + s.Path() + ".sig",
	}
	if b := s.LastBackup(); b != "" {
		h = append(h, "to go back to the last good copy: cp "+b+" "+s.Path()+" && cp "+b+".sig "+s.Path()+".sig")
	}
	h = append(h, "or start this node empty and let it take the CIB from its peers: move "+s.Path()+" away")
	return strings.Join(h, "\n")
}

// LastBackup returns the newest backup's path, or "".
func (s *Store) LastBackup() string {
	seq := s.readSeq()
	for i := 0; i < s.keep(); i++ {
		n := (seq - 1 - i + s.keep()) % s.keep()
		p := s.backupPath(n)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func (s *Store) backupPath(n int) string { return filepath.Join(s.Dir, fmt.Sprintf("cib-%d.raw", n)) }

func (s *Store) readSeq() int {
	b, err := os.ReadFile(filepath.Join(s.Dir, "cib.last"))
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 || n >= s.keep() {
		return 0
	}
	return n
}

// Save writes c as the node's CIB: num_updates 0, cib-last-written
// stamped, the status section left out (it is rebuilt at start), the
// previous file kept as the next numbered backup, the new file and its
// digest written atomically and the directory synced. c itself is not
// changed.
func (s *Store) Save(c *CIB) error {
	if err := os.MkdirAll(s.Dir, 0o750); err != nil {
		return err
	}
	out := c.Copy()
	SetAttr(out.Root(), "num_updates", "0")
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	out.SetLastWritten(now())
	if st := Child(out.Root(), "status"); st != nil {
		out.Root().RemoveChild(st)
	}
	p := s.Path()
	if _, err := os.Stat(p); err == nil {
		if err := s.backup(); err != nil {
			return err
		}
	}
	if err := WriteFileAtomic(p, out.Bytes(), 0o600); err != nil {
		return err
	}
	return WriteFileAtomic(p+".sig", []byte(out.Digest()), 0o600)
}

func (s *Store) backup() error {
	seq := s.readSeq()
	bp := s.backupPath(seq)
	p := s.Path()
	for _, f := range []string{bp, bp + ".sig"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.Link(p, bp); err != nil {
		return fmt.Errorf("keep the previous CIB as %s: %w", bp, err)
	}
	if err := os.Link(p+".sig", bp+".sig"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("keep the previous digest as %s.sig: %w", bp, err)
	}
	next := (seq + 1) % s.keep()
	return WriteFileAtomic(filepath.Join(s.Dir, "cib.last"), []byte(strconv.Itoa(next)), 0o640)
}
