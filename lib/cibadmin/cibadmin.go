// Package cibadmin is hb-cibadmin: cibadmin's commands and flags over a
// cib.Backend (a file with CIB_file=, or the live CIB through hb-crmd),
// plus --diff of two CIB files and --import-haresources.
package cibadmin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/beevik/etree"

	"github.com/linux-ha-go/ha/lib/cib"
	"github.com/linux-ha-go/ha/lib/cibverify"
	"github.com/linux-ha-go/ha/lib/cli"
	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/haresources"
)

// CLI is hb-cibadmin's command line: cibadmin's command flags are
// booleans of one command, so "hb-cibadmin -Q -o resources" works.
type CLI struct {
	cli.Globals

	Query   bool `short:"Q" help:"Query the contents of the CIB (or of -o SCOPE, or of --xpath)." group:"Commands"`
	Create  bool `short:"C" help:"Create an object in the CIB (fails if it already exists)." group:"Commands"`
	Replace bool `short:"R" help:"Recursively replace an object in the CIB." group:"Commands"`
	Modify  bool `short:"M" help:"Find an object by tag and id anywhere in the CIB and update it (fails if it does not exist unless -c)." group:"Commands"`
	Delete  bool `short:"D" help:"Delete the first object matching the XML (tag and every attribute must match), or the --xpath match." group:"Commands"`
	Erase   bool `short:"E" help:"Erase the contents of the whole CIB (needs --force)." group:"Commands"`
	Bump    bool `short:"B" help:"Increase the CIB's epoch by 1." group:"Commands"`
	Empty   bool `short:"a" help:"Print an empty CIB." group:"Commands"`
	MD5Sum  bool `name:"md5-sum" short:"5" help:"Print the on-disk digest of the XML given with -x, -X or -p." group:"Commands"`

	DiffFiles bool   `name:"diff" help:"Print the differences between two CIB files given as arguments (exit 1 when they differ)." group:"Commands"`
	ImportHR  string `name:"import-haresources" placeholder:"FILE" help:"Turn a heartbeat v1 haresources file into primitives, groups and location constraints and create them in the CIB." group:"Commands"`

	DeleteAll   bool   `name:"delete-all" short:"d" help:"With --xpath and -D, remove every match instead of the first."`
	Force       bool   `short:"f" help:"Allow dangerous commands (-E)."`
	Local       bool   `short:"l" help:"Command takes effect locally (queries)."`
	AllowCreate bool   `name:"allow-create" short:"c" help:"Let -M create the object when it does not exist."`
	NoChildren  bool   `name:"no-children" short:"n" help:"Query an object without its children."`
	NodePath    bool   `name:"node-path" short:"e" help:"With --xpath queries, print the path of each match."`
	Scope       string `name:"scope" short:"o" placeholder:"SCOPE" help:"Limit the operation to one section: configuration, nodes, resources, constraints, crm_config, rsc_defaults, op_defaults, acls, fencing-topology, tags, alerts, status."`
	XPath       string `name:"xpath" short:"A" placeholder:"XPATH" help:"An XPath to use instead of --scope."`
	XMLText     string `name:"xml-text" short:"X" placeholder:"XML" help:"XML given as a string."`
	XMLFile     string `name:"xml-file" short:"x" placeholder:"FILE" help:"XML read from a file."`
	XMLPipe     bool   `name:"xml-pipe" short:"p" help:"XML read from standard input."`
	SyncCall    bool   `name:"sync-call" short:"s" help:"Accepted for cibadmin compatibility; calls are always synchronous."`
	Timeout     int    `short:"t" placeholder:"SECONDS" help:"Accepted for cibadmin compatibility."`

	AutoFailback string `name:"auto-failback" enum:",on,off,legacy" default:"" placeholder:"on|off" help:"With --import-haresources: ha.cf's auto_failback (default: read from CONFDIR/ha.cf, else on)."`
	Stickiness   int    `name:"stickiness" default:"200" help:"With --import-haresources and auto_failback off: the resource-stickiness given to each group (more than the location score of 100, so resources stay where they run)."`

	Files []string `arg:"" optional:"" name:"file" help:"With --diff: the old and the new CIB file."`

	stdin  io.Reader
	stdout io.Writer
}

// Run is the kong entry point.
func (c *CLI) Run() error {
	if c.stdin == nil {
		c.stdin = os.Stdin
	}
	if c.stdout == nil {
		c.stdout = os.Stdout
	}
	return c.run(context.Background())
}

