package main

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"

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
