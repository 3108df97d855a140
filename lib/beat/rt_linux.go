package beat

import (
	"golang.org/x/sys/unix"
)

// realtime puts the calling OS thread under SCHED_RR at prio (1 when 0),
// as heartbeat runs its processes, so heartbeats are not late on a busy
// machine. The caller must have locked its goroutine to the thread. It
// returns an error when not permitted; heartbeat then goes on too.
func realtime(prio int) error {
	if prio <= 0 {
		prio = 1
	}
	attr := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_RR, Priority: uint32(prio)}
	return unix.SchedSetAttr(0, attr, 0)
}

// lockMemory locks current and future pages on fault (MCL_ONFAULT keeps a
// Go heap's reserved address space from being populated).
func lockMemory() error {
	return unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE | unix.MCL_ONFAULT)
}
