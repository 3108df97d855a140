// Package sdnotify tells systemd how a daemon is doing: READY=1 once it
// serves, STATUS= lines a person can read, STOPPING=1, and watchdog pings
// at half the interval systemd asked for. Outside systemd every call is a
// no-op: that is normal, not an error.
package sdnotify

import (
	"context"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Ready says the daemon serves.
func Ready() { _, _ = daemon.SdNotify(false, daemon.SdNotifyReady) }

// Status sets the one-line status shown by systemctl status.
func Status(s string) { _, _ = daemon.SdNotify(false, "STATUS="+s) }

// Stopping says the daemon is shutting down.
func Stopping() { _, _ = daemon.SdNotify(false, daemon.SdNotifyStopping) }

// Watchdog pings systemd's watchdog at half its interval while alive()
// returns true, until ctx ends. It returns at once when no watchdog is
// configured.
func Watchdog(ctx context.Context, alive func() bool) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval == 0 {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if alive == nil || alive() {
				_, _ = daemon.SdNotify(false, daemon.SdNotifyWatchdog)
			}
		}
	}
}
