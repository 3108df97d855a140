package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/linux-ha-go/ha/lib/cli"
	"github.com/linux-ha-go/ha/lib/drbd/adm"
	"github.com/linux-ha-go/ha/lib/exitcode"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"godrbdadm": func() {
			cli.Program = "godrbdadm"
			os.Exit(int(cli.Run(&CLI{}, adm.Legacy(os.Args[1:]), exitcode.DrbdUsage, description)))
		},
	})
}

// TestScripts runs testdata/script/*.txtar: godrbdadm's real main on
// files, with the exit codes drbdadm uses.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			for _, f := range []string{"bash/godrbdadm", "zsh/_godrbdadm", "fish/godrbdadm"} {
				b, err := os.ReadFile(filepath.Join("..", "..", "completions", f))
				if err != nil {
					return err
				}
				os.MkdirAll(filepath.Join(e.WorkDir, "completions", filepath.Dir(f)), 0o755)
				if err := os.WriteFile(filepath.Join(e.WorkDir, "completions", f), b, 0o644); err != nil {
					return err
				}
			}
			e.Setenv("HA_NODENAME", "alice")
			e.Setenv("GODRBD_RUNDIR", e.WorkDir+"/run")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// exits N PROG ARGS...: run PROG and check its exit code.
			"exits": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 {
					ts.Fatalf("usage: exits CODE PROG [ARGS...]")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("bad exit code %q", args[0])
				}
				err = ts.Exec(args[1], args[2:]...)
				got := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					got = ee.ExitCode()
				} else if err != nil {
					ts.Fatalf("%v", err)
				}
				if got != want {
					ts.Fatalf("%s exited %d, want %d", args[1], got, want)
				}
			},
		},
	})
}

// TestCompletionsKnowEveryCommand: the bash, zsh and fish completions
// offer every command of the command line.
func TestCompletionsKnowEveryCommand(t *testing.T) {
	k, err := kong.New(&CLI{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"bash/godrbdadm", "zsh/_godrbdadm", "fish/godrbdadm"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "completions", f))
		if err != nil {
			t.Fatal(err)
		}
		words := map[string]bool{}
		for _, w := range strings.FieldsFunc(string(b), func(r rune) bool { return strings.ContainsRune(" \t\n'\"()=", r) }) {
			words[w] = true
		}
		for _, n := range k.Model.Children {
			if !words[n.Name] && !n.Hidden {
				t.Errorf("%s does not complete %s", f, n.Name)
			}
			if adm.Lookup(n.Name) == nil {
				t.Errorf("command %s has no implementation in lib/drbd/adm", n.Name)
			}
		}
	}
	if len(k.Model.Children) != len(adm.Names()) {
		t.Errorf("%d commands on the command line, %d in lib/drbd/adm", len(k.Model.Children), len(adm.Names()))
	}
}
