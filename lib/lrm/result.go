package lrm

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/linux-ha-go/ha/lib/exitcode"
)

// OpStatus is how an operation's execution went, apart from the agent's
// answer (Pacemaker's op-status, written into lrm_rsc_op).
type OpStatus int

// Pacemaker's execution statuses (enum pcmk_exec_status).
const (
	StatusPending      OpStatus = -1
	StatusDone         OpStatus = 0
	StatusCancelled    OpStatus = 1
	StatusTimeout      OpStatus = 2
	StatusNotSupported OpStatus = 3
	StatusError        OpStatus = 4
	StatusNotInstalled OpStatus = 5
	StatusNotConnected OpStatus = 6
	StatusInvalid      OpStatus = 7
)

var statusNames = map[OpStatus]string{
	StatusPending: "pending", StatusDone: "complete", StatusCancelled: "cancelled",
	StatusTimeout: "timed out", StatusNotSupported: "not supported", StatusError: "error",
	StatusNotInstalled: "not installed", StatusNotConnected: "not connected", StatusInvalid: "invalid",
}

func (s OpStatus) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("status %d", int(s))
}

// MaxExitReason bounds an exit reason, as Pacemaker does.
const MaxExitReason = 128

// Result is the outcome of one operation on one resource: what
// hb-crmd writes as an lrm_rsc_op.
type Result struct {
	XMLName    xml.Name      `json:"-" xml:"result"`
	Resource   string        `json:"resource,omitempty" xml:"resource,attr,omitempty"`
	Agent      string        `json:"agent" xml:"agent,attr,omitempty"`
	Action     string        `json:"action" xml:"action,attr,omitempty"`
	Interval   time.Duration `json:"interval_ns,omitempty" xml:"interval_ns,attr,omitempty"`
	CallID     int64         `json:"call_id,omitempty" xml:"call_id,attr,omitempty"`
	RC         exitcode.Code `json:"rc" xml:"rc,attr"`
	RCName     string        `json:"rc_name" xml:"rc_name,attr,omitempty"`
	Status     OpStatus      `json:"op_status" xml:"op_status,attr"`
	StatusName string        `json:"op_status_name" xml:"op_status_name,attr,omitempty"`
	ExitReason string        `json:"exit_reason,omitempty" xml:"exit_reason,attr,omitempty"`
	// AgentExit is the raw exit status of the agent process before the
	// class's mapping (an LSB status 3 becomes RC 7); -1 when the agent
	// did not exit by itself (timeout, signal, not started).
	AgentExit int    `json:"agent_exit" xml:"agent_exit,attr"`
	Stdout    string `json:"stdout,omitempty" xml:"stdout,omitempty"`
	Stderr    string `json:"stderr,omitempty" xml:"stderr,omitempty"`
	// Truncated says the output was longer than the bound and its middle
	// was dropped.
	Truncated bool          `json:"truncated,omitempty" xml:"truncated,attr,omitempty"`
	Start     time.Time     `json:"start" xml:"start,attr,omitempty"`
	Duration  time.Duration `json:"duration_ns" xml:"duration_ns,attr,omitempty"`
	// Queued is how long the operation waited for its turn (Pacemaker's
	// queue-time; Duration is its exec-time).
	Queued       time.Duration `json:"queue_ns,omitempty" xml:"queue_ns,attr,omitempty"`
	LastRCChange time.Time     `json:"last_rc_change,omitzero" xml:"-"`
	// UserData is the requester's own data, returned as given.
	UserData string `json:"user_data,omitempty" xml:"user_data,attr,omitempty"`
}

// Key names an operation as Pacemaker's operation_key does:
// RSC_ACTION_INTERVALMS.
func (r *Result) Key() string { return OpKey(r.Resource, r.Action, r.Interval) }

// OpKey returns RSC_ACTION_INTERVALMS.
func OpKey(rsc, action string, interval time.Duration) string {
	return fmt.Sprintf("%s_%s_%d", rsc, action, interval.Milliseconds())
}

// OK reports whether the operation did what was asked: it completed and
// the agent answered success, or "not running" for a probe/stop-style
// question where that is the expected answer is up to the caller.
func (r *Result) OK() bool { return r.Status == StatusDone && r.RC == exitcode.OCFSuccess }

// Fill sets the derived name fields.
func (r *Result) Fill() {
	r.RCName = exitcode.OCFName(r.RC)
	r.StatusName = r.Status.String()
}

// Summary is one line: "Dummy start: ok (0), 12ms" plus the exit reason.
func (r *Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Agent, r.Action)
	if r.Resource != "" {
		b.Reset()
		fmt.Fprintf(&b, "%s %s", r.Resource, r.Action)
	}
	if r.Interval > 0 {
		fmt.Fprintf(&b, " every %s", r.Interval)
	}
	fmt.Fprintf(&b, ": %s (%d)", exitcode.OCFName(r.RC), int(r.RC))
	if r.Status != StatusDone {
		fmt.Fprintf(&b, ", %s", r.Status)
	}
	if r.ExitReason != "" {
		fmt.Fprintf(&b, ": %s", r.ExitReason)
	}
	return b.String()
}

// WriteText prints the result for a person, as `hb-lrmd exec` shows it.
func (r *Result) WriteText(w io.Writer) error {
	section := func(name, body string) {
		if body == "" {
			return
		}
		fmt.Fprintf(w, "%s:\n", name)
		io.WriteString(w, body)
		if !strings.HasSuffix(body, "\n") {
			io.WriteString(w, "\n")
		}
	}
	section("stdout", r.Stdout)
	section("stderr", r.Stderr)
	if r.Truncated {
		fmt.Fprintln(w, "(output was longer than the bound; its middle was dropped)")
	}
	fmt.Fprintf(w, "rc: %d (%s, %s)\n", int(r.RC), exitcode.OCFName(r.RC), exitcode.OCFSymbol(r.RC))
	if r.Status != StatusDone {
		fmt.Fprintf(w, "status: %s\n", r.Status)
	}
	if r.ExitReason != "" {
		fmt.Fprintf(w, "exit reason: %s\n", r.ExitReason)
	}
	_, err := fmt.Fprintf(w, "duration: %s\n", r.Duration.Round(time.Millisecond))
	return err
}
