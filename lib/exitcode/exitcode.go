// Package exitcode holds the exit-code tables every program of the toolkit
// uses, one named table per family, and an error type that carries a code
// and a hint for the person at the terminal.
//
// The hb-* tools use Pacemaker's table (crm_exit_t), godrbdadm uses
// drbdadm's, and resource agents speak OCF and LSB codes.
package exitcode

import (
	"errors"
	"fmt"
)

// Code is a process exit status.
type Code int

// Pacemaker's exit codes (include/crm/common/results.h), used by every hb-*
// program so that scripts written against crm_* tools keep working.
const (
	OK               Code = 0
	Error            Code = 1
	InvalidParam     Code = 2
	Unimplemented    Code = 3
	InsufficientPriv Code = 4
	NotInstalled     Code = 5
	NotConfigured    Code = 6
	NotRunning       Code = 7
	Usage            Code = 64
	DataErr          Code = 65
	NoInput          Code = 66
	NoUser           Code = 67
	NoHost           Code = 68
	Unavailable      Code = 69
	Software         Code = 70
	OSErr            Code = 71
	OSFile           Code = 72
	CantCreate       Code = 73
	IOErr            Code = 74
	TempFail         Code = 75
	Protocol         Code = 76
	NoPerm           Code = 77
	Config           Code = 78
	Fatal            Code = 100
	Panic            Code = 101
	Disconnect       Code = 102
	Old              Code = 103
	Digest           Code = 104
	NoSuch           Code = 105
	Quorum           Code = 106
	Unsafe           Code = 107
	Exists           Code = 108
	Multiple         Code = 109
	Expired          Code = 110
	NotYetInEffect   Code = 111
	Indeterminate    Code = 112
	Unsatisfied      Code = 113
	Timeout          Code = 124
)

var pacemakerNames = map[Code]string{
	OK: "OK", Error: "Error occurred", InvalidParam: "Invalid parameter",
	Unimplemented: "Unimplemented", InsufficientPriv: "Insufficient privileges",
	NotInstalled: "Not installed", NotConfigured: "Not configured",
	NotRunning: "Not running", Usage: "Incorrect usage", DataErr: "Invalid data given",
	NoInput: "Input file not available", NoUser: "User does not exist",
	NoHost: "Host does not exist", Unavailable: "Necessary service unavailable",
	Software: "Internal software bug", OSErr: "Operating system error occurred",
	OSFile: "System file not available", CantCreate: "Cannot create output file",
	IOErr: "I/O error occurred", TempFail: "Temporary failure, try again",
	Protocol: "Protocol violated", NoPerm: "Insufficient privileges",
	Config: "Invalid configuration", Fatal: "Fatal error occurred, will not respawn",
	Panic: "System panic required", Disconnect: "Not connected", Old: "Update was older than existing configuration",
	Digest: "Digest mismatch", NoSuch: "No such object", Quorum: "Quorum required",
	Unsafe: "Operation not safe", Exists: "Requested item already exists",
	Multiple: "Multiple items match request", Expired: "Requested item has expired",
	NotYetInEffect: "Requested item is not yet in effect", Indeterminate: "Could not determine status",
	Unsatisfied: "Not applicable under current conditions", Timeout: "Timeout occurred",
}

// Name returns Pacemaker's description of a code ("Not running").
func (c Code) Name() string {
	if n, ok := pacemakerNames[c]; ok {
		return n
	}
	return fmt.Sprintf("Unknown exit status %d", int(c))
}

// drbdadm's exit codes (drbd-utils user/v84/drbdadm.h and drbdsetup).
const (
	DrbdUsage    Code = 1  // bad command line
	DrbdConfig   Code = 10 // configuration file problem
	DrbdExec     Code = 20 // a helper or the kernel (here: godrbd) failed
	DrbdStateErr Code = 11 // state change refused; the refusal's own code is printed
)

// OCF resource agent exit codes (OCF 1.1, plus Pacemaker's 190/191).
const (
	OCFSuccess          Code = 0
	OCFErrGeneric       Code = 1
	OCFErrArgs          Code = 2
	OCFErrUnimplemented Code = 3
	OCFErrPerm          Code = 4
	OCFErrInstalled     Code = 5
	OCFErrConfigured    Code = 6
	OCFNotRunning       Code = 7
	OCFRunningPromoted  Code = 8
	OCFFailedPromoted   Code = 9
	OCFDegraded         Code = 190
	OCFDegradedPromoted Code = 191
)

var ocfNames = map[Code]string{
	0: "ok", 1: "error", 2: "invalid parameter", 3: "unimplemented feature",
	4: "insufficient privileges", 5: "not installed", 6: "not configured",
	7: "not running", 8: "promoted", 9: "failed promoted",
	190: "degraded", 191: "degraded promoted",
}

var ocfSymbols = map[Code]string{
	0: "OCF_SUCCESS", 1: "OCF_ERR_GENERIC", 2: "OCF_ERR_ARGS", 3: "OCF_ERR_UNIMPLEMENTED",
	4: "OCF_ERR_PERM", 5: "OCF_ERR_INSTALLED", 6: "OCF_ERR_CONFIGURED", 7: "OCF_NOT_RUNNING",
	8: "OCF_RUNNING_PROMOTED", 9: "OCF_FAILED_PROMOTED", 190: "OCF_DEGRADED",
	191: "OCF_DEGRADED_PROMOTED",
}

// OCFName returns Pacemaker's short name of an OCF code ("not running").
func OCFName(c Code) string {
	if n, ok := ocfNames[c]; ok {
		return n
	}
	return fmt.Sprintf("unknown (%d)", int(c))
}

// OCFSymbol returns the shell constant of an OCF code ("OCF_NOT_RUNNING").
func OCFSymbol(c Code) string {
	if n, ok := ocfSymbols[c]; ok {
		return n
	}
	return fmt.Sprintf("OCF_UNKNOWN_%d", int(c))
}

// LSB status codes (LSB 3.0, init script "status" action).
const (
	LSBStatusOK         Code = 0
	LSBStatusDeadPid    Code = 1
	LSBStatusDeadLock   Code = 2
	LSBStatusNotRunning Code = 3
	LSBStatusUnknown    Code = 4
)

// E is an error with an exit code and an optional hint that tells the user
// what to do. Programs print Err as "prog: error: …" and Hint as
// "prog: hint: …", then exit with Code.
type E struct {
	Code Code
	Err  error
	Hint string
}

func (e *E) Error() string { return e.Err.Error() }
func (e *E) Unwrap() error { return e.Err }

// New returns an error carrying code c.
func New(c Code, format string, args ...any) error {
	return &E{Code: c, Err: fmt.Errorf(format, args...)}
}

// Wrap attaches code c and a hint to err. A nil err stays nil.
func Wrap(c Code, err error, hint string) error {
	if err == nil {
		return nil
	}
	return &E{Code: c, Err: err, Hint: hint}
}

// WithHint returns err with a hint added, keeping any code it has.
func WithHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	var e *E
	if errors.As(err, &e) {
		return &E{Code: e.Code, Err: e.Err, Hint: hint}
	}
	return &E{Code: Error, Err: err, Hint: hint}
}

// Of returns the exit code carried by err: OK for nil, the code of the
// first *E in the chain, else Error.
func Of(err error) Code {
	if err == nil {
		return OK
	}
	var e *E
	if errors.As(err, &e) {
		return e.Code
	}
	return Error
}

// HintOf returns the hint carried by err, if any.
func HintOf(err error) string {
	var e *E
	if errors.As(err, &e) {
		return e.Hint
	}
	return ""
}
