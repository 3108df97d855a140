package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/linux-ha-go/ha/lib/cib"
	"github.com/linux-ha-go/ha/lib/cibadmin"
	"github.com/linux-ha-go/ha/lib/cibverify"
	"github.com/linux-ha-go/ha/lib/cli"
	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/ipc"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"hb-cibadmin": func() { os.Exit(int(cli.Run(&cibadmin.CLI{}, os.Args[1:], exitcode.Usage))) },
		"hb-verify":   func() { os.Exit(int(cli.Run(&cibverify.CLI{}, os.Args[1:], exitcode.Usage))) },
		"fake-crmd":   fakeCrmd,
	})
}

// fakeCrmd stands in for hb-crmd's CIB service: it serves crmd.sock in
// RUNDIR ($1) with lib/cib.Register over the file $2 until killed.
func fakeCrmd() {
	rundir, file := os.Args[1], os.Args[2]
	ln, err := ipc.Listen(filepath.Join(rundir, cib.SocketName))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s := ipc.NewServer(nil)
	cib.Register(s, &cib.FileBackend{Path: file, Validate: cibverify.Refuse})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	s.Serve(ctx, ln)
	os.Exit(0)
}

// waitsock waits (with a deadline) until a socket file exists.
func waitsock(ts *testscript.TestScript, neg bool, args []string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, err := os.Stat(ts.MkAbs(args[0])); err == nil && st.Mode()&os.ModeSocket != 0 {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("no socket %s after 10s", args[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata", Cmds: map[string]func(*testscript.TestScript, bool, []string){"waitsock": waitsock}})
}