// Backend picks where the CIB is: CIB_file, else hb-crmd's socket.
func Backend(g *cli.Globals) cib.Backend {
	if f := os.Getenv("CIB_file"); f != "" {
		return &cib.FileBackend{Path: f, Validate: cibverify.Refuse}
	}
	return &cib.SocketBackend{Path: g.Socket(cib.SocketName)}
}

func (c *CLI) input() (string, error) {
	n := 0
	var s string
	if c.XMLText != "" {
		n++
		s = c.XMLText
	}
	if c.XMLFile != "" {
		n++
		b, err := os.ReadFile(c.XMLFile)
		if err != nil {
			return "", exitcode.Wrap(exitcode.NoInput, err, "")
		}
		s = string(b)
	}
	if c.XMLPipe {
		n++
		b, err := io.ReadAll(c.stdin)
		if err != nil {
			return "", exitcode.Wrap(exitcode.IOErr, err, "")
		}
		s = string(b)
	}
	if n > 1 {
		return "", exitcode.Wrap(exitcode.Usage, errors.New("give the XML once: -X, -x or -p"), "")
	}
	return s, nil
}

func (c *CLI) run(ctx context.Context) error {
	var cmds []string
	for _, f := range []struct {
		on   bool
		name string
	}{{c.Query, "-Q"}, {c.Create, "-C"}, {c.Replace, "-R"}, {c.Modify, "-M"}, {c.Delete, "-D"}, {c.Erase, "-E"},
		{c.Bump, "-B"}, {c.Empty, "-a"}, {c.MD5Sum, "-5"}, {c.DiffFiles, "--diff"}, {c.ImportHR != "", "--import-haresources"}} {
		if f.on {
			cmds = append(cmds, f.name)
		}
	}
	if len(cmds) == 0 {
		return exitcode.Wrap(exitcode.Usage, errors.New("no command given"), "give one of -Q, -C, -R, -M, -D, -E, -B, --diff, --import-haresources")
	}
	if len(cmds) > 1 {
		return exitcode.Wrap(exitcode.Usage, fmt.Errorf("give one command, not %s", strings.Join(cmds, " and ")), "")
	}
	if len(c.Files) > 0 && !c.DiffFiles {
		return exitcode.Wrap(exitcode.Usage, fmt.Errorf("unexpected argument %q", c.Files[0]), "only --diff takes file arguments")
	}
	if c.Scope != "" && !cib.IsSection(c.Scope) {
		return exitcode.Wrap(exitcode.InvalidParam, fmt.Errorf("unknown scope %q", c.Scope), "one of: "+strings.Join(cib.Sections(), ", "))
	}
	switch {
	case c.Empty:
		_, err := io.WriteString(c.stdout, cib.Empty().String())
		return err
	case c.MD5Sum:
		in, err := c.input()
		if err != nil {
			return err
		}
		x, err := cib.Parse("input", []byte(in))
		if err != nil {
			return exitcode.Wrap(exitcode.DataErr, err, "")
		}
		_, err = fmt.Fprintln(c.stdout, x.Digest())
		return err
	case c.DiffFiles:
		return c.diff()
	case c.ImportHR != "":
		return c.importHR(ctx)
	}
	req := &cib.Request{Section: c.Scope, XPath: c.XPath, AllowCreate: c.AllowCreate, Multiple: c.DeleteAll,
		NoChildren: c.NoChildren, NodePath: c.NodePath, Force: c.Force}
	switch {
	case c.Query:
		req.Op = cib.Query
	case c.Create:
		req.Op = cib.Create
	case c.Replace:
		req.Op = cib.Replace
	case c.Modify:
		req.Op = cib.Modify
	case c.Delete:
		req.Op = cib.Delete
	case c.Erase:
		req.Op = cib.Erase
	case c.Bump:
		req.Op = cib.Bump
	}
	in, err := c.input()
	if err != nil {
		return err
	}
	req.Input = in
	if c.DeleteAll && (c.XPath == "" || req.Op != cib.Delete) {
		return exitcode.Wrap(exitcode.Usage, errors.New("--delete-all works only with -D and --xpath"), "")
	}
	res, err := Backend(&c.Globals).Do(ctx, req)
	if res != nil && res.Answer != "" {
		out := res.Answer
		if c.NodePath {
			out = paths(out)
		}
		if _, werr := io.WriteString(c.stdout, out); werr != nil && err == nil {
			err = werr
		}
	}
	return toExit(err)
}

