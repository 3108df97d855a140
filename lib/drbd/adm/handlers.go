package adm

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/linux-ha-go/ha/lib/drbd/api"
	"github.com/linux-ha-go/ha/lib/drbd/conf"
	"github.com/linux-ha-go/ha/lib/exitcode"
)

// Handler commands run the handler configured for the resource with
// /bin/sh -c and DRBD's environment, as drbdadm does when the kernel
// (here: godrbd) calls it: `godrbdadm fence-peer r0`.
var handlerNames = []string{
	"before-resync-target", "after-resync-target", "before-resync-source",
	"pri-on-incon-degr", "pri-lost-after-sb", "fence-peer", "unfence-peer",
	"local-io-error", "pri-lost", "initial-split-brain", "split-brain", "out-of-sync",
}

func init() {
	for _, n := range handlerNames {
		perVol := n != "fence-peer" && n != "unfence-peer"
		def(&Command{Name: n, Help: "Run the " + n + " handler.", ResNameRequired: true, VolIDRequired: perVol, Local: runHandler})
	}
}

// HandlerEnv is the environment a handler runs with: DRBD_RESOURCE,
// DRBD_CONF, DRBD_PEER_AF, DRBD_PEER_ADDRESS, DRBD_PEER, DRBD_PEERS and,
// for a volume, DRBD_MINOR, DRBD_VOLUME, DRBD_LL_DISK (else DRBD_MINOR
// lists every minor of the resource).
func HandlerEnv(cfg *conf.Config, res *conf.Resource, vol *conf.Volume) []string {
	env := []string{"DRBD_RESOURCE=" + res.Name, "DRBD_CONF=" + cfg.File}
	peer := res.Peer
	if peer == nil {
		pa, paf := os.Getenv("DRBD_PEER_ADDRESS"), os.Getenv("DRBD_PEER_AF")
		for _, h := range res.Hosts {
			if pa != "" && h.AF == paf && h.Address == pa {
				peer = h
				break
			}
		}
	}
	if peer != nil {
		env = append(env, "DRBD_PEER_AF="+peer.AF, "DRBD_PEER_ADDRESS="+peer.Address)
		if len(peer.Names) > 0 {
			env = append(env, "DRBD_PEER="+peer.Names[0], "DRBD_PEERS="+strings.Join(peer.Names, " "))
		}
	}
	if vol != nil {
		env = append(env, "DRBD_MINOR="+strconv.Itoa(vol.Minor), "DRBD_VOLUME="+strconv.Itoa(vol.VNR), "DRBD_LL_DISK="+vol.Disk)
	} else if res.Me != nil {
		var m []string
		for _, v := range res.Me.Volumes {
			m = append(m, strconv.Itoa(v.Minor))
		}
		env = append(env, "DRBD_MINOR="+strings.Join(m, " "))
	}
	return env
}

func runHandler(r *runner, res *conf.Resource, vol *conf.Volume) (exitcode.Code, error) {
	cmd, ok := res.Handlers.Get(r.cmd.Name)
	if !ok {
		return 0, nil
	}
	if r.o.DryRun > 0 {
		fmt.Fprintf(r.o.Stdout, "/bin/sh -c %s\n", api.ShellEscape(cmd))
		return 0, nil
	}
	c := exec.Command("/bin/sh", "-c", cmd)
	c.Env = append(os.Environ(), HandlerEnv(r.cfg, res, vol)...)
	c.Stdout, c.Stderr = r.o.Stdout, r.o.Stderr
	err := c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code := exitcode.Code(ee.ExitCode())
		if code >= 20 {
			return 0, Exit(code)
		}
		return code, nil
	}
	if err != nil {
		return 0, exitcode.Wrap(ExitExec, fmt.Errorf("%s handler of %s: %w", r.cmd.Name, res.Name, err), "")
	}
	return 0, nil
}
