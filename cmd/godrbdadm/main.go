// Command godrbdadm administers godrbd from drbd.conf, as drbdadm does
// for DRBD 8.4. See godrbdadm(8).
package main

import (
	"os"

	"github.com/linux-ha-go/ha/lib/cli"
	"github.com/linux-ha-go/ha/lib/drbd/adm"
	"github.com/linux-ha-go/ha/lib/exitcode"
)

func main() {
	os.Exit(int(cli.Run(&CLI{}, adm.Legacy(os.Args[1:]), exitcode.DrbdUsage, description)))
}
