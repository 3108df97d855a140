package cibverify

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/linux-ha-go/ha/lib/cib"
	"github.com/linux-ha-go/ha/lib/cli"
	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/printer"
)

// CLI is hb-verify's command line (crm_verify's flags).
type CLI struct {
	cli.Globals
	printer.Flag

	XMLFile  string `name:"xml-file" short:"x" placeholder:"FILE" help:"Check the CIB in FILE."`
	XMLText  string `name:"xml-text" short:"X" placeholder:"XML" help:"Check the CIB given as a string."`
	XMLPipe  bool   `name:"xml-pipe" short:"p" help:"Check the CIB read from standard input."`
	Live     bool   `name:"live-check" short:"L" help:"Check the live CIB (through hb-crmd, or CIB_file)."`
	NoAgents bool   `name:"no-agents" help:"Do not look resource agents up."`
	Verbose  int    `short:"V" type:"counter" help:"Accepted for crm_verify compatibility."`
}

// Run checks the CIB and exits 0 (clean), 78 (errors) or 107 (warnings only).
func (c *CLI) Run() error {
	var (
		doc *cib.CIB
		err error
	)
	n := 0
	for _, on := range []bool{c.XMLFile != "", c.XMLText != "", c.XMLPipe, c.Live} {
		if on {
			n++
		}
	}
	if n != 1 {
		return exitcode.Wrap(exitcode.Usage, errors.New("give exactly one of -x FILE, -X XML, -p or -L"), "")
	}
	switch {
	case c.XMLFile != "":
		doc, err = cib.ParseFile(c.XMLFile)
	case c.XMLText != "":
		doc, err = cib.Parse("xml-text", []byte(c.XMLText))
	case c.XMLPipe:
		var b []byte
		if b, err = io.ReadAll(os.Stdin); err == nil {
			doc, err = cib.Parse("<stdin>", b)
		}
	case c.Live:
		var be cib.Backend = &cib.SocketBackend{Path: c.Socket(cib.SocketName)}
		if f := os.Getenv("CIB_file"); f != "" {
			be = &cib.FileBackend{Path: f}
		}
		doc, err = be.Load(context.Background())
	}
	if err != nil {
		var se *cib.SyntaxError
		if errors.As(err, &se) {
			return exitcode.Wrap(exitcode.Config, err, "fix the XML at the line named")
		}
		if exitcode.Of(err) != exitcode.Error {
			return err
		}
		return exitcode.Wrap(exitcode.NoInput, err, "")
	}
	o := Options{}
	if !c.NoAgents {
		agents, done := DialAgents(c.Rundir, &LocalAgents{Confdir: c.Confdir})
		defer done()
		o.Agents = agents
	}
	r := Check(doc, o)
	if err := printer.Print(os.Stdout, c.OutputAs, "hb-verify", r); err != nil {
		return err
	}
	return cli.Exit(r.Code())
}
