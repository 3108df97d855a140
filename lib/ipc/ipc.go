// Package ipc is the one local socket protocol every daemon of the toolkit
// speaks (DESIGN.md, "Local IPC"): a Unix stream socket in the rundir, one
// JSON object per line. A request names an operation; a reply carries a
// result or an error with a code and a message a person can act on. A
// subscription keeps the connection open and streams events until the
// client hangs up.
//
// Request:  {"id":1,"op":"nodes","args":{...}}
// Reply:    {"id":1,"result":{...}}
// Error:    {"id":1,"error":{"code":"not-found","message":"...","hint":"...","exit":105}}
// Event:    {"id":1,"event":{...}}   (zero or more, for a subscription)
// End:      {"id":1,"end":true}      (a subscription the server ended)
package ipc

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/linux-ha-go/ha/lib/exitcode"
)

// MaxLine bounds one request or reply line (a whole CIB fits).
const MaxLine = 64 << 20

// Request is one line from a client.
type Request struct {
	ID   uint64          `json:"id"`
	Op   string          `json:"op"`
	Args json.RawMessage `json:"args,omitempty"`
}

// Reply is one line from a server.
type Reply struct {
	ID     uint64          `json:"id"`
	Result json.RawMessage `json:"result,omitempty"`
	Event  json.RawMessage `json:"event,omitempty"`
	Error  *Error          `json:"error,omitempty"`
	End    bool            `json:"end,omitempty"`
}

// Error codes carried in replies. Clients branch on these, not on text.
const (
	CodeBadRequest = "bad-request" // malformed line or arguments
	CodeUnknownOp  = "unknown-op"  // no such operation
	CodeDenied     = "denied"      // peer credentials not allowed
	CodeNotFound   = "not-found"   // named node, resource, … does not exist
	CodeExists     = "exists"      // already there
	CodeRefused    = "refused"     // the request is understood but not allowed now
	CodeOverflow   = "overflow"    // a bounded buffer is full
	CodeTimeout    = "timeout"
	CodeInternal   = "internal"
	CodeNotReady   = "not-ready" // daemon is starting
)

// Error is an error that crosses the socket.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	Exit    int    `json:"exit,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// Errorf makes an *Error with a code and the exit code a client should
// end with.
func Errorf(code string, exit exitcode.Code, format string, args ...any) *Error {
	return &Error{Code: code, Exit: int(exit), Message: fmt.Sprintf(format, args...)}
}

// WithHint returns a copy of e with hint set.
func (e *Error) WithHint(hint string) *Error {
	c := *e
	c.Hint = hint
	return &c
}

// asError turns any handler error into an *Error for the wire.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	code := exitcode.Of(err)
	return &Error{Code: CodeInternal, Message: err.Error(), Hint: exitcode.HintOf(err), Exit: int(code)}
}

// ToExit turns a wire error into an error that carries its exit code and
// hint, for a client's main to print.
func ToExit(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	code := exitcode.Code(e.Exit)
	if code == 0 {
		code = exitcode.Error
	}
	return exitcode.Wrap(code, errors.New(e.Message), e.Hint)
}

// IsCode reports whether err is a wire error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
