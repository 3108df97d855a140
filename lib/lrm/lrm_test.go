package lrm

import (
	"encoding/xml"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/linux-ha-go/ha/lib/exitcode"
)

func TestParseAgent(t *testing.T) {
	good := map[string]Agent{
		"ocf:heartbeat:Dummy":    {OCF, "heartbeat", "Dummy"},
		"OCF:pacemaker:Stateful": {OCF, "pacemaker", "Stateful"},
		"lsb:cron":               {LSB, "", "cron"},
		"heartbeat:IPaddr2":      {Heartbeat, "", "IPaddr2"},
		"systemd:sshd":           {Systemd, "", "sshd"},
		"systemd:getty@tty1":     {Systemd, "", "getty@tty1"},
		"stonith:fence_xvm":      {Stonith, "", "fence_xvm"},
		"stonith:external/ssh":   {Stonith, "", "external/ssh"},
		"systemd:foo.service":    {Systemd, "", "foo.service"},
		"ocf:linbit:drbd":        {OCF, "linbit", "drbd"},
	}
	for s, want := range good {
		got, err := ParseAgent(s)
		if err != nil || got != want {
			t.Errorf("ParseAgent(%q) = %+v, %v; want %+v", s, got, err, want)
		}
		if err == nil && got.String() != strings.Replace(s, "OCF", "ocf", 1) {
			t.Errorf("String() = %q, want %q", got.String(), s)
		}
	}
	bad := map[string]string{
		"Dummy":                 "has no class",
		"ocf:Dummy":             "needs a provider",
		"ocf::Dummy":            "needs a provider",
		"foo:bar":               "unknown class",
		"lsb:../../bin/sh":      "not a valid name",
		"ocf:heartbeat:../x":    "not a valid name",
		"ocf:..:x":              "not a valid name",
		"lsb:a/b":               "not a valid name",
		"stonith:/usr/bin/true": "not a valid name",
		"lsb:":                  "empty type",
	}
	for s, frag := range bad {
		_, err := ParseAgent(s)
		if err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("ParseAgent(%q) error %v, want it to say %q", s, err, frag)
		}
	}
}

func TestParseHaresource(t *testing.T) {
	for _, c := range []struct {
		in     string
		agent  Agent
		params map[string]string
	}{
		{"httpd", Agent{Heartbeat, "", "httpd"}, map[string]string{}},
		{"IPaddr2::10.0.0.5/24/eth0", Agent{Heartbeat, "", "IPaddr2"}, map[string]string{"1": "10.0.0.5/24/eth0"}},
		{"drbddisk::r0", Agent{Heartbeat, "", "drbddisk"}, map[string]string{"1": "r0"}},
		{"Filesystem::/dev/drbd0::/db::ext4", Agent{Heartbeat, "", "Filesystem"},
			map[string]string{"1": "/dev/drbd0", "2": "/db", "3": "ext4"}},
		{"10.0.0.5", Agent{Heartbeat, "", "IPaddr"}, map[string]string{"1": "10.0.0.5"}},
		{"10.0.0.5/24/eth0", Agent{Heartbeat, "", "IPaddr"}, map[string]string{"1": "10.0.0.5/24/eth0"}},
	} {
		a, p, err := ParseHaresource(c.in)
		if err != nil || a != c.agent || !cmp.Equal(p, c.params) {
			t.Errorf("ParseHaresource(%q) = %v %v %v", c.in, a, p, err)
		}
	}
	if _, _, err := ParseHaresource("../x::1"); err == nil {
		t.Error("a path escaping resource.d was accepted")
	}
}

func TestHeartbeatArgs(t *testing.T) {
	got := HeartbeatArgs(map[string]string{"1": "a", "2": "b", "4": "gap", "x": "y"}, "start")
	if !cmp.Equal(got, []string{"a", "b", "start"}) {
		t.Fatalf("args %q", got)
	}
	if got := HeartbeatArgs(nil, "status"); !cmp.Equal(got, []string{"status"}) {
		t.Fatalf("args %q", got)
	}
}

