package daemon

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/state"
)

// admPath is the godrbdadm that runs handlers: $GODRBD_ADM, else the
// one next to this program, else godrbdadm from PATH.
func admPath() string {
	if p := os.Getenv("GODRBD_ADM"); p != "" {
		return p
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "godrbdadm")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "godrbdadm"
}

// perVolumeHandler tells which handlers drbdadm runs for a volume
// (resource/volume) rather than for the resource.
func perVolumeHandler(name string) bool { return name != "fence-peer" && name != "unfence-peer" }

// handler runs a handler as the DRBD kernel module does: it calls
// `drbdadm <handler> <resource>` (here godrbdadm, with the configuration
// file godrbdadm named) with DRBD_RESOURCE, DRBD_MINOR, DRBD_VOLUME,
// DRBD_PEER_AF and DRBD_PEER_ADDRESS set, and godrbdadm runs the command
// of the handlers section. It runs in the background (r.mu held here);
// fence-peer's exit code is fed back as a FenceResult, which the state
// machine reads as DRBD does (state.Machine.applyFence).
func (v *Volume) handler(name string) { v.handlerThen(name, nil) }

// handlerThen is handler; done, if not nil, gets the exit code (-1: not
// run) after the handler ended, without r.mu. It returns false, and done
// is not called, when no such handler is configured.
func (v *Volume) handlerThen(name string, done func(code int)) bool {
	r := v.r
	if _, ok := opt(r.cfg.Handlers, name); !ok {
		if name == "fence-peer" {
			// No handler: the peer cannot be fenced.
			v.fencing++
			go v.fenceDone(1, v.connects, v.m.PendingFence())
		}
		return false
	}
	target := r.name
	if perVolumeHandler(name) {
		target += "/" + strconv.Itoa(v.vnr)
	}
	args := []string{"--rundir", r.d.Rundir, "--node", r.d.Node}
	if r.cfg.ConfigFile != "" {
		args = append(args, "-c", r.cfg.ConfigFile)
	}
	args = append(args, name, target)
	env := append(os.Environ(), "DRBD_RESOURCE="+r.name, "DRBD_MINOR="+strconv.Itoa(v.minor), "DRBD_VOLUME="+strconv.Itoa(v.vnr))
	if p := r.cfg.Peer; p != nil {
		env = append(env, "DRBD_PEER_AF="+p.AF, "DRBD_PEER_ADDRESS="+p.Address)
	}
	// A run a promotion asked for answers it (its result goes to
	// promote); any other run is about the loss of the peer.
	gen, forPromotion := v.connects, v.m.PendingFence()
	if name == "fence-peer" {
		v.fencing++
	}
	log := r.d.Log
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, admPath(), args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			code = ee.ExitCode()
		case err != nil:
			code = -1
		}
		log.Info("helper command: godrbdadm "+strings.Join(args, " "), "resource", r.name, "exit", code, "output", strings.TrimSpace(string(out)))
		if name == "fence-peer" {
			v.fenceDone(code, gen, forPromotion)
		}
		if done != nil {
			done(code)
		}
	}()
	return true
}

// fenceDone feeds the outcome of a fence-peer started while the
// connection count was gen to the machine. When the peer connected
// meanwhile, the outcome is about an outage that is over: as DRBD, it
// is ignored (a promotion waiting for it is refused).
func (v *Volume) fenceDone(code int, gen uint64, forPromotion bool) {
	r := v.r
	r.mu.Lock()
	defer r.mu.Unlock()
	ignored := gen != v.connects
	if !ignored {
		v.fenceExit = code
	}
	forPromotion = forPromotion && v.m.PendingFence()
	rv := v.step(state.FenceResult{Code: code, Ignored: ignored, ForPromotion: forPromotion})
	if forPromotion {
		v.fenceRV = rv
	}
	if !ignored && v.m.S.PDsk == state.Outdated {
		v.writeMeta() // remember the peer is outdated
	}
	v.fencing--
	r.cond.Broadcast()
}
