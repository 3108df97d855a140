package haresources

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/linux-ha-go/ha/lib/cib"
)

func TestParse(t *testing.T) {
	f, err := os.Open("testdata/haresources")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gs, err := Parse("haresources", f)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 2 {
		t.Fatalf("%d groups: %+v", len(gs), gs)
	}
	g := gs[0]
	if g.Node != "node1" || g.Line != 4 || len(g.Resources) != 4 || g.Key() != "drbddisk::r0" {
		t.Fatalf("group 1: %+v", g)
	}
	if r := g.Resources[1]; r.Script != "Filesystem" || strings.Join(r.Args, ",") != "/dev/drbd0,/db,ext4" {
		t.Errorf("Filesystem: %+v", r)
	}
	if r := g.Resources[3]; r.Script != "IPaddr" || r.Args[0] != "10.0.0.10/24/eth0" {
		t.Errorf("IP shorthand: %+v", r)
	}
	if gs[1].Line != 8 || gs[1].Resources[0].String() != "IPaddr::192.168.1.20" {
		t.Errorf("group 2: %+v", gs[1])
	}
}

func TestParseErrors(t *testing.T) {
	for in, want := range map[string]string{
		"node1\n":                              "hr:1: node \"node1\" has no resources",
		"node1 a\n\nnode2 a\n":                 "hr:3: resource group key a is already used on line 1",
		"node1 Filesystem::::/db\n":            "hr:1: resource \"Filesystem::::/db\" has an empty argument",
		"# c\nnode1 ::x\n":                     "hr:2: resource \"::x\" has no script name",
		"node1 a \\\n b \\\n\nnode1 ../../x\n": "hr:4: resource \"../../x\": the script name must be a plain file name",
	} {
		_, err := Parse("hr", strings.NewReader(in))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: got %v, want %s", in, err, want)
		}
	}
}

func TestAutoFailback(t *testing.T) {
	d := t.TempDir()
	for content, want := range map[string]string{
		"node a\nauto_failback off\n": "off",
		"auto_failback on # yes\n":    "on",
		"nice_failback on\n":          "off",
		"auto_failback legacy\n":      "legacy",
	} {
		p := filepath.Join(d, "ha.cf")
		os.WriteFile(p, []byte(content), 0o644)
		v, ok, err := AutoFailback(p)
		if err != nil || !ok || v != want {
			t.Errorf("%q: %q %v %v", content, v, ok, err)
		}
	}
	os.WriteFile(filepath.Join(d, "ha.cf"), []byte("auto_failback maybe\n"), 0o644)
	if _, _, err := AutoFailback(filepath.Join(d, "ha.cf")); err == nil || !strings.Contains(err.Error(), "ha.cf:1:") {
		t.Errorf("bad value: %v", err)
	}
	if _, ok, err := AutoFailback(filepath.Join(d, "none")); ok || err != nil {
		t.Errorf("missing file: %v %v", ok, err)
	}
}

func convertTestdata(t *testing.T, stick int) *cib.CIB {
	f, _ := os.Open("testdata/haresources")
	defer f.Close()
	gs, err := Parse("haresources", f)
	if err != nil {
		t.Fatal(err)
	}
	return NewCIB(Convert(gs, Options{Stickiness: stick}))
}

func TestConvert(t *testing.T) {
	c := convertTestdata(t, 200)
	s := c.String()
	for _, want := range []string{
		`<group id="group_drbddisk_r0">`,
		`<nvpair id="group_drbddisk_r0-meta_attributes-resource-stickiness" name="resource-stickiness" value="200"/>`,
		`<primitive id="drbddisk_r0" class="heartbeat" type="drbddisk">`,
		`<nvpair id="drbddisk_r0-instance_attributes-1" name="1" value="r0"/>`,
		`<primitive id="Filesystem__dev_drbd0" class="ocf" provider="heartbeat" type="Filesystem">`,
		`<nvpair id="Filesystem__dev_drbd0-instance_attributes-fstype" name="fstype" value="ext4"/>`,
		`<primitive id="mysql" class="lsb" type="mysql"/>`,
		`<nvpair id="IPaddr_10.0.0.10_24_eth0-instance_attributes-cidr_netmask" name="cidr_netmask" value="24"/>`,
		`<rsc_location id="location_group_drbddisk_r0" rsc="group_drbddisk_r0" node="node1" score="100"/>`,
		`<rsc_location id="location_group_IPaddr_192.168.1.20" rsc="group_IPaddr_192.168.1.20" node="node2" score="100"/>`,
		`<node id="node2" uname="node2"/>`,
		`name="stonith-enabled" value="false"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %s in\n%s", want, s)
		}
	}
	// order within the group is the line's order
	i1, i2, i3 := strings.Index(s, `id="drbddisk_r0"`), strings.Index(s, `id="Filesystem__dev_drbd0"`), strings.Index(s, `id="mysql"`)
	if !(i1 < i2 && i2 < i3) {
		t.Error("group members out of order")
	}
}

// crm_verify (oracle) accepts the converted CIB.
func TestCrmVerifyAcceptsImport(t *testing.T) {
	if _, err := exec.LookPath("crm_verify"); err != nil {
		t.Skip("crm_verify is not installed (pacemaker-cli-utils)")
	}
	for _, stick := range []int{0, 200} {
		p := filepath.Join(t.TempDir(), "cib.xml")
		os.WriteFile(p, convertTestdata(t, stick).Bytes(), 0o644)
		cmd := exec.Command("crm_verify", "-x", p)
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("crm_verify: %v\n%s", err, out)
		}
	}
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/haresources"); err == nil {
		f.Add(string(b))
	}
	f.Add("node1 a::b \\\n c # x\n")
	f.Add("n 10.0.0.1/24/eth0/10.0.0.255\n")
	f.Fuzz(func(t *testing.T, s string) {
		gs, err := Parse("fuzz", strings.NewReader(s))
		if err != nil {
			return
		}
		c := NewCIB(Convert(gs, Options{}))
		if _, err := cib.Parse("again", c.Bytes()); err != nil {
			t.Fatalf("converted CIB does not parse: %v", err)
		}
	})
}

func TestNodes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ha.cf")
	os.WriteFile(p, []byte("node Node1 node2 # two\nnode node3\nkeepalive 2\n"), 0o644)
	nodes, err := Nodes(p)
	if err != nil || strings.Join(nodes, ",") != "node1,node2,node3" {
		t.Fatalf("%v %v", nodes, err)
	}
	gs, _ := Parse("hr", strings.NewReader("node1 a\n\nnode9 b\n"))
	if err := CheckNodes("hr", gs, nodes); err == nil || !strings.HasPrefix(err.Error(), "hr:3: bad node name \"node9\"") {
		t.Fatalf("got %v", err)
	}
	if err := CheckNodes("hr", gs, nil); err != nil {
		t.Fatal(err)
	}
}
