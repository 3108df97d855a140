package cibverify

import (
	"context"
	"sync"
	"time"

	"github.com/linux-ha-go/ha/lib/lrm"
	"github.com/linux-ha-go/ha/lib/lrm/lrmd"
)

// LrmdAgents reads OCF meta-data through the node's running hb-lrmd (the
// issue's "through hb-lrmd's meta-data where available"), so hb-verify
// sees agents exactly as the resource manager runs them. Existence and
// anything hb-lrmd cannot answer fall back to Local.
type LrmdAgents struct {
	Client  *lrmd.Client
	Local   *LocalAgents
	Timeout time.Duration

	mu    sync.Mutex
	cache map[string]metaResult
}

// DialAgents returns hb-lrmd-backed agents when hb-lrmd answers in
// rundir, else the local look-up alone.
func DialAgents(rundir string, local *LocalAgents) (Agents, func()) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := lrmd.Dial(ctx, rundir)
	if err != nil {
		return local, func() {}
	}
	return &LrmdAgents{Client: c, Local: local}, func() { c.Close() }
}

// Exists asks the local file system, as hb-lrmd itself would.
func (a *LrmdAgents) Exists(class, provider, typ string) (bool, error) {
	return a.Local.Exists(class, provider, typ)
}

// Params fetches the meta-data from hb-lrmd once per agent.
func (a *LrmdAgents) Params(class, provider, typ string) ([]Param, error) {
	if class != "ocf" {
		return nil, nil
	}
	key := class + ":" + provider + ":" + typ
	a.mu.Lock()
	defer a.mu.Unlock()
	if r, ok := a.cache[key]; ok {
		return r.params, r.err
	}
	t := a.Timeout
	if t == 0 {
		t = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), t)
	defer cancel()
	var ps []Param
	xml, err := a.Client.Metadata(ctx, lrm.Agent{Class: lrm.Class(class), Provider: provider, Type: typ})
	if err != nil {
		// hb-lrmd could not answer: read it locally instead
		ps, err = a.Local.Params(class, provider, typ)
	} else {
		var md *lrm.AgentMeta
		if md, err = lrm.ParseMetadata(xml); err == nil {
			for _, p := range md.Parameters {
				ps = append(ps, Param{Name: p.Name, Required: p.Required == "1" || p.Required == "true"})
			}
		}
	}
	if a.cache == nil {
		a.cache = map[string]metaResult{}
	}
	a.cache[key] = metaResult{ps, err}
	return ps, err
}
