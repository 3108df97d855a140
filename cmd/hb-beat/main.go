// hb-beat is heartbeat 3's messaging layer: `hb-beat run` serves; the
// other commands ask the running daemon.
package main

import (
	"os"

	"github.com/linux-ha-go/ha/lib/beatcmd"
	"github.com/linux-ha-go/ha/lib/cli"
	"github.com/linux-ha-go/ha/lib/exitcode"
)

func main() {
	os.Exit(int(cli.Run(&beatcmd.CLI{}, os.Args[1:], exitcode.Usage)))
}
