// Package haresources reads heartbeat v1's /etc/ha.d/haresources and
// turns it into CIB objects: each line becomes a group of primitives in
// the listed order, with a location constraint that prefers the line's
// node.
//
// Format (heartbeat.md 3.1): one group per logical line,
// "preferred-node res1 res2 ...", "\" continues a line, "#" starts a
// comment. A resource is "script", "script::arg1::arg2...", or an IPv4
// address, short for IPaddr::addr[/bits[/iface[/bcast]]].
package haresources

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"unicode/utf8"
)

// Resource is one resource of a line.
type Resource struct {
	Script string   // IPaddr, Filesystem, drbddisk, an init script...
	Args   []string // the "::" parts
	Line   int
}

// String gives the resource back as haresources spells it.
func (r Resource) String() string {
	return strings.Join(append([]string{r.Script}, r.Args...), "::")
}

// Group is one line: the preferred node and its resources in order.
type Group struct {
	Node      string
	Resources []Resource
	Line      int
}

// Key is the group's key, its first resource (unique in the file).
func (g Group) Key() string { return g.Resources[0].String() }

// Error is a bad line, with its place.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Parse reads a haresources file; name is used in messages.
func Parse(name string, r io.Reader) ([]Group, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var groups []Group
	keys := map[string]int{}
	var logical strings.Builder
	start, n := 0, 0
	flush := func() error {
		text := logical.String()
		logical.Reset()
		fields := strings.Fields(text)
		if len(fields) == 0 {
			return nil
		}
		if len(fields) < 2 {
			return &Error{name, start, fmt.Sprintf("node %q has no resources: a line is \"node resource...\"", fields[0])}
		}
		for _, f := range fields {
			if !printable(f) {
				return &Error{name, start, fmt.Sprintf("%q holds bytes that are not printable UTF-8 text", f)}
			}
		}
		g := Group{Node: strings.ToLower(fields[0]), Line: start}
		for _, f := range fields[1:] {
			res, err := parseResource(f)
			if err != nil {
				return &Error{name, start, err.Error()}
			}
			res.Line = start
			g.Resources = append(g.Resources, res)
		}
		if prev, dup := keys[g.Key()]; dup {
			return &Error{name, start, fmt.Sprintf("resource group key %s is already used on line %d; the first resource of each line must be unique", g.Key(), prev)}
		}
		keys[g.Key()] = start
		groups = append(groups, g)
		return nil
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if logical.Len() == 0 {
			start = n
		}
		cont := strings.HasSuffix(strings.TrimRight(line, " \t\r"), "\\")
		if cont {
			line = strings.TrimSuffix(strings.TrimRight(line, " \t\r"), "\\")
		}
		logical.WriteString(line)
		logical.WriteByte(' ')
		if !cont {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return groups, nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffe || r == 0xffff {
			return false
		}
	}
	return true
}

func parseResource(f string) (Resource, error) {
	parts := strings.Split(f, "::")
	if parts[0] == "" {
		return Resource{}, fmt.Errorf("resource %q has no script name", f)
	}
	if len(parts) == 1 && looksLikeIPv4(parts[0]) {
		parts = []string{"IPaddr", parts[0]}
	}
	for _, p := range parts[1:] {
		if p == "" {
			return Resource{}, fmt.Errorf("resource %q has an empty argument", f)
		}
	}
	if strings.ContainsAny(parts[0], "/<>&\"'") {
		return Resource{}, fmt.Errorf("resource %q: the script name must be a plain file name in resource.d or init.d", f)
	}
	return Resource{Script: parts[0], Args: parts[1:]}, nil
}

func looksLikeIPv4(s string) bool {
	addr := s
	if i := strings.IndexByte(s, '/'); i >= 0 {
		addr = s[:i]
	}
	a, err := netip.ParseAddr(addr)
	return err == nil && a.Is4()
}

// Nodes reads the node directives of ha.cf ("node name..."), lower-cased
// as heartbeat compares them. A missing file gives none.
func Nodes(hacf string) ([]string, error) {
	f, err := os.Open(hacf)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var nodes []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) >= 2 && strings.ToLower(fields[0]) == "node" {
			for _, n := range fields[1:] {
				nodes = append(nodes, strings.ToLower(n))
			}
		}
	}
	return nodes, sc.Err()
}

// CheckNodes reports, as heartbeat does, a group whose node is not one
// of ha.cf's nodes.
func CheckNodes(file string, groups []Group, nodes []string) error {
	if len(nodes) == 0 {
		return nil
	}
	known := map[string]bool{}
	for _, n := range nodes {
		known[n] = true
	}
	for _, g := range groups {
		if !known[g.Node] {
			return &Error{file, g.Line, fmt.Sprintf("bad node name %q: ha.cf's node directives name %s", g.Node, strings.Join(nodes, ", "))}
		}
	}
	return nil
}

// AutoFailback reads the auto_failback directive (and the older
// nice_failback) from ha.cf. ok is false when the file or the directive
// is absent. Values: "on", "off" or "legacy".
func AutoFailback(hacf string) (value string, ok bool, err error) {
	f, err := os.Open(hacf)
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch strings.ToLower(fields[0]) {
		case "auto_failback":
			switch v := strings.ToLower(fields[1]); v {
			case "on", "yes", "true", "1", "y":
				value, ok = "on", true
			case "off", "no", "false", "0", "n":
				value, ok = "off", true
			case "legacy":
				value, ok = "legacy", true
			default:
				return "", false, fmt.Errorf("%s:%d: auto_failback %q: use on, off or legacy", hacf, n, fields[1])
			}
		case "nice_failback":
			if !ok {
				switch strings.ToLower(fields[1]) {
				case "on", "yes", "true", "1", "y":
					value, ok = "off", true
				default:
					value, ok = "legacy", true
				}
			}
		}
	}
	return value, ok, sc.Err()
}
