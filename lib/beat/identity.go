package beat

import (
	"crypto/rand"
	"crypto/sha1"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/renameio/v2"
)

// LoadUUID returns this node's 16-byte uuid: from statedir/hb_uuid,
// created at first start (uuidfrom file), or derived from the node name
// (uuidfrom nodename).
func LoadUUID(statedir, from, self string) ([]byte, error) {
	if from == "nodename" {
		h := sha1.Sum([]byte(self))
		return h[:16], nil
	}
	path := filepath.Join(statedir, "hb_uuid")
	b, err := os.ReadFile(path)
	if err == nil && len(b) == 16 {
		return b, nil
	}
	if err == nil {
		return nil, fmt.Errorf("%s: holds %d bytes, want 16: remove it to make a new uuid", path, len(b))
	}
	if !os.IsNotExist(err) {
		return nil, err
	}
	u := make([]byte, 16)
	if _, err := rand.Read(u); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(statedir, 0o755); err != nil {
		return nil, err
	}
	if err := writeSynced(path, u, 0o644); err != nil {
		return nil, err
	}
	return u, nil
}

// NextGeneration reads statedir/hb_generation, adds one and writes it
// back (heartbeat's hbgenmethod file); the first start uses the time.
// hbgenmethod time always uses the time.
func NextGeneration(statedir, method string, now time.Time) (uint64, error) {
	if method == "time" {
		return uint64(now.Unix()), nil
	}
	path := filepath.Join(statedir, "hb_generation")
	gen := uint64(now.Unix())
	if b, err := os.ReadFile(path); err == nil {
		g, perr := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if perr != nil {
			return 0, fmt.Errorf("%s: %q is not a generation number: remove the file to start again from the time", path, strings.TrimSpace(string(b)))
		}
		gen = g + 1
	} else if !os.IsNotExist(err) {
		return 0, err
	}
	if err := os.MkdirAll(statedir, 0o755); err != nil {
		return 0, err
	}
	if err := writeSynced(path, []byte(fmt.Sprintf("%15d\n", gen)), 0o644); err != nil {
		return 0, err
	}
	return gen, nil
}

// writeSynced writes a file atomically and fsyncs its directory.
func writeSynced(path string, data []byte, mode os.FileMode) error {
	if err := renameio.WriteFile(path, data, mode); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