func TestExitReason(t *testing.T) {
	for in, want := range map[string]string{
		"":            "",
		"no reason\n": "",
		"ocf-exit-reason:IP address is mandatory\n":                  "IP address is mandatory",
		"x\nocf-exit-reason: first\nocf-exit-reason:second \nmore\n": "second",
		"INFO: ocf-exit-reason:inline":                               "inline",
		"ocf-exit-reason:" + strings.Repeat("é", 100):                strings.Repeat("é", 64),
	} {
		if got := ExitReason(in); got != want {
			t.Errorf("ExitReason(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOCFRC(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 190, 191} {
		if rc, why := OCFRC(n); int(rc) != n || why != "" {
			t.Errorf("OCFRC(%d) = %d %q", n, rc, why)
		}
	}
	rc, why := OCFRC(42)
	if rc != exitcode.OCFErrGeneric || !strings.Contains(why, "42") || !strings.Contains(why, "not an OCF exit code") {
		t.Errorf("OCFRC(42) = %d %q", rc, why)
	}
}

func TestLSBRC(t *testing.T) {
	for _, c := range []struct {
		action string
		exit   int
		want   exitcode.Code
	}{
		{"status", 0, 0}, {"status", 1, 7}, {"status", 2, 7}, {"status", 3, 7}, {"status", 4, 1},
		{"monitor", 3, 7}, {"status", 150, 5}, {"status", 151, 4}, {"status", 99, 1},
		{"start", 0, 0}, {"start", 1, 1}, {"start", 5, 5}, {"stop", 7, 7}, {"start", 8, 1}, {"stop", 255, 1},
	} {
		if got, _ := LSBRC(c.action, c.exit); got != c.want {
			t.Errorf("LSBRC(%s, %d) = %d, want %d", c.action, c.exit, got, c.want)
		}
	}
	if LSBAction("monitor") != "status" || LSBAction("start") != "start" {
		t.Error("LSBAction")
	}
}

// shellJudge asks /bin/sh what heartbeat's ResourceManager decides for a
// status output, with the very case statement of we_own_resource.
func shellJudge(t *rapid.T, out string) bool {
	script := `case "$1" in
    *[Nn][Oo][Tt]\ *[Rr]unning*)	exit 3;;
    *[Rr]unning*|*OK*)			exit 0;;
    *)					exit 3;;
  esac`
	err := exec.Command("/bin/sh", "-c", script, "sh", out).Run()
	return err == nil
}

func TestHeartbeatRunningMatchesResourceManager(t *testing.T) {
	if _, err := exec.LookPath("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	frags := []string{"not", "Not", "NOT", "nOt", " ", "  ", "running", "Running", "RUNNING", "OK", "ok", "x", "\n", ":", "stopped", "INFO: "}
	rapid.Check(t, func(t *rapid.T) {
		parts := rapid.SliceOfN(rapid.SampledFrom(frags), 0, 8).Draw(t, "parts")
		out := strings.TrimRight(strings.Join(parts, ""), "\n") // backticks strip trailing newlines
		if got, want := HeartbeatRunning(out), shellJudge(t, out); got != want {
			t.Fatalf("HeartbeatRunning(%q) = %v, ResourceManager says %v", out, got, want)
		}
	})
}

func TestHeartbeatRC(t *testing.T) {
	if rc, _ := HeartbeatRC("status", 0, "INFO:  Resource is stopped"); rc != exitcode.OCFNotRunning {
		t.Errorf("stopped: %d", rc)
	}
	if rc, _ := HeartbeatRC("monitor", 7, "INFO:  Running OK"); rc != exitcode.OCFSuccess {
		t.Errorf("running with rc 7: %d (the exit code must be ignored)", rc)
	}
	if rc, _ := HeartbeatRC("start", 0, ""); rc != 0 {
		t.Error("start 0")
	}
	if rc, _ := HeartbeatRC("start", 99, ""); rc != exitcode.OCFErrGeneric {
		t.Error("start 99")
	}
}

func TestStonithAndSystemdRC(t *testing.T) {
	if rc, _ := StonithRC("status", 2); rc != exitcode.OCFNotRunning {
		t.Error("status 2 is off")
	}
	if rc, _ := StonithRC("off", 2); rc != exitcode.OCFErrGeneric {
		t.Error("off 2 is an error")
	}
	for s, want := range map[string]exitcode.Code{"active": 0, "reloading": 0, "inactive": 7, "failed": 7, "activating": 1, "deactivating": 1} {
		if rc, _ := SystemdRC(s); rc != want {
			t.Errorf("SystemdRC(%s) = %d", s, rc)
		}
	}
	if SystemdUnit("sshd") != "sshd.service" || SystemdUnit("x.socket") != "x.socket" {
		t.Error("SystemdUnit")
	}
}

func TestOCFEnv(t *testing.T) {
	op := &Op{Resource: "ip1", Agent: Agent{OCF, "heartbeat", "IPaddr2"}, Action: "monitor",
		Params:   map[string]string{"ip": "10.0.0.5", "cidr_netmask": "24", "bad-name": "x", "1x": "y"},
		Meta:     map[string]string{"notify-type": "pre", "clone_max": "2"},
		Interval: 10 * time.Second, Timeout: 20 * time.Second}
	want := []string{
		"OCF_EXIT_REASON_PREFIX=ocf-exit-reason:", "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_RESKEY_CRM_meta_clone_max=2", "OCF_RESKEY_CRM_meta_interval=10000",
		"OCF_RESKEY_CRM_meta_notify_type=pre", "OCF_RESKEY_CRM_meta_timeout=20000",
		"OCF_RESKEY_cidr_netmask=24", "OCF_RESKEY_crm_feature_set=3.16.2", "OCF_RESKEY_ip=10.0.0.5",
		"OCF_RESOURCE_INSTANCE=ip1", "OCF_RESOURCE_PROVIDER=heartbeat", "OCF_RESOURCE_TYPE=IPaddr2",
		"OCF_ROOT=/usr/lib/ocf", "PATH=" + BasePath,
	}
	if got := OCFEnv(op, "/usr/lib/ocf"); !cmp.Equal(got, want) {
		t.Fatal(cmp.Diff(want, got))
	}
}

func TestFenceStdin(t *testing.T) {
	b, err := FenceStdin("reboot", map[string]string{"port": "node2", "ipaddr": "10.0.0.1"})
	if err != nil || string(b) != "action=reboot\nipaddr=10.0.0.1\nport=node2\n" {
		t.Fatalf("%q %v", b, err)
	}
	if _, err := FenceStdin("on", map[string]string{"x": "a\nb"}); err == nil {
		t.Fatal("newline in a value accepted")
	}
	if FenceAction("meta-data") != "metadata" {
		t.Fatal("FenceAction")
	}
	if a, err := GlueStonithArgs("reboot", "n1"); err != nil || !cmp.Equal(a, []string{"-T", "reset", "n1"}) {
		t.Fatal(a, err)
	}
	if _, err := GlueStonithArgs("off", ""); err == nil {
		t.Fatal("off without target")
	}
	if FenceTarget(map[string]string{"plug": "p"}) != "p" {
		t.Fatal("FenceTarget")
	}
}

func TestHistory(t *testing.T) {
	var h History
	t0 := time.Unix(1000, 0)
	mon := func(call int64, rc exitcode.Code, at int) *Result {
		return &Result{Resource: "d", Action: "monitor", Interval: 10 * time.Second, CallID: call, RC: rc, Start: t0.Add(time.Duration(at) * time.Second)}
	}
	if !h.Record(&Result{Resource: "d", Action: "start", CallID: 1, Start: t0}) {
		t.Fatal("one-shot results are always news")
	}
	if !h.Record(mon(2, 0, 1)) {
		t.Fatal("first monitor result is news")
	}
	if h.Record(mon(3, 0, 11)) {
		t.Fatal("unchanged monitor result repeated")
	}
	r := mon(4, 7, 21)
	if !h.Record(r) || !r.LastRCChange.Equal(t0.Add(21*time.Second)) {
		t.Fatal("changed monitor result not news, or last-rc-change wrong")
	}
	r5 := mon(5, 7, 31)
	if h.Record(r5) || !r5.LastRCChange.Equal(t0.Add(21*time.Second)) {
		t.Fatal("last-rc-change must stay at the change")
	}
	if h.LastFailure == nil || h.LastFailure.CallID != 5 {
		t.Fatalf("last failure %+v", h.LastFailure)
	}
	if got := h.Sorted(); len(got) != 2 || got[0].Action != "start" || got[1].CallID != 5 {
		t.Fatalf("sorted %+v", got)
	}
	probe := &Result{Action: "monitor", RC: 7}
	if Failed(probe) {
		t.Fatal("a probe finding the resource stopped is not a failure")
	}
	if !Failed(&Result{Action: "start", Status: StatusTimeout}) {
		t.Fatal("a timeout is a failure")
	}
}

func TestParseLSBHeaderAndMetadata(t *testing.T) {
	script := `#!/bin/sh
### BEGIN INIT INFO
# Provides:          hbtest
# Required-Start:    $remote_fs $syslog
# Required-Stop:     $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: test <service> & co
# Description:       a service used
#                    by the tests
### END INIT INFO
echo hi
`
	h := ParseLSBHeader(script)
	if h.Provides != "hbtest" || h.Description != "a service used by the tests" || h.DefaultStop != "0 1 6" {
		t.Fatalf("%+v", h)
	}
	for _, x := range []string{LSBMetadata("hbtest", h), HeartbeatMetadata("IPaddr2"), SystemdMetadata("sshd.service")} {
		var v struct {
			XMLName xml.Name
			Short   string `xml:"shortdesc"`
		}
		if err := xml.Unmarshal([]byte(x), &v); err != nil || v.XMLName.Local != "resource-agent" {
			t.Fatalf("not resource-agent XML: %v\n%s", err, x)
		}
	}
	if !strings.Contains(LSBMetadata("hbtest", h), "test &lt;service&gt; &amp; co") {
		t.Fatal("short description not escaped")
	}
}

func FuzzParseAgent(f *testing.F) {
	for _, s := range []string{"ocf:heartbeat:Dummy", "lsb:cron", "stonith:external/ssh", "ocf::", "x", "heartbeat:a:b", "ocf:a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAgent(s)
		if err != nil {
			return
		}
		if strings.Contains(a.Type, "..") || strings.HasPrefix(a.Type, "/") || strings.Contains(a.Provider, "/") {
			t.Fatalf("%q gave an unsafe agent %+v", s, a)
		}
		b, err := ParseAgent(a.String())
		if err != nil || b != a {
			t.Fatalf("round trip of %q: %+v %v", s, b, err)
		}
	})
}

func FuzzParseHaresource(f *testing.F) {
	for _, s := range []string{"IPaddr::10.0.0.1/24", "10.0.0.1", "Filesystem::/dev/drbd0::/db::ext4", "::", "a::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, p, err := ParseHaresource(s)
		if err != nil {
			return
		}
		if a.Class != Heartbeat || strings.Contains(a.Type, "/") {
			t.Fatalf("%q: %+v", s, a)
		}
		args := HeartbeatArgs(p, "status")
		if len(args) != len(p)+1 {
			t.Fatalf("%q: args %q from %v", s, args, p)
		}
	})
}

func FuzzExitReason(f *testing.F) {
	for _, s := range []string{"ocf-exit-reason:x\n", "a\nocf-exit-reason:" + strings.Repeat("ü", 80), ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := ExitReason(s)
		if len(r) > MaxExitReason || strings.Contains(r, "\n") {
			t.Fatalf("reason %q", r)
		}
	})
}

