package haresources

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/linux-ha-go/ha/lib/cib"
)

// The scheduler (crm_simulate, the oracle) moves an imported group back
// to its preferred node with auto_failback on (stickiness 0) and leaves
// it where it runs with auto_failback off (stickiness 200).
func TestAutoFailbackWithScheduler(t *testing.T) {
	if _, err := exec.LookPath("crm_simulate"); err != nil {
		t.Skip("crm_simulate is not installed (pacemaker-cli-utils)")
	}
	gs, err := Parse("haresources", strings.NewReader("node1 exim4 cron\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stick int
		move  bool
	}{{0, true}, {200, false}} {
		c := NewCIB(Convert(gs, Options{Stickiness: tc.stick}))
		nodes := cib.Child(cib.Child(c.Root(), "configuration"), "nodes")
		n2 := nodes.CreateElement("node")
		n2.CreateAttr("id", "node2")
		n2.CreateAttr("uname", "node2")
		st := cib.Child(c.Root(), "status")
		for i, n := range []string{"node1", "node2"} {
			ns := st.CreateElement("node_state")
			for _, kv := range [][2]string{{"id", n}, {"uname", n}, {"in_ccm", "true"}, {"crmd", "online"}, {"join", "member"}, {"expected", "member"}} {
				ns.CreateAttr(kv[0], kv[1])
			}
			if i == 1 { // the group runs on node2
				rs := ns.CreateElement("lrm").CreateElement("lrm_resources")
				rs.Parent().CreateAttr("id", n)
				for j, r := range []string{"exim4", "cron"} {
					lr := rs.CreateElement("lrm_resource")
					lr.CreateAttr("id", r)
					lr.CreateAttr("class", "lsb")
					lr.CreateAttr("type", r)
					op(lr, r, j+1)
				}
			}
		}
		p := filepath.Join(t.TempDir(), "cib.xml")
		os.WriteFile(p, c.Bytes(), 0o644)
		cmd := exec.Command("crm_simulate", "-x", p, "-R")
		cmd.Env = append(os.Environ(), "LC_ALL=C", "CIB_shadow_dir="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("crm_simulate: %v\n%s", err, out)
		}
		moved := strings.Contains(string(out), "Move ")
		if moved != tc.move {
			t.Errorf("stickiness %d: moved=%v, want %v\n%s", tc.stick, moved, tc.move, out)
		}
	}
}

func op(lr *etree.Element, r string, call int) {
	o := lr.CreateElement("lrm_rsc_op")
	key := fmt.Sprintf("%d:1:0:00000000-0000-0000-0000-000000000000", call)
	for _, kv := range [][2]string{{"id", r + "_last_0"}, {"operation_key", r + "_start_0"}, {"operation", "start"},
		{"transition-key", key}, {"transition-magic", "0:0;" + key}, {"call-id", fmt.Sprint(call)}, {"rc-code", "0"},
		{"op-status", "0"}, {"interval", "0"}, {"last-rc-change", "1700000000"}, {"exec-time", "0"}, {"queue-time", "0"},
		{"op-digest", "f2317cad3d54cec5d7d7aa7d0bf35cf8"}} {
		o.CreateAttr(kv[0], kv[1])
	}
}
