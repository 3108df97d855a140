package lrm

import (
	"encoding/xml"
	"fmt"
	"sort"
	"strings"

	"github.com/linux-ha-go/ha/lib/exitcode"
)

// AgentMeta is what hb-lrmd reads from an agent's meta-data.
type AgentMeta struct {
	Name       string       `xml:"name,attr" json:"name"`
	Short      string       `xml:"shortdesc" json:"shortdesc,omitempty"`
	Parameters []MetaParam  `xml:"parameters>parameter" json:"parameters,omitempty"`
	Actions    []MetaAction `xml:"actions>action" json:"actions,omitempty"`
}

// MetaParam is one <parameter>.
type MetaParam struct {
	Name     string `xml:"name,attr" json:"name"`
	Required string `xml:"required,attr" json:"required,omitempty"`
	Unique   string `xml:"unique,attr" json:"unique,omitempty"`
	Content  struct {
		Type    string `xml:"type,attr" json:"type,omitempty"`
		Default string `xml:"default,attr" json:"default,omitempty"`
	} `xml:"content" json:"content"`
}

// MetaAction is one <action>.
type MetaAction struct {
	Name     string `xml:"name,attr" json:"name"`
	Timeout  string `xml:"timeout,attr" json:"timeout,omitempty"`
	Interval string `xml:"interval,attr" json:"interval,omitempty"`
	Role     string `xml:"role,attr" json:"role,omitempty"`
	Depth    string `xml:"depth,attr" json:"depth,omitempty"`
}

// ParseMetadata reads an agent's meta-data XML; the root must be
// <resource-agent>.
func ParseMetadata(s string) (*AgentMeta, error) {
	var m struct {
		XMLName xml.Name
		AgentMeta
	}
	if err := xml.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("meta-data is not XML: %v", err)
	}
	if m.XMLName.Local != "resource-agent" {
		return nil, fmt.Errorf("meta-data's root element is <%s>, not <resource-agent>", m.XMLName.Local)
	}
	return &m.AgentMeta, nil
}

// Has reports whether the meta-data lists an action.
func (m *AgentMeta) Has(action string) bool {
	for _, a := range m.Actions {
		if a.Name == action {
			return true
		}
	}
	return false
}

// Required lists the required parameters missing from params, sorted.
func (m *AgentMeta) Required(params map[string]string) []string {
	var out []string
	for _, p := range m.Parameters {
		if (p.Required == "1" || p.Required == "true") && params[p.Name] == "" {
			out = append(out, p.Name)
		}
	}
	sort.Strings(out)
	return out
}

// CheckStep is one step of an agent check: an action and the answers
// that pass.
type CheckStep struct {
	Action string
	Want   []exitcode.Code
	Why    string // what the step checks, for people
	// Warn makes a failure a warning (the agent works, but not as well as
	// it should).
	Warn bool
}

// CheckPlan returns the steps that check an agent's contract, in the
// spirit of ocf-tester: probe while stopped, start twice, monitor, stop
// twice, monitor again, an unknown action, and for agents whose meta-data
// lists promote and demote, a promotion round. The plan starts and stops
// the resource for real.
func CheckPlan(class Class, m *AgentMeta) []CheckStep {
	ok := []exitcode.Code{exitcode.OCFSuccess}
	stopped := []exitcode.Code{exitcode.OCFNotRunning}
	mon := "monitor"
	if class == LSB || class == Heartbeat {
		mon = "status"
	}
	var steps []CheckStep
	if class == OCF {
		steps = append(steps, CheckStep{Action: "validate-all", Want: ok, Why: "the parameters are valid", Warn: true})
	}
	steps = append(steps,
		CheckStep{Action: mon, Want: stopped, Why: "a probe finds the resource stopped"},
		CheckStep{Action: "start", Want: ok, Why: "start succeeds"},
		CheckStep{Action: mon, Want: []exitcode.Code{exitcode.OCFSuccess, exitcode.OCFRunningPromoted}, Why: "monitor finds it running"},
		CheckStep{Action: "start", Want: ok, Why: "start on a running resource succeeds"},
	)
	if class == OCF && m != nil && m.Has("promote") && m.Has("demote") {
		steps = append(steps,
			CheckStep{Action: "promote", Want: ok, Why: "promote succeeds"},
			CheckStep{Action: mon, Want: []exitcode.Code{exitcode.OCFRunningPromoted}, Why: "monitor finds it promoted"},
			CheckStep{Action: "promote", Want: ok, Why: "promote on a promoted resource succeeds", Warn: true},
			CheckStep{Action: "demote", Want: ok, Why: "demote succeeds"},
			CheckStep{Action: mon, Want: ok, Why: "monitor finds it unpromoted"},
		)
	}
	steps = append(steps,
		CheckStep{Action: "stop", Want: ok, Why: "stop succeeds"},
		CheckStep{Action: mon, Want: stopped, Why: "monitor finds it stopped"},
		CheckStep{Action: "stop", Want: ok, Why: "stop on a stopped resource succeeds"},
	)
	if class == OCF {
		steps = append(steps, CheckStep{Action: "no-such-action", Want: []exitcode.Code{exitcode.OCFErrUnimplemented},
			Why: "an unknown action answers 3 (unimplemented)", Warn: true})
	}
	return steps
}

// Passes reports whether rc is one of the step's answers.
func (s CheckStep) Passes(rc exitcode.Code) bool {
	for _, w := range s.Want {
		if rc == w {
			return true
		}
	}
	return false
}

// WantText renders the expected answers: "0 (ok)" or "0 (ok) or 8 (promoted)".
func (s CheckStep) WantText() string {
	var parts []string
	for _, w := range s.Want {
		parts = append(parts, fmt.Sprintf("%d (%s)", int(w), exitcode.OCFName(w)))
	}
	return strings.Join(parts, " or ")
}
