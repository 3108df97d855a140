package beat

import (
	"fmt"
	"io"
	"strings"
)

// ClSource is what cl-status needs from a running hb-beat. A nil source
// means hb-beat is not running.
type ClSource interface {
	Status() (StatusReply, error)
	Nodes() ([]NodeInfo, error)
	Parameter(name string) (string, error)
}

// cl_status exit codes.
const (
	clOK      = 0
	clFail    = 1
	clParam   = 11
	clUnknown = 13
)

const clUsage = `Usage: hb-beat cl-status <sub-command> [<options>] [<parameters>]
cl_status's sub-commands, answered by hb-beat with cl_status's output and exit codes:
	hbstatus [-m] [-v]             whether hb-beat is running here
	listnodes [-m] [-n|-p]         the cluster nodes (-n normal only, -p ping only)
	nodestatus [-m] NODE           init, up, active, dead (ping for a ping node)
	nodetype [-m] NODE             normal or ping
	nodeweight NODE                a node's weight (always 100)
	nodesite NODE                  a node's site (always empty)
	listhblinks [-m] [-v] NODE     the heartbeat links to NODE
	hblinkstatus [-m] NODE LINK    up or dead
	hbparameter [-m] -p NAME       an ha.cf parameter as written, or its default
	rscstatus                      resources are not managed by hb-beat: fails
Exit codes: 0 OK, 1 failed (node or link dead, hb-beat stopped), 11 bad parameter.
`

