package lrm

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/linux-ha-go/ha/lib/exitcode"
)

// ExitReasonPrefix marks an agent's exit reason on stderr
// (pacemaker:include/crm/services.h, PCMK_OCF_REASON_PREFIX).
const ExitReasonPrefix = "ocf-exit-reason:"

// ExitReason returns the exit reason an agent printed: the text after the
// last "ocf-exit-reason:" on stderr up to the end of its line, trimmed and
// bounded to MaxExitReason bytes, as Pacemaker's executor takes it.
func ExitReason(stderr string) string {
	i := strings.LastIndex(stderr, ExitReasonPrefix)
	if i < 0 {
		return ""
	}
	s := stderr[i+len(ExitReasonPrefix):]
	if j := strings.IndexByte(s, '\n'); j >= 0 {
		s = s[:j]
	}
	s = strings.TrimSpace(s)
	if len(s) > MaxExitReason {
		s = s[:MaxExitReason]
		for len(s) > 0 && !validUTF8Tail(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// validUTF8Tail reports whether s does not end inside a multi-byte rune.
func validUTF8Tail(s string) bool {
	for i := len(s) - 1; i >= 0 && i >= len(s)-4; i-- {
		c := s[i]
		if c < 0x80 {
			return true
		}
		if c >= 0xC0 { // a lead byte: is the rune complete?
			need := 2
			if c >= 0xF0 {
				need = 4
			} else if c >= 0xE0 {
				need = 3
			}
			return len(s)-i >= need
		}
	}
	return true
}

// IsOCFCode reports whether n is an exit code OCF defines.
func IsOCFCode(n int) bool { return (n >= 0 && n <= 9) || n == 190 || n == 191 }

// OCFRC judges an OCF agent's exit status. An exit status OCF does not
// define is a generic error, with a reason that says what the agent did.
func OCFRC(exit int) (exitcode.Code, string) {
	if IsOCFCode(exit) {
		return exitcode.Code(exit), ""
	}
	return exitcode.OCFErrGeneric, fmt.Sprintf("agent exited with %d, which is not an OCF exit code (0-9, 190, 191)", exit)
}

// LSB status codes Pacemaker adds for "status" (services.h).
const (
	LSBStatusNotInstalled = 150
	LSBStatusNoPriv       = 151
)

// LSBRC maps an LSB init script's exit status to OCF as Pacemaker does
// (services__lsb2ocf): for status (and monitor, which runs status) 0 is
// running, 1 (dead, pid file left) 2 (dead, lock file left) and 3
// (stopped) are "not running", 4 (unknown) and anything else a generic
// error; for every other action LSB and OCF share codes 0-7.
func LSBRC(action string, exit int) (exitcode.Code, string) {
	if action == "status" || action == "monitor" {
		switch exit {
		case 0:
			return exitcode.OCFSuccess, ""
		case 1, 2, 3:
			return exitcode.OCFNotRunning, ""
		case LSBStatusNotInstalled:
			return exitcode.OCFErrInstalled, ""
		case LSBStatusNoPriv:
			return exitcode.OCFErrPerm, ""
		case 4:
			return exitcode.OCFErrGeneric, "init script status is unknown (LSB status 4)"
		}
		return exitcode.OCFErrGeneric, fmt.Sprintf("init script status exited with %d, which is not an LSB status code (0-4)", exit)
	}
	if exit >= 0 && exit <= 7 {
		return exitcode.Code(exit), ""
	}
	return exitcode.OCFErrGeneric, fmt.Sprintf("init script %s exited with %d, which is not an LSB exit code (0-7)", action, exit)
}

// LSBAction returns what an init script is asked for: monitor is status.
func LSBAction(action string) string {
	if action == "monitor" {
		return "status"
	}
	return action
}

var (
	hbNotRunning = regexp.MustCompile(`(?s)[Nn][Oo][Tt] .*[Rr]unning`)
	hbRunning    = regexp.MustCompile(`[Rr]unning|OK`)
)

// HeartbeatRunning judges a heartbeat-class script's status output as
// heartbeat's ResourceManager (we_own_resource) does with the shell
// patterns *[Nn][Oo][Tt]\ *[Rr]unning* (stopped), then *[Rr]unning* or
// *OK* (started), anything else stopped. The exit code is ignored.
func HeartbeatRunning(stdout string) bool {
	if hbNotRunning.MatchString(stdout) {
		return false
	}
	return hbRunning.MatchString(stdout)
}

// HeartbeatRC judges a heartbeat-class script: status and monitor by
// their output, the other actions by exit status (0 success; 1-7 as LSB
// and OCF share them; anything else a generic error).
func HeartbeatRC(action string, exit int, stdout string) (exitcode.Code, string) {
	if action == "status" || action == "monitor" {
		if HeartbeatRunning(stdout) {
			return exitcode.OCFSuccess, ""
		}
		return exitcode.OCFNotRunning, ""
	}
	if exit >= 0 && exit <= 7 {
		return exitcode.Code(exit), ""
	}
	return exitcode.OCFErrGeneric, fmt.Sprintf("script %s exited with %d", action, exit)
}

// FenceStatus codes of the fence-agents "status" action.
const (
	FenceStatusOn  = 0
	FenceStatusErr = 1
	FenceStatusOff = 2
)

// StonithRC maps a fence agent's exit status: 0 success; for status (of
// a port) 2 means the target is off, i.e. "not running"; anything else
// a generic error.
func StonithRC(action string, exit int) (exitcode.Code, string) {
	switch {
	case exit == 0:
		return exitcode.OCFSuccess, ""
	case action == "status" && exit == FenceStatusOff:
		return exitcode.OCFNotRunning, ""
	}
	return exitcode.OCFErrGeneric, fmt.Sprintf("fence agent %s exited with %d", action, exit)
}

// SystemdRC maps a unit's ActiveState for status/monitor as Pacemaker
// does: active and reloading are running; activating and deactivating
// are pending (reported as an error with a reason: the unit is in
// transition); the rest is "not running".
func SystemdRC(activeState string) (exitcode.Code, string) {
	switch activeState {
	case "active", "reloading":
		return exitcode.OCFSuccess, ""
	case "activating", "deactivating":
		return exitcode.OCFErrGeneric, "unit is " + activeState
	case "failed":
		return exitcode.OCFNotRunning, "unit is failed"
	}
	return exitcode.OCFNotRunning, ""
}

// SystemdUnit returns a unit name with ".service" added when it has no
// unit suffix.
func SystemdUnit(t string) string {
	for _, s := range []string{".service", ".socket", ".mount", ".timer", ".target", ".path", ".swap", ".scope", ".slice", ".device", ".automount"} {
		if strings.HasSuffix(t, s) {
			return t
		}
	}
	return t + ".service"
}

// Op is everything an agent class needs to run one action.
type Op struct {
	Resource string            // resource id (OCF_RESOURCE_INSTANCE)
	Agent    Agent             //
	Action   string            // start, stop, monitor, …
	Params   map[string]string // instance attributes
	Meta     map[string]string // meta attributes, passed as CRM_meta_*
	Interval time.Duration     // recurring interval, 0 for a one-shot
	Timeout  time.Duration     //
}

// BasePath is the PATH every agent gets.
const BasePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// metaName turns a meta attribute into its CRM_meta_ form: dashes become
// underscores (Pacemaker's crm_meta_name).
func metaName(k string) string { return "CRM_meta_" + strings.ReplaceAll(k, "-", "_") }

// OCFEnv builds an OCF agent's whole environment: PATH, OCF_ROOT and the
// OCF version, OCF_EXIT_REASON_PREFIX, the resource's instance, type and provider, every
// parameter as OCF_RESKEY_name, and the meta attributes, timeout and
// interval (in ms) as OCF_RESKEY_CRM_meta_*. The result is sorted.
func OCFEnv(op *Op, ocfRoot string) []string {
	env := map[string]string{
		"PATH":                       BasePath,
		"OCF_ROOT":                   ocfRoot,
		"OCF_RA_VERSION_MAJOR":       "1",
		"OCF_RA_VERSION_MINOR":       "1",
		"OCF_RESOURCE_INSTANCE":      instance(op),
		"OCF_RESOURCE_TYPE":          op.Agent.Type,
		"OCF_RESOURCE_PROVIDER":      op.Agent.Provider,
		"OCF_RESKEY_crm_feature_set": "3.16.2",
		// the agents' helper libraries print their exit reasons with it
		"OCF_EXIT_REASON_PREFIX": ExitReasonPrefix,
	}
	for k, v := range op.Params {
		if validEnvName(k) {
			env["OCF_RESKEY_"+k] = v
		}
	}
	for k, v := range op.Meta {
		n := metaName(k)
		if validEnvName(n) {
			env["OCF_RESKEY_"+n] = v
		}
	}
	if op.Timeout > 0 {
		env["OCF_RESKEY_CRM_meta_timeout"] = strconv.FormatInt(op.Timeout.Milliseconds(), 10)
	}
	env["OCF_RESKEY_CRM_meta_interval"] = strconv.FormatInt(op.Interval.Milliseconds(), 10)
	return envList(env)
}

func instance(op *Op) string {
	if op.Resource != "" {
		return op.Resource
	}
	return op.Agent.Type
}

// PlainEnv is the environment of LSB, heartbeat and stonith agents: PATH
// and the locale, nothing of the daemon's own.
func PlainEnv(extra map[string]string) []string {
	env := map[string]string{"PATH": BasePath}
	for k, v := range extra {
		if validEnvName(k) {
			env[k] = v
		}
	}
	return envList(env)
}

func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// validEnvName reports whether a parameter name can be an environment
// variable: letters, digits and underscores, not starting with a digit.
func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// FenceStdin renders a fence agent's arguments as the key=value lines it
// reads on stdin (the fence-agents convention): action first, then the
// parameters sorted. Values with a newline are refused: the line format
// cannot carry them.
func FenceStdin(action string, params map[string]string) ([]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "action=%s\n", action)
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := params[k]
		if strings.ContainsAny(k, "=\n") || k == "" || k == "action" {
			return nil, fmt.Errorf("fence parameter %q is not a valid name", k)
		}
		if strings.Contains(v, "\n") {
			return nil, fmt.Errorf("fence parameter %s: a value cannot hold a newline", k)
		}
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	return []byte(b.String()), nil
}

// FenceAction returns the fence-agents action name: metadata for
// meta-data, the rest as is.
func FenceAction(action string) string {
	if action == "meta-data" {
		return "metadata"
	}
	return action
}

// GlueStonithArgs turns an action into cluster-glue's stonith(8)
// arguments: -T on|off|reset HOST, -S (status of the device), -l (list
// hosts), -m (meta-data). Target is the host for on, off and reboot.
func GlueStonithArgs(action, target string) ([]string, error) {
	switch action {
	case "on", "off":
		if target == "" {
			return nil, fmt.Errorf("%s needs a target host: give the parameter port (or plug, nodename)", action)
		}
		return []string{"-T", action, target}, nil
	case "reboot", "reset":
		if target == "" {
			return nil, fmt.Errorf("%s needs a target host: give the parameter port (or plug, nodename)", action)
		}
		return []string{"-T", "reset", target}, nil
	case "status", "monitor":
		return []string{"-S"}, nil
	case "list":
		return []string{"-l"}, nil
	case "metadata", "meta-data":
		return []string{"-m"}, nil
	}
	return nil, fmt.Errorf("cluster-glue stonith plugins cannot %s (they can on, off, reboot, status, monitor, list, metadata)", action)
}

// FenceTarget picks the target host from a fence operation's parameters.
func FenceTarget(params map[string]string) string {
	for _, k := range []string{"port", "plug", "nodename"} {
		if v := params[k]; v != "" {
			return v
		}
	}
	return ""
}
