package api

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/ipc"
)

// IPC error codes godrbd uses for DRBD's refusals.
const (
	CodeStateChange = "drbd-state-change" // a state change was refused (negative code)
	CodeFailure     = "drbd-failure"      // a configuration request failed (ERR_* code)
)

// State-change refusals (enum drbd_state_rv, drbd_strings.c).
const (
	SSTwoPrimaries          = -1
	SSNoUpToDateDisk        = -2
	SSNoLocalDisk           = -4
	SSNoRemoteDisk          = -5
	SSConnectedOutdates     = -6
	SSPrimaryNOP            = -7
	SSResyncRunning         = -8
	SSAlreadyStandAlone     = -9
	SSCWNoNeed              = -10
	SSDeviceInUse           = -12
	SSNoNetConfig           = -13
	SSNoVerifyAlg           = -14
	SSNeedConnection        = -15
	SSLowerThanOutdated     = -16
	SSNotSupported          = -17
	SSInTransientState      = -18
	SSConcurrentStChg       = -19
	SSOVolPrimaryNotAllowed = -20
	SSOutdateWoConn         = -21
	SSIsDiskless            = -11
)

// StateTexts are DRBD 8.4's texts of the state-change refusals.
var StateTexts = map[int]string{
	-1:  "Multiple primaries not allowed by config",
	-2:  "Need access to UpToDate data",
	-4:  "Can not resync without local disk",
	-5:  "Can not resync without remote disk",
	-6:  "Refusing to be Outdated while Connected",
	-7:  "Refusing to be Primary while peer is not outdated",
	-8:  "Can not start OV/resync since it is already active",
	-9:  "Can not disconnect a StandAlone device",
	-10: "State change was refused by peer node",
	-11: "Device is diskless, the requested operation requires a disk",
	-12: "Device is held open by someone",
	-13: "Have no net/connection configuration",
	-14: "Need a verify algorithm to start online verify",
	-15: "Need a connection to start verify or resync",
	-16: "Disk state is lower than outdated",
	-17: "Peer does not support protocol",
	-18: "In transient state, retry after next state change",
	-19: "Concurrent state changes detected and aborted",
	-20: "Other vol primary on peer not allowed by config",
	-21: "Need a connection for a graceful disconnect/outdate peer",
}

// Failure codes (enum drbd_ret_code) godrbd uses, with their texts.
const (
	ErrLocalAddr       = 102
	ErrOpenDisk        = 104
	ErrDiskTooSmall    = 111
	ErrMDInvalid       = 119
	ErrDiscardIMP      = 123
	ErrDiskConfigured  = 124
	ErrNetConfigured   = 125
	ErrMinorInvalid    = 127
	ErrNoDisk          = 138
	ErrPauseIsSet      = 134
	ErrPauseIsClear    = 135
	ErrConnected       = 151
	ErrInvalidRequest  = 152
	ErrResourceUnknown = 158
	ErrMinorExists     = 161
)

// FailureTexts are DRBD 8.4's texts of the ERR_* codes godrbd uses.
var FailureTexts = map[int]string{
	102: "Local address(port) already in use.",
	104: "Can not open backing device.",
	111: "Low.dev. smaller than requested DRBD-dev. size.",
	119: "No valid meta-data signature found.\n\n\t==> Use 'drbdadm create-md res' to initialize meta-data area. <==",
	123: "--discard-my-data not allowed when primary.",
	124: "Device is attached to a disk (use detach first)",
	125: "Device has a net-config (use disconnect first)",
	127: "Device minor not allocated",
	134: "Sync-pause flag is already set",
	135: "Sync-pause flag is already cleared",
	138: "Device does not have a disk-config",
	151: "Need to be StandAlone",
	152: "Invalid configuration request",
	158: "Unknown resource",
	161: "Minor or volume exists already (delete it first)",
}

// Refusal is DRBD refusing a request: a state change (Code < 0,
// "State change failed") or a configuration request (Code >= 100,
// "Failure"). Object is what drbdsetup names: the minor for per-volume
// operations, the resource name otherwise.
type Refusal struct {
	Object string
	Code   int
	Text   string // empty: the standard text of Code
}

// StateRefusal returns the refusal of a state change with code.
func StateRefusal(object string, code int) *Refusal {
	return &Refusal{Object: object, Code: code}
}

// Failure returns a failed configuration request with code.
func Failure(object string, code int) *Refusal {
	return &Refusal{Object: object, Code: code}
}

func (r *Refusal) text() string {
	if r.Text != "" {
		return r.Text
	}
	if r.Code < 0 {
		if t, ok := StateTexts[r.Code]; ok {
			return t
		}
	} else if t, ok := FailureTexts[r.Code]; ok {
		return t
	}
	return "Unknown error"
}

// Error is drbdsetup's line: "0: State change failed: (-2) Need access
// to UpToDate data" or "r0: Failure: (158) Unknown resource".
func (r *Refusal) Error() string {
	if r.Code < 0 {
		return fmt.Sprintf("%s: State change failed: (%d) %s", r.Object, r.Code, r.text())
	}
	return fmt.Sprintf("%s: Failure: (%d) %s", r.Object, r.Code, r.text())
}

// ExitCode is drbdsetup's exit code for the refusal: 17 for -2, 5 for
// -16, 16 for -4, 11 for other state changes, 10 for failures.
func (r *Refusal) ExitCode() exitcode.Code {
	switch {
	case r.Code == -2:
		return 17
	case r.Code == -16:
		return 5
	case r.Code == -4:
		return 16
	case r.Code < 0:
		return 11
	}
	return 10
}

// IPC turns the refusal into the error godrbd sends.
func (r *Refusal) IPC() *ipc.Error {
	code := CodeFailure
	if r.Code < 0 {
		code = CodeStateChange
	}
	return ipc.Errorf(code, r.ExitCode(), "%s", r.Error())
}

var refusalRe = regexp.MustCompile(`(?s)^(.*?): (?:State change failed|Failure): \((-?\d+)\) (.*)$`)

// FromIPC turns an error from godrbd back into a *Refusal when it is
// one; other errors are returned unchanged.
func FromIPC(err error) error {
	var e *ipc.Error
	if !errors.As(err, &e) || (e.Code != CodeStateChange && e.Code != CodeFailure) {
		return err
	}
	m := refusalRe.FindStringSubmatch(e.Message)
	if m == nil {
		return err
	}
	n, _ := strconv.Atoi(m[2])
	r := &Refusal{Object: m[1], Code: n}
	if m[3] != r.text() {
		r.Text = m[3]
	}
	return r
}
