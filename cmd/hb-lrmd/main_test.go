package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/linux-ha-go/ha/lib/lrm/lrmcli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"hb-lrmd": func() { os.Exit(int(lrmcli.Main(os.Args[1:]))) },
	})
}

func TestScripts(t *testing.T) {
	td, err := filepath.Abs("../../lib/lrm/agents/testdata")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(e *testscript.Env) error {
			e.Setenv("HA_RUNDIR", filepath.Join(e.WorkDir, "run"))
			e.Setenv("HA_CONFDIR", filepath.Join(td))
			e.Setenv("OCF_ROOT", filepath.Join(td, "ocf"))
			e.Setenv("AGENTS", td)
			e.Setenv("FENCE", filepath.Join(td, "../../../../contrib/fence"))
			return nil
		},
		// [file:PATH] holds when PATH exists
		Condition: func(cond string) (bool, error) {
			if p, ok := strings.CutPrefix(cond, "file:"); ok {
				_, err := os.Stat(p)
				return err == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// waitsock PATH: wait until a daemon answers on a socket
			"waitsock": func(ts *testscript.TestScript, neg bool, args []string) {
				deadline := time.Now().Add(10 * time.Second)
				for {
					c, err := net.Dial("unix", ts.MkAbs(args[0]))
					if err == nil {
						c.Close()
						return
					}
					if time.Now().After(deadline) {
						ts.Fatalf("nothing answers on %s: %v", args[0], err)
					}
					time.Sleep(10 * time.Millisecond)
				}
			},
		},
	})
}
