// Command godrbd is the replication daemon: one per node, it owns the
// replicated volumes that godrbdadm configures. See godrbd(8).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/linux-ha-go/ha/lib/cli"
	"github.com/linux-ha-go/ha/lib/drbd/daemon"
	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/logging"
	"github.com/linux-ha-go/ha/lib/sdnotify"
)

// CLI is godrbd's command line.
type CLI struct {
	Rundir   string     `name:"rundir" env:"GODRBD_RUNDIR" default:"/run/godrbd" type:"path" help:"Directory of godrbd's socket (godrbd.sock), the NBD exports (<resource>.nbd) and proc."`
	Node     string     `name:"node" env:"HA_NODENAME" help:"This node's name (default: uname -n)."`
	Statedir string     `name:"statedir" env:"GODRBD_STATEDIR" default:"/var/lib/godrbd" type:"path" help:"Directory of what survives a reboot: the last known size of each backing disk (drbd-minor-N.lkbd), to find internal meta data after the disk grew."`
	Run      RunCmd     `cmd:"" help:"Run the replication daemon in the foreground."`
	Version  VersionCmd `cmd:"" help:"Print the version."`
}

// RunCmd serves.
type RunCmd struct {
	Debug bool `short:"d" help:"Log debug messages."`
}

// Run starts the daemon and serves until SIGTERM or SIGINT.
func (r *RunCmd) Run(c *CLI) error {
	log, closeLog, err := logging.New(logging.Options{Program: "godrbd", Debug: r.Debug})
	if err != nil {
		return err
	}
	defer closeLog()
	node := c.Node
	if node == "" {
		node, _ = os.Hostname()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d := daemon.New(c.Rundir, node, log.With("local_node", node))
	d.StateDir = c.Statedir
	go sdnotify.Watchdog(ctx, func() bool { return true })
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				sdnotify.Status(d.Summary())
			}
		}
	}()
	err = d.Serve(ctx, func() {
		log.Info("godrbd serving", "rundir", c.Rundir)
		sdnotify.Ready()
		sdnotify.Status("serving on " + c.Rundir)
	})
	sdnotify.Stopping()
	if err != nil && ctx.Err() == nil {
		return exitcode.Wrap(exitcode.DrbdExec, err, "godrbd not started: check that "+c.Rundir+" is writable and no other godrbd uses it")
	}
	return nil
}

// VersionCmd prints the version.
type VersionCmd struct{}

// Run prints the version.
func (VersionCmd) Run() error {
	fmt.Println("godrbd 8.4.11 (api:1/proto:86-101)")
	return nil
}

func main() {
	os.Exit(int(cli.Run(&CLI{}, os.Args[1:], exitcode.Usage)))
}