func FuzzParseLSBHeader(f *testing.F) {
	f.Add("### BEGIN INIT INFO\n# Provides: x\n# Description: a\n#  b\n### END INIT INFO\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		h := ParseLSBHeader(s)
		var v struct{ XMLName xml.Name }
		if err := xml.Unmarshal([]byte(LSBMetadata("x", h)), &v); err != nil {
			// invalid UTF-8 in the header may make the XML invalid; the
			// rest must always parse
			if strings.ToValidUTF8(s, "") == s {
				t.Fatalf("metadata from %q is not XML: %v", s, err)
			}
		}
	})
}

func TestParseMetadataAndCheckPlan(t *testing.T) {
	m, err := ParseMetadata(`<?xml version="1.0"?>
<resource-agent name="Stateful" version="1.1">
<shortdesc lang="en">Example stateful resource agent</shortdesc>
<parameters>
<parameter name="state" unique="1"><content type="string" default="/var/run/Stateful"/></parameter>
<parameter name="ip" required="1"><content type="string"/></parameter>
</parameters>
<actions>
<action name="start" timeout="20s"/><action name="stop" timeout="20s"/>
<action name="monitor" depth="0" timeout="20s" interval="10s" role="Promoted"/>
<action name="promote" timeout="10s"/><action name="demote" timeout="10s"/>
</actions>
</resource-agent>`)
	if err != nil || m.Name != "Stateful" || !m.Has("promote") || m.Has("notify") || m.Parameters[0].Content.Default != "/var/run/Stateful" {
		t.Fatalf("%v %+v", err, m)
	}
	if got := m.Required(map[string]string{"state": "x"}); !cmp.Equal(got, []string{"ip"}) {
		t.Fatalf("required %v", got)
	}
	var actions []string
	for _, s := range CheckPlan(OCF, m) {
		actions = append(actions, s.Action)
	}
	want := []string{"validate-all", "monitor", "start", "monitor", "start", "promote", "monitor", "promote", "demote", "monitor",
		"stop", "monitor", "stop", "no-such-action"}
	if !cmp.Equal(actions, want) {
		t.Fatal(cmp.Diff(want, actions))
	}
	for _, s := range CheckPlan(LSB, nil) {
		if s.Action == "monitor" || s.Action == "promote" || s.Action == "validate-all" {
			t.Fatalf("lsb plan has %s", s.Action)
		}
	}
	if _, err := ParseMetadata("<html/>"); err == nil {
		t.Fatal("html accepted as meta-data")
	}
	step := CheckStep{Want: []exitcode.Code{0, 8}}
	if !step.Passes(8) || step.Passes(7) || step.WantText() != "0 (ok) or 8 (promoted)" {
		t.Fatal(step.WantText())
	}
}

func FuzzParseMetadata(f *testing.F) {
	f.Add(`<resource-agent name="x"><actions><action name="start"/></actions></resource-agent>`)
	f.Add(`<resource-agent><parameters><parameter name="a" required="1"/></parameters></resource-agent>`)
	f.Add("<x/>")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMetadata(s)
		if err != nil {
			return
		}
		for _, p := range m.Required(nil) {
			if p == "" && len(m.Parameters) == 0 {
				t.Fatal("required parameter from nowhere")
			}
		}
		CheckPlan(OCF, m)
	})
}
