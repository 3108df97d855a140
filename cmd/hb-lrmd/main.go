// Command hb-lrmd is the local resource manager: it starts, stops and
// watches resources on its node through their resource agents (ocf, lsb,
// heartbeat, systemd, stonith). `hb-lrmd run` is the daemon; the other
// subcommands are its clients, except `exec`, which runs one agent action
// in the foreground.
package main

import (
	"os"

	"github.com/linux-ha-go/ha/lib/lrm/lrmcli"
)

func main() { os.Exit(int(lrmcli.Main(os.Args[1:]))) }
