package agents

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/lrm"
)

// CheckResult is the outcome of one step of an agent check.
type CheckResult struct {
	Action  string        `json:"action"`
	Why     string        `json:"checks"`
	Want    string        `json:"want,omitempty"`
	RC      exitcode.Code `json:"rc"`
	RCName  string        `json:"rc_name,omitempty"`
	Status  string        `json:"op_status,omitempty"`
	Reason  string        `json:"exit_reason,omitempty"`
	Verdict string        `json:"verdict"` // ok, FAIL, warn
}

// CheckReport is the outcome of a whole check.
type CheckReport struct {
	Agent    string        `json:"agent"`
	Steps    []CheckResult `json:"steps"`
	Failures int           `json:"failures"`
	Warnings int           `json:"warnings"`
}

// WriteText prints one line a step and a summary.
func (c *CheckReport) WriteText(w io.Writer) error {
	for _, s := range c.Steps {
		line := fmt.Sprintf("%-4s  %-14s %s", s.Verdict, s.Action, s.Why)
		if s.Verdict != "ok" && s.Status != "" { // meta-data checks have no rc
			line += fmt.Sprintf(": got %d (%s)", int(s.RC), s.RCName)
			if s.Status != lrm.StatusDone.String() {
				line += ", " + s.Status
			}
			if s.Want != "" {
				line += ", want " + s.Want
			}
		}
		if s.Reason != "" {
			line += fmt.Sprintf(" [%s]", s.Reason)
		}
		fmt.Fprintln(w, line)
	}
	_, err := fmt.Fprintf(w, "%s: %d failures, %d warnings\n", c.Agent, c.Failures, c.Warnings)
	return err
}

func (c *CheckReport) add(r CheckResult) {
	switch r.Verdict {
	case "FAIL":
		c.Failures++
	case "warn":
		c.Warnings++
	}
	c.Steps = append(c.Steps, r)
}

// Check runs an agent through its contract (lrm.CheckPlan), like
// ocf-tester: it STARTS AND STOPS THE RESOURCE for real, under the
// resource id rsc with params. It stops at the first failure, after
// trying to stop the resource again.
func (r *Runner) Check(ctx context.Context, rsc string, a lrm.Agent, params map[string]string, timeout time.Duration) (*CheckReport, error) {
	if a.Class == lrm.Stonith {
		return nil, exitcode.Wrap(exitcode.InvalidParam, fmt.Errorf("check runs resource agents, not fence devices (%s)", a),
			fmt.Sprintf("try the fence device's actions one by one: hb-lrmd exec %s monitor, list, status", a))
	}
	rep := &CheckReport{Agent: a.String()}
	if a.Class == lrm.Service {
		a = r.ServiceClass(a)
	}
	var meta *lrm.AgentMeta
	if a.Class == lrm.OCF {
		x, err := r.Metadata(ctx, a)
		if err != nil {
			if exitcode.Of(err) == exitcode.NoSuch {
				return nil, err
			}
			rep.add(CheckResult{Action: "meta-data", Why: "meta-data is resource-agent XML", Verdict: "FAIL", Reason: err.Error()})
		} else if meta, err = lrm.ParseMetadata(x); err != nil {
			rep.add(CheckResult{Action: "meta-data", Why: "meta-data is resource-agent XML", Verdict: "FAIL", Reason: err.Error()})
		} else {
			res := CheckResult{Action: "meta-data", Why: "meta-data is resource-agent XML listing start, stop and monitor",
				RCName: exitcode.OCFName(0), Status: lrm.StatusDone.String(), Verdict: "ok"}
			var missing []string
			for _, act := range []string{"start", "stop", "monitor"} {
				if !meta.Has(act) {
					missing = append(missing, act)
				}
			}
			if len(missing) > 0 {
				res.Verdict, res.Reason = "warn", "no <action> for "+strings.Join(missing, ", ")
			}
			rep.add(res)
			if req := meta.Required(params); len(req) > 0 {
				return nil, exitcode.Wrap(exitcode.InvalidParam,
					fmt.Errorf("%s needs the parameters %s (its meta-data says required)", a, strings.Join(req, ", ")),
					"give them with -p NAME=VALUE")
			}
		}
	}
	run := func(action string) *lrm.Result {
		return r.Exec(ctx, &lrm.Op{Resource: rsc, Agent: a, Action: action, Params: params, Timeout: timeout})
	}
	plan := lrm.CheckPlan(a.Class, meta)
	if a.Class == lrm.Systemd {
		for i := range plan {
			if plan[i].Action == "status" {
				plan[i].Action = "monitor"
			}
		}
	}
	started := false
	for _, st := range plan {
		res := run(st.Action)
		cr := CheckResult{Action: st.Action, Why: st.Why, Want: st.WantText(), RC: res.RC, RCName: res.RCName,
			Status: res.StatusName, Reason: res.ExitReason, Verdict: "ok"}
		pass := res.Status == lrm.StatusDone && st.Passes(res.RC)
		if !pass {
			cr.Verdict = "FAIL"
			if st.Warn {
				cr.Verdict = "warn"
			}
		} else if cr.Verdict == "ok" {
			cr.Want = ""
		}
		rep.add(cr)
		if st.Action == "start" && pass {
			started = true
		}
		if cr.Verdict == "FAIL" {
			if started {
				run("stop")
			}
			break
		}
	}
	return rep, nil
}
