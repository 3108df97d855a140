// Command hb-cibadmin reads and changes the CIB, live or on a file
// (CIB_file=), with cibadmin's flags.
package main

import (
	"os"

	"github.com/linux-ha-go/ha/lib/cibadmin"
	"github.com/linux-ha-go/ha/lib/cli"
	"github.com/linux-ha-go/ha/lib/exitcode"
)

func main() { os.Exit(int(cli.Run(&cibadmin.CLI{}, os.Args[1:], exitcode.Usage))) }
