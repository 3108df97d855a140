package cibverify

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/linux-ha-go/ha/lib/cib"
)

const schemaBase = `<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.7" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config><cluster_property_set id="o"><nvpair id="o-s" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes>
    <resources>
      <primitive id="a" class="ocf" provider="heartbeat" type="Dummy"><operations><op id="a-m" name="monitor" interval="10s"/></operations></primitive>
      <group id="g"><primitive id="b" class="lsb" type="cron"/></group>
      <clone id="c"><primitive id="d" class="ocf" provider="pacemaker" type="Stateful"/></clone>
    </resources>
    <constraints>
      <rsc_location id="l" rsc="a" node="n1" score="10"/>
      <rsc_order id="o1" first="a" then="g" kind="Mandatory"/>
      <rsc_location id="lr" rsc="g"><rule id="lr-r" score="5"><expression id="lr-e" attribute="#uname" operation="eq" value="n2"/></rule></rsc_location>
    </constraints>
  </configuration>
  <status/>
</cib>`

// Pacemaker's own RELAX NG schema (through xmllint, the oracle) and
// hb-cibadmin's validation agree on documents broken in the ways the
// validation models; the base document is valid for both.
func TestSchemaAgreement(t *testing.T) {
	rng := "/usr/share/pacemaker/pacemaker-3.7.rng"
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint is not installed (libxml2-utils)")
	}
	if _, err := os.Stat(rng); err != nil {
		t.Skip("Pacemaker's schemas are not installed (pacemaker-common)")
	}
	cases := []struct{ name, from, to string }{
		{"valid", "", ""},
		{"no class", `class="lsb" type="cron"`, `type="cron"`},
		{"ocf without provider", `class="ocf" provider="heartbeat"`, `class="ocf"`},
		{"bad class", `class="lsb"`, `class="bogus"`},
		{"op without interval", `name="monitor" interval="10s"`, `name="monitor"`},
		{"location without score", `node="n1" score="10"`, `node="n1"`},
		{"bad score", `score="10"`, `score="abc"`},
		{"unknown resource", `rsc="a" node="n1"`, `rsc="zz" node="n1"`},
		{"duplicate id", `<rsc_location id="l" `, `<rsc_location id="a" `},
		{"empty group", `<group id="g"><primitive id="b" class="lsb" type="cron"/></group>`, `<group id="g"/>`},
		{"clone with two children", `type="Stateful"/></clone>`, `type="Stateful"/><primitive id="e" class="lsb" type="x"/></clone>`},
		{"unknown resource element", `<group id="g">`, `<gizmo id="z"/><group id="g">`},
		{"bad order kind", `kind="Mandatory"`, `kind="Sometimes"`},
		{"node without uname", `<node id="2" uname="n2"/>`, `<node id="2"/>`},
		{"nvpair without name", `name="stonith-enabled" value="false"`, `value="false"`},
		{"bad expression operation", `operation="eq"`, `operation="like"`},
		{"id not a name", `<primitive id="a" `, `<primitive id="1a" `},
		{"missing constraints", `<constraints>`, `<x-constraints>`},
		{"bad role", `<rsc_location id="l" rsc="a" node="n1" score="10"/>`, `<rsc_location id="l" rsc="a" node="n1" score="10" role="Boss"/>`},
		{"unknown primitive attribute", `<primitive id="a" `, `<primitive x-color="red" id="a" `},
		{"unknown op attribute", `name="monitor" interval="10s"`, `name="monitor" interval="10s" requires="quorum"`},
		{"unknown location attribute", `node="n1" score="10"`, `node="n1" score="10" weight="3"`},
		{"meta value (not schema)", `<group id="g">`, `<group id="g"><meta_attributes id="g-m"><nvpair id="g-m-t" name="target-role" value="Sometimes"/></meta_attributes>`},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		doc := schemaBase
		if tc.from != "" {
			if !strings.Contains(doc, tc.from) {
				t.Fatalf("%s: %q not in the base document", tc.name, tc.from)
			}
			doc = strings.Replace(doc, tc.from, tc.to, 1)
			if tc.name == "missing constraints" {
				doc = strings.Replace(doc, `</constraints>`, `</x-constraints>`, 1)
			}
		}
		p := filepath.Join(dir, "c.xml")
		os.WriteFile(p, []byte(doc), 0o644)
		out, err := exec.Command("xmllint", "--noout", "--relaxng", rng, p).CombinedOutput()
		theirs := err == nil
		c, perr := cib.Parse("c.xml", []byte(doc))
		if perr != nil {
			t.Fatalf("%s: %v", tc.name, perr)
		}
		ours := Refuse(c) == nil
		if ours != theirs {
			t.Errorf("%s: hb-cibadmin accepts=%v, Pacemaker's schema accepts=%v\n%s\n%v", tc.name, ours, theirs, out, Refuse(c))
		}
	}
}