// paths prints the ids of an <xpath-query> of <xpath-query-path>s one a
// line, as cibadmin -e does.
func paths(answer string) string {
	e, _, err := cib.ParseElement("answer", []byte(answer))
	if err != nil {
		return answer
	}
	var b strings.Builder
	for _, p := range e.ChildElements() {
		b.WriteString(cib.ID(p))
		b.WriteByte('\n')
	}
	return b.String()
}

// toExit gives a cib.Error its code and hint.
func toExit(err error) error {
	var ce *cib.Error
	if errors.As(err, &ce) {
		return exitcode.Wrap(ce.Code, errors.New(ce.Msg), ce.Hint)
	}
	return err
}

func (c *CLI) diff() error {
	if len(c.Files) != 2 {
		return exitcode.Wrap(exitcode.Usage, errors.New("--diff needs two files: OLD NEW"), "")
	}
	a, err := cib.ParseFile(c.Files[0])
	if err != nil {
		return exitcode.Wrap(exitcode.NoInput, err, "")
	}
	b, err := cib.ParseFile(c.Files[1])
	if err != nil {
		return exitcode.Wrap(exitcode.NoInput, err, "")
	}
	d := cib.Diff(a, b)
	if err := d.WriteText(c.stdout); err != nil {
		return err
	}
	if len(d.Changes) > 0 {
		return cli.Exit(exitcode.Error)
	}
	return nil
}

func (c *CLI) importHR(ctx context.Context) error {
	f, err := os.Open(c.ImportHR)
	if err != nil {
		return exitcode.Wrap(exitcode.NoInput, err, "give the path of a heartbeat haresources file")
	}
	defer f.Close()
	groups, err := haresources.Parse(c.ImportHR, f)
	if err != nil {
		return exitcode.Wrap(exitcode.Config, err, "fix the line named above; see haresources(5)")
	}
	nodes, err := haresources.Nodes(filepath.Join(c.Confdir, "ha.cf"))
	if err != nil {
		return exitcode.Wrap(exitcode.Config, err, "")
	}
	if err := haresources.CheckNodes(c.ImportHR, groups, nodes); err != nil {
		return exitcode.Wrap(exitcode.Config, err, "use the node names of ha.cf (uname -n of each node) in haresources")
	}
	af := c.AutoFailback
	if af == "" {
		af = "on"
		if v, ok, err := haresources.AutoFailback(filepath.Join(c.Confdir, "ha.cf")); err != nil {
			return exitcode.Wrap(exitcode.Config, err, "")
		} else if ok {
			af = v
		}
	}
	stick := 0
	if af == "off" {
		stick = c.Stickiness
	}
	objs := haresources.Convert(groups, haresources.Options{Stickiness: stick,
		IsHeartbeatScript: func(name string) bool {
			_, err := os.Stat(filepath.Join(c.Confdir, "resource.d", name))
			return err == nil
		}})
	be := Backend(&c.Globals)
	if fb, ok := be.(*cib.FileBackend); ok {
		if _, err := os.Stat(fb.Path); errors.Is(err, os.ErrNotExist) {
			fresh := haresources.NewCIB(objs)
			if err := cibverify.Refuse(fresh); err != nil {
				return err
			}
			return cib.WriteFileAtomic(fb.Path, fresh.Bytes(), 0o644)
		}
	}
	cur, err := be.Load(ctx)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	unames := map[string]bool{}
	cur.Walk(func(e *etree.Element) {
		if cib.HasAttr(e, "id") {
			have[cib.ID(e)] = true
		}
		if e.Tag == "node" && cib.HasAttr(e, "uname") {
			unames[strings.ToLower(cib.Attr(e, "uname"))] = true
		}
	})
	for _, id := range objs.IDs() {
		if have[id] {
			return exitcode.Wrap(exitcode.Exists, fmt.Errorf("the CIB already has an object with id %q", id),
				"remove the earlier import first (hb-cibadmin -D), or import into a new file")
		}
	}
	frag := objs.Fragment(unames)
	_, err = be.Do(ctx, &cib.Request{Op: cib.Modify, Section: "configuration", Input: cib.ElementString(frag)})
	return toExit(err)
}
