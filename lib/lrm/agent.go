// Package lrm holds the pure parts of hb-lrmd, the local resource manager:
// resource agent names, each agent class's contract (how arguments and
// parameters are passed, how exit codes and output are judged), operation
// results and their history. Nothing here starts a process or reads a
// clock; lib/lrm/proc runs processes, lib/lrm/agents speaks to each class,
// and lib/lrm/lrmd is the daemon's core.
package lrm

import (
	"fmt"
	"strings"
)

// Class is a resource agent class (Pacemaker calls it a standard).
type Class string

// The classes hb-lrmd runs.
const (
	OCF       Class = "ocf"
	LSB       Class = "lsb"
	Heartbeat Class = "heartbeat"
	Systemd   Class = "systemd"
	Stonith   Class = "stonith"
	// Service is Pacemaker's "service" class: an LSB init script when
	// one exists, else a systemd unit.
	Service Class = "service"
)

// Classes lists every class, in the order they are shown.
var Classes = []Class{OCF, LSB, Heartbeat, Systemd, Service, Stonith}

// Agent names one resource agent: ocf:heartbeat:IPaddr2, lsb:exim4,
// heartbeat:IPaddr2, systemd:sshd, stonith:fence_xvm.
type Agent struct {
	Class    Class  `json:"class"`
	Provider string `json:"provider,omitempty"`
	Type     string `json:"type"`
}

// String gives the agent's name as Pacemaker writes it.
func (a Agent) String() string {
	if a.Class == OCF {
		return fmt.Sprintf("%s:%s:%s", a.Class, a.Provider, a.Type)
	}
	return fmt.Sprintf("%s:%s", a.Class, a.Type)
}

// ParseAgent reads CLASS:PROVIDER:TYPE (ocf) or CLASS:TYPE (the others).
// A name with no class is an error that says how to write one.
func ParseAgent(s string) (Agent, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) < 2 {
		return Agent{}, fmt.Errorf("agent %q has no class: write CLASS:TYPE or ocf:PROVIDER:TYPE (e.g. ocf:heartbeat:Dummy, lsb:cron)", s)
	}
	c := Class(strings.ToLower(parts[0]))
	var a Agent
	switch c {
	case OCF:
		if len(parts) != 3 || parts[1] == "" {
			return Agent{}, fmt.Errorf("ocf agent %q needs a provider: write ocf:PROVIDER:TYPE (e.g. ocf:heartbeat:%s)", s, parts[len(parts)-1])
		}
		a = Agent{Class: OCF, Provider: parts[1], Type: parts[2]}
	case LSB, Heartbeat, Systemd, Stonith, Service:
		typ := strings.Join(parts[1:], ":")
		a = Agent{Class: c, Type: typ}
	default:
		return Agent{}, fmt.Errorf("agent %q: unknown class %q (known: ocf, lsb, heartbeat, systemd, service, stonith)", s, parts[0])
	}
	if err := checkName(a.Provider, "provider", s, false); err != nil {
		return Agent{}, err
	}
	if err := checkName(a.Type, "type", s, a.Class == Stonith); err != nil {
		return Agent{}, err
	}
	return a, nil
}

// checkName refuses names that would reach outside the agent directory.
// Stonith names may hold one slash (cluster-glue's external/ssh).
func checkName(n, what, whole string, slash bool) error {
	if n == "" {
		if what == "provider" {
			return nil
		}
		return fmt.Errorf("agent %q: empty %s", whole, what)
	}
	if n == "." || n == ".." || strings.HasPrefix(n, "/") || strings.Contains(n, "..") ||
		strings.ContainsAny(n, "\x00\n") || (!slash && strings.Contains(n, "/")) {
		return fmt.Errorf("agent %q: %s %q is not a valid name", whole, what, n)
	}
	return nil
}

// ParseHaresource reads one resource of heartbeat's haresources file:
// NAME or NAME::arg1::arg2…, as a heartbeat-class agent with the
// arguments as the instance attributes "1", "2", … (Pacemaker's
// convention for heartbeat-class agents). A bare IPv4 address is
// heartbeat's short form of IPaddr::ADDRESS.
func ParseHaresource(s string) (Agent, map[string]string, error) {
	if s == "" {
		return Agent{}, nil, fmt.Errorf("empty resource")
	}
	parts := strings.Split(s, "::")
	name := parts[0]
	if isIPv4ish(name) && len(parts) == 1 {
		parts = []string{"IPaddr", name}
		name = "IPaddr"
	}
	if err := checkName(name, "script", s, false); err != nil {
		return Agent{}, nil, err
	}
	params := map[string]string{}
	for i, p := range parts[1:] {
		params[fmt.Sprint(i+1)] = p
	}
	return Agent{Class: Heartbeat, Type: name}, params, nil
}

// isIPv4ish reports whether s starts like a dotted quad (heartbeat takes
// "10.0.0.1/24/eth0" as IPaddr::10.0.0.1/24/eth0).
func isIPv4ish(s string) bool {
	dots := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case c == '.':
			dots++
		case c == '/':
			return dots == 3
		default:
			return false
		}
	}
	return dots == 3
}

// HeartbeatArgs returns a heartbeat-class script's arguments: the
// parameters "1", "2", … in order, stopping at the first gap, then the
// action.
func HeartbeatArgs(params map[string]string, action string) []string {
	var args []string
	for i := 1; ; i++ {
		v, ok := params[fmt.Sprint(i)]
		if !ok {
			break
		}
		args = append(args, v)
	}
	return append(args, action)
}
