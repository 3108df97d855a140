// Command hb-verify checks a CIB, as crm_verify does.
package main

import (
	"os"

	"github.com/linux-ha-go/ha/lib/cibverify"
	"github.com/linux-ha-go/ha/lib/cli"
	"github.com/linux-ha-go/ha/lib/exitcode"
)

func main() { os.Exit(int(cli.Run(&cibverify.CLI{}, os.Args[1:], exitcode.Usage))) }
