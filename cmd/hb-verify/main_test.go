package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/linux-ha-go/ha/lib/cibadmin"
	"github.com/linux-ha-go/ha/lib/cibverify"
	"github.com/linux-ha-go/ha/lib/cli"
	"github.com/linux-ha-go/ha/lib/exitcode"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"hb-cibadmin": func() { os.Exit(int(cli.Run(&cibadmin.CLI{}, os.Args[1:], exitcode.Usage))) },
		"hb-verify":   func() { os.Exit(int(cli.Run(&cibverify.CLI{}, os.Args[1:], exitcode.Usage))) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata"})
}
