package conf

import (
	"os"
	"path"
	"sort"
)

// memFS is an in-memory Source: file name (absolute) → content.
type memFS map[string]string

func (m memFS) abs(name string) string {
	if path.IsAbs(name) {
		return path.Clean(name)
	}
	return path.Join("/etc", name)
}

func (m memFS) ReadFile(name string) ([]byte, error) {
	s, ok := m[m.abs(name)]
	if !ok {
		return nil, os.ErrNotExist
	}
	return []byte(s), nil
}

func (m memFS) Glob(pattern string) ([]string, error) {
	var out []string
	for k := range m {
		if ok, err := path.Match(pattern, k); err != nil {
			return nil, err
		} else if ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (m memFS) Canon(name string) string { return m.abs(name) }
func (m memFS) Real(name string) string  { return m.abs(name) }
