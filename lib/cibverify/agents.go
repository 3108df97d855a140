package cibverify

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// LocalAgents finds agents on this node's file system and reads OCF
// meta-data by running the agent, as the local resource manager does.
type LocalAgents struct {
	OCFRoot string // default /usr/lib/ocf (OCF_ROOT)
	Confdir string // heartbeat resource.d lives here (default /etc/ha.d)
	InitDir string // default /etc/init.d
	Timeout time.Duration

	mu    sync.Mutex
	cache map[string]metaResult // meta-data per class:provider:type, read once
}

type metaResult struct {
	params []Param
	err    error
}

func (a *LocalAgents) ocfRoot() string {
	if a.OCFRoot != "" {
		return a.OCFRoot
	}
	if r := os.Getenv("OCF_ROOT"); r != "" {
		return r
	}
	return "/usr/lib/ocf"
}

func (a *LocalAgents) path(class, provider, typ string) string {
	switch class {
	case "ocf":
		return filepath.Join(a.ocfRoot(), "resource.d", provider, typ)
	case "lsb":
		d := a.InitDir
		if d == "" {
			d = "/etc/init.d"
		}
		return filepath.Join(d, typ)
	case "heartbeat":
		d := a.Confdir
		if d == "" {
			d = "/etc/ha.d"
		}
		return filepath.Join(d, "resource.d", typ)
	}
	return ""
}

// Exists reports whether an ocf, lsb or heartbeat agent is installed;
// other classes (systemd, service, stonith) are assumed present.
func (a *LocalAgents) Exists(class, provider, typ string) (bool, error) {
	p := a.path(class, provider, typ)
	if p == "" {
		return true, nil
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return st.Mode()&0o111 != 0, nil
}

type metaData struct {
	Params []struct {
		Name     string `xml:"name,attr"`
		Required string `xml:"required,attr"`
	} `xml:"parameters>parameter"`
}

// Params runs "AGENT meta-data" for OCF agents; other classes have no
// declared parameters.
func (a *LocalAgents) Params(class, provider, typ string) ([]Param, error) {
	if class != "ocf" {
		return nil, nil
	}
	key := class + ":" + provider + ":" + typ
	a.mu.Lock()
	defer a.mu.Unlock()
	if r, ok := a.cache[key]; ok {
		return r.params, r.err
	}
	ps, err := a.metaData(class, provider, typ)
	if a.cache == nil {
		a.cache = map[string]metaResult{}
	}
	a.cache[key] = metaResult{ps, err}
	return ps, err
}

func (a *LocalAgents) metaData(class, provider, typ string) ([]Param, error) {
	t := a.Timeout
	if t == 0 {
		t = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), t)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.path(class, provider, typ), "meta-data")
	cmd.Env = append(os.Environ(), "OCF_ROOT="+a.ocfRoot(), "OCF_RESOURCE_INSTANCE=hb-verify")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("meta-data: %w", err)
	}
	var md metaData
	if err := xml.Unmarshal(out, &md); err != nil {
		return nil, fmt.Errorf("meta-data is not valid XML: %w", err)
	}
	var ps []Param
	for _, p := range md.Params {
		ps = append(ps, Param{Name: p.Name, Required: p.Required == "1" || p.Required == "true"})
	}
	return ps, nil
}
