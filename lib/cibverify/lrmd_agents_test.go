package cibverify

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/lrm/lrmd"
	"github.com/linux-ha-go/ha/lib/testutil"
)

// With hb-lrmd running, hb-verify reads meta-data through it: the agent
// here exists only under the OCF root hb-lrmd was started with.
func TestParamsThroughHbLrmd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts hb-lrmd")
	}
	root := t.TempDir()
	agentDir := filepath.Join(root, "resource.d", "test")
	if err := os.MkdirAll(agentDir, 0o755); err != nil {
		t.Fatal(err)
	}
	agent := `#!/bin/sh
case "$1" in
meta-data) cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="Req">
<parameters>
<parameter name="needed" required="1"><content type="string"/></parameter>
<parameter name="optional"><content type="string"/></parameter>
</parameters>
<actions><action name="start" timeout="20s"/><action name="stop" timeout="20s"/><action name="monitor" timeout="20s"/><action name="meta-data" timeout="5s"/></actions>
</resource-agent>
XML
exit 0;;
*) exit 7;;
esac
`
	if err := os.WriteFile(filepath.Join(agentDir, "Req"), []byte(agent), 0o755); err != nil {
		t.Fatal(err)
	}
	rundir := t.TempDir()
	testutil.Start(t, "hb-lrmd", []string{"OCF_ROOT=" + root, "HA_RUNDIR=" + rundir}, testutil.Bin(t, "hb-lrmd"), "run")
	// The socket file exists from bind on, before hb-lrmd listens: wait
	// until it answers.
	testutil.WaitFor(t, 10*time.Second, "hb-lrmd to answer on its socket", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, err := lrmd.Dial(ctx, rundir)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	local := &LocalAgents{OCFRoot: filepath.Join(t.TempDir(), "empty")}
	agents, done := DialAgents(rundir, local)
	defer done()
	if _, ok := agents.(*LrmdAgents); !ok {
		t.Fatalf("hb-lrmd answers but DialAgents gave %T", agents)
	}
	ps, err := agents.Params("ocf", "test", "Req")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0] != (Param{Name: "needed", Required: true}) || ps[1].Required {
		t.Fatalf("params through hb-lrmd: %+v", ps)
	}
	if _, err := local.Params("ocf", "test", "Req"); err == nil {
		t.Fatal("the local look-up found the agent too: the test proves nothing")
	}
	// without a daemon, the local look-up serves
	if a, done := DialAgents(t.TempDir(), local); a != Agents(local) {
		done()
		t.Fatalf("no hb-lrmd: got %T", a)
	}
}
