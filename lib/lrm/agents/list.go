package agents

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/linux-ha-go/ha/lib/lrm"
)

// Providers lists the OCF providers (the directories under
// OCF_ROOT/resource.d).
func (r *Runner) Providers() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(r.Dirs.OCFRoot, "resource.d"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if st, err := os.Stat(filepath.Join(r.Dirs.OCFRoot, "resource.d", e.Name())); err == nil && st.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// executables lists the executable regular files of dir (not hidden).
func executables(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") || strings.HasSuffix(n, "~") || strings.HasSuffix(n, ".dpkg-old") {
			continue
		}
		p := filepath.Join(dir, n)
		st, err := os.Stat(p)
		if err != nil || !st.Mode().IsRegular() || unix.Access(p, unix.X_OK) != nil {
			continue
		}
		out = append(out, n)
	}
	return out
}

// lsbSkip are files of /etc/init.d that are not services.
var lsbSkip = map[string]bool{"rc": true, "rcS": true, "README": true, "skeleton": true, "functions": true, "halt": true, "reboot": true, "single": true, "killprocs": true, "sendsigs": true}

// List returns the agents of a class ("" for all), optionally of one OCF
// provider. Classes that cannot be listed here (systemd without systemd)
// are skipped when listing all, an error when asked for by name.
func (r *Runner) List(ctx context.Context, class lrm.Class, provider string) ([]lrm.Agent, error) {
	var out []lrm.Agent
	want := func(c lrm.Class) bool { return class == "" || class == c }
	if want(lrm.OCF) {
		provs, err := r.Providers()
		if err != nil && class == lrm.OCF {
			return nil, fmt.Errorf("cannot list OCF agents: %w", err)
		}
		for _, p := range provs {
			if provider != "" && p != provider {
				continue
			}
			for _, t := range executables(filepath.Join(r.Dirs.OCFRoot, "resource.d", p)) {
				out = append(out, lrm.Agent{Class: lrm.OCF, Provider: p, Type: t})
			}
		}
	}
	if want(lrm.LSB) {
		for _, t := range executables(r.Dirs.LSB) {
			if !lsbSkip[t] {
				out = append(out, lrm.Agent{Class: lrm.LSB, Type: t})
			}
		}
	}
	if want(lrm.Heartbeat) {
		seen := map[string]bool{}
		for _, d := range r.Dirs.Heartbeat {
			for _, t := range executables(d) {
				if !seen[t] && t != "hto-mapfuncs" { // heartbeat's shell library, not a script
					seen[t] = true
					out = append(out, lrm.Agent{Class: lrm.Heartbeat, Type: t})
				}
			}
		}
	}
	if want(lrm.Stonith) {
		seen := map[string]bool{}
		for _, d := range r.Dirs.Fence {
			for _, t := range executables(d) {
				if strings.HasPrefix(t, "fence_") && !seen[t] && t != "fence_legacy" {
					seen[t] = true
					out = append(out, lrm.Agent{Class: lrm.Stonith, Type: t})
				}
			}
		}
		if r.Dirs.StonithPlugins != "" {
			if ents, err := os.ReadDir(filepath.Join(r.Dirs.StonithPlugins, "stonith2")); err == nil {
				for _, e := range ents {
					if t, ok := strings.CutSuffix(e.Name(), ".so"); ok && t != "external" {
						out = append(out, lrm.Agent{Class: lrm.Stonith, Type: t})
					}
				}
			}
			for _, t := range executables(filepath.Join(r.Dirs.StonithPlugins, "external")) {
				out = append(out, lrm.Agent{Class: lrm.Stonith, Type: "external/" + t})
			}
		}
	}
	if want(lrm.Systemd) || class == lrm.Service {
		units, err := r.systemdAgents(ctx)
		if err != nil && class == lrm.Systemd {
			return nil, err
		}
		if class == lrm.Service {
			for _, t := range executables(r.Dirs.LSB) {
				if !lsbSkip[t] {
					out = append(out, lrm.Agent{Class: lrm.Service, Type: t})
				}
			}
			for _, u := range units {
				out = append(out, lrm.Agent{Class: lrm.Service, Type: u.Type})
			}
		} else {
			out = append(out, units...)
		}
	}
	if class == lrm.Service {
		seen := map[string]bool{}
		dedup := out[:0]
		for _, a := range out {
			if !seen[a.Type] {
				seen[a.Type] = true
				dedup = append(dedup, a)
			}
		}
		out = dedup
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Class != out[j].Class {
			return classOrder(out[i].Class) < classOrder(out[j].Class)
		}
		if out[i].Provider != out[j].Provider {
			return out[i].Provider < out[j].Provider
		}
		return out[i].Type < out[j].Type
	})
	return out, nil
}

func classOrder(c lrm.Class) int {
	for i, k := range lrm.Classes {
		if k == c {
			return i
		}
	}
	return len(lrm.Classes)
}