// ClStatus runs one cl_status sub-command against src and returns its
// exit code, writing what cl_status writes.
func ClStatus(stdout, stderr io.Writer, args []string, src ClSource) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, clUsage)
		return clOK
	}
	sub := args[0]
	var flags = map[byte]bool{}
	var pos []string
	var param string
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "-p" && sub == "hbparameter" && i+1 < len(args) {
			param = args[i+1]
			i++
			continue
		}
		if len(a) >= 2 && a[0] == '-' {
			for j := 1; j < len(a); j++ {
				if !strings.ContainsRune("mvnpd", rune(a[j])) {
					fmt.Fprintf(stderr, "ERROR: invalid option -%c\n", a[j])
					return clParam
				}
				flags[a[j]] = true
			}
			continue
		}
		pos = append(pos, a)
	}
	need := func(n int, what string) bool {
		if len(pos) < n {
			fmt.Fprintf(stderr, "ERROR: %s: missing %s\n", sub, what)
			return false
		}
		return true
	}
	m := flags['m']
	switch sub {
	case "hbstatus", "listnodes", "nodestatus", "nodetype", "nodeweight", "nodesite", "listhblinks", "hblinkstatus", "hbparameter", "rscstatus":
	default:
		fmt.Fprintf(stderr, "ERROR: %s: invalid sub-command.\n", sub)
		return clParam
	}
	if src == nil {
		if sub == "hbstatus" {
			fmt.Fprintln(stdout, "Heartbeat is stopped on this machine.")
		} else {
			fmt.Fprintln(stderr, "ERROR: Cannot signon with heartbeat")
			fmt.Fprintln(stderr, "REASON: hb-beat is not running on this machine")
		}
		return clFail
	}
	st, err := src.Status()
	if err != nil || !st.CommUp {
		if sub == "hbstatus" {
			fmt.Fprintln(stdout, "Heartbeat is stopped on this machine.")
		} else {
			fmt.Fprintln(stderr, "ERROR: Cannot signon with heartbeat")
			fmt.Fprintln(stderr, "REASON: communication is not up yet")
		}
		return clFail
	}
	nodes, err := src.Nodes()
	if err != nil {
		fmt.Fprintf(stderr, "ERROR: %v\n", err)
		return clUnknown
	}
	find := func(name string) *NodeInfo {
		for i := range nodes {
			if strings.EqualFold(nodes[i].Name, name) {
				return &nodes[i]
			}
		}
		return nil
	}
	// node is the node named by the first argument, with k arguments
	// needed (what they are, for the message); nil after saying why.
	node := func(k int, what string) *NodeInfo {
		if !need(k, what) {
			return nil
		}
		n := find(pos[0])
		if n == nil {
			fmt.Fprintln(stderr, "Error. May be due to incorrect node name")
		}
		return n
	}
	switch sub {
	case "hbstatus":
		fmt.Fprintln(stdout, "Heartbeat is running on this machine.")
		if flags['v'] {
			fmt.Fprintf(stdout, "version:\t%s\nmanaged by:\t%q\n", st.Version, "hb-beat")
			for _, n := range nodes {
				fmt.Fprintf(stdout, "\n%s\t%s\t(nodetype: %s)\n", n.Name, n.Status, n.Type)
				for _, l := range n.Links {
					fmt.Fprintf(stdout, "\t%s\t%s\n", l.Name, l.Status)
				}
			}
		}
		return clOK
	case "listnodes":
		if m {
			fmt.Fprintln(stdout, "The nodes are as follow:")
		}
		for _, n := range nodes {
			if (flags['n'] && n.Type != TypeNormal) || (flags['p'] && n.Type != TypePing) {
				continue
			}
			fmt.Fprintln(stdout, n.Name)
		}
		return clOK
	case "nodestatus":
		n := node(1, "node name")
		if n == nil {
			return clParam
		}
		if m {
			fmt.Fprintf(stdout, "The cluster node %s is %s\n", n.Name, n.Status)
		} else {
			fmt.Fprintln(stdout, n.Status)
		}
		if n.Status == StatusDead {
			return clFail
		}
		return clOK
	case "nodetype":
		n := node(1, "node name")
		if n == nil {
			return clParam
		}
		if m {
			fmt.Fprintf(stdout, "The type of node %s is %s\n", n.Name, n.Type)
		} else {
			fmt.Fprintln(stdout, n.Type)
		}
		return clOK
	case "nodeweight", "nodesite":
		if node(1, "node name") == nil {
			return clParam
		}
		if sub == "nodeweight" {
			fmt.Fprintln(stdout, "100")
		} else {
			fmt.Fprintln(stdout)
		}
		return clOK
	case "listhblinks":
		n := node(1, "node name")
		if n == nil {
			return clParam
		}
		if m {
			fmt.Fprintf(stdout, "Node %s has the following heartbeat links:\n", n.Name)
		}
		for _, l := range n.Links {
			if flags['v'] {
				fmt.Fprintf(stdout, "\t%s\t%s\n", l.Name, l.Status)
			} else {
				fmt.Fprintf(stdout, "\t%s\n", l.Name)
			}
		}
		return clOK
	case "hblinkstatus":
		n := node(2, "node name and link name")
		if n == nil {
			return clParam
		}
		for _, l := range n.Links {
			if l.Name == pos[1] {
				if m {
					fmt.Fprintf(stdout, "The node %s's heartbeat link %s is %s\n", n.Name, l.Name, l.Status)
				} else {
					fmt.Fprintln(stdout, l.Status)
				}
				if l.Status != LinkUp {
					return clFail
				}
				return clOK
			}
		}
		fmt.Fprintf(stderr, "ERROR: Cannot get the status of link %s of node %s\n", pos[1], n.Name)
		return clParam
	case "hbparameter":
		if param == "" {
			fmt.Fprintln(stderr, "ERROR: hbparameter: missing -p NAME")
			return clParam
		}
		v, err := src.Parameter(param)
		if err != nil {
			fmt.Fprintf(stderr, "ERROR: Cannot get parameter %s's value\n", param)
			return clFail
		}
		if m {
			fmt.Fprintf(stdout, "Heartbeat parameter %s's value: %s\n", param, v)
		} else {
			fmt.Fprintln(stdout, v)
		}
		return clOK
	case "rscstatus":
		fmt.Fprintln(stderr, "ERROR: resources are not managed by hb-beat (as with heartbeat under pacemaker): use hb-mon")
		return clFail
	}
	return clUnknown
}
