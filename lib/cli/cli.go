// Package cli holds what every program's main shares: the global flags
// with their HA_* variables, the kong set-up that turns parse errors into
// one line and "try --help", and the printing of errors with their hints
// and exit codes.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/alecthomas/kong"
	"golang.org/x/sys/unix"

	"github.com/linux-ha-go/ha/lib/exitcode"
)

// Globals are the flags every hb-* program takes (DESIGN.md, "Files and
// paths"). Embed it in a program's CLI struct.
type Globals struct {
	Confdir  string `name:"confdir" env:"HA_CONFDIR" default:"/etc/ha.d" type:"path" help:"Configuration directory (ha.cf, authkeys, haresources, resource.d)."`
	Statedir string `name:"statedir" env:"HA_STATEDIR" default:"/var/lib/heartbeat" type:"path" help:"State directory (crm/cib.xml, uuid, generation)."`
	Rundir   string `name:"rundir" env:"HA_RUNDIR" default:"/run/heartbeat" type:"path" help:"Runtime directory holding the daemons' sockets."`
	Node     string `name:"node" env:"HA_NODENAME" help:"This node's name (default: uname -n, lower-cased)."`
}

// NodeName returns --node, else the kernel's node name lower-cased, as
// heartbeat does.
func (g *Globals) NodeName() string {
	if g.Node != "" {
		return strings.ToLower(g.Node)
	}
	return Uname()
}

// Uname returns `uname -n` lower-cased.
func Uname() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		h, _ := os.Hostname()
		return strings.ToLower(h)
	}
	return strings.ToLower(unix.ByteSliceToString(u.Nodename[:]))
}

// G returns the globals; a CLI struct that embeds Globals gets it, and
// Run binds it so that commands' Run methods can take *Globals.
func (g *Globals) G() *Globals { return g }

type hasGlobals interface{ G() *Globals }

// Socket returns the path of a daemon's socket in the rundir.
func (g *Globals) Socket(name string) string { return filepath.Join(g.Rundir, name) }

// Program is the name errors are printed under.
var Program = filepath.Base(os.Args[0])

// Stderr is where errors go; tests may replace it.
var Stderr io.Writer = os.Stderr

// Run parses args into cli with kong, runs the selected command and returns
// the exit code. A parse error prints one line and "try --help" and
// returns usage (the caller's family code); a command error prints
// "prog: error: …" and "prog: hint: …" and returns its code.
func Run(cli any, args []string, usage exitcode.Code, options ...kong.Option) exitcode.Code {
	var exitWith *exitcode.Code
	opts := []kong.Option{
		kong.Name(Program),
		kong.UsageOnError(),
		kong.Exit(func(c int) {
			code := exitcode.Code(c)
			exitWith = &code
			panic(exitSentinel{})
		}),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	}
	if hg, ok := cli.(hasGlobals); ok {
		opts = append(opts, kong.Bind(hg.G()))
	}
	opts = append(opts, options...)
	parser, err := kong.New(cli, opts...)
	if err != nil {
		fmt.Fprintf(Stderr, "%s: error: %v\n", Program, err)
		return exitcode.Software
	}
	code := func() (code exitcode.Code) {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(exitSentinel); ok && exitWith != nil {
					code = *exitWith
					return
				}
				panic(r)
			}
		}()
		parser.Stderr = io.Discard // we print parse errors ourselves, in one line
		ctx, err := parser.Parse(args)
		if err != nil {
			fmt.Fprintf(Stderr, "%s: error: %v\n", Program, err)
			fmt.Fprintf(Stderr, "%s: try '%s --help'\n", Program, commandPath(err))
			return usage
		}
		parser.Stderr = Stderr
		return Report(ctx.Run())
	}()
	return code
}

type exitSentinel struct{}

func commandPath(err error) string {
	var pe *kong.ParseError
	if errors.As(err, &pe) && pe.Context != nil {
		if cmd := pe.Context.Selected(); cmd != nil {
			return Program + " " + cmd.FullPath()[len(pe.Context.Model.Name)+1:]
		}
	}
	return Program
}

// Report prints err as the toolkit prints errors and returns its exit code.
func Report(err error) exitcode.Code {
	if err == nil {
		return exitcode.OK
	}
	var silent *SilentError
	if errors.As(err, &silent) {
		return silent.Code
	}
	fmt.Fprintf(Stderr, "%s: error: %v\n", Program, err)
	if h := exitcode.HintOf(err); h != "" {
		for _, line := range strings.Split(h, "\n") {
			fmt.Fprintf(Stderr, "%s: hint: %s\n", Program, line)
		}
	}
	return exitcode.Of(err)
}

// SilentError ends a command with a code after it has printed what it
// needed to (cl_status-style commands whose output is the answer).
type SilentError struct{ Code exitcode.Code }

func (e *SilentError) Error() string { return fmt.Sprintf("exit status %d", int(e.Code)) }

// Exit returns an error that makes Run return code without printing.
func Exit(code exitcode.Code) error {
	if code == exitcode.OK {
		return nil
	}
	return &SilentError{Code: code}
}
