// Package cibtest builds CIBs for tests and benchmarks.
package cibtest

import (
	"fmt"
	"strings"

	"github.com/linux-ha-go/ha/lib/cib"
)

// Generate returns a valid CIB with the given number of nodes and
// primitives: groups of four, every tenth group with a location
// constraint, an order and a colocation between neighbouring groups, a
// fence device, and a node_state per node.
func Generate(nodes, resources int) *cib.CIB {
	var b strings.Builder
	b.Grow(resources * 600)
	b.WriteString(`<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.7" epoch="1" num_updates="0" admin_epoch="0" have-quorum="1" dc-uuid="1">` + "\n")
	b.WriteString("<configuration><crm_config><cluster_property_set id=\"cib-bootstrap-options\">")
	b.WriteString(`<nvpair id="opt-stonith" name="stonith-enabled" value="true"/><nvpair id="opt-nqp" name="no-quorum-policy" value="stop"/>`)
	b.WriteString("</cluster_property_set></crm_config>\n<rsc_defaults><meta_attributes id=\"rsc-defaults\"><nvpair id=\"rsc-defaults-stick\" name=\"resource-stickiness\" value=\"100\"/></meta_attributes></rsc_defaults>\n<nodes>\n")
	for n := 1; n <= nodes; n++ {
		fmt.Fprintf(&b, `<node id="%d" uname="node%d"><instance_attributes id="nodes-%d"><nvpair id="nodes-%d-rack" name="rack" value="r%d"/></instance_attributes></node>`+"\n", n, n, n, n, n%4)
	}
	b.WriteString("</nodes>\n<resources>\n")
	fmt.Fprintf(&b, `<primitive id="fence" class="stonith" type="fence_xvm"><instance_attributes id="fence-ia"><nvpair id="fence-hl" name="pcmk_host_list" value="node1"/></instance_attributes></primitive>`+"\n")
	groups := 0
	for r := 0; r < resources; r++ {
		if r%4 == 0 {
			if r > 0 {
				b.WriteString("</group>\n")
			}
			fmt.Fprintf(&b, `<group id="g%d">`, groups)
			groups++
		}
		fmt.Fprintf(&b, `<primitive id="r%d" class="ocf" provider="heartbeat" type="IPaddr2"><instance_attributes id="r%d-ia"><nvpair id="r%d-ip" name="ip" value="10.%d.%d.%d"/></instance_attributes>`+
			`<meta_attributes id="r%d-meta"><nvpair id="r%d-mt" name="migration-threshold" value="3"/></meta_attributes>`+
			`<operations><op id="r%d-mon" name="monitor" interval="10s" timeout="20s"/><op id="r%d-start" name="start" interval="0" timeout="30s"/></operations></primitive>`,
			r, r, r, r/65536%256, r/256%256, r%256, r, r, r, r)
	}
	if resources > 0 {
		b.WriteString("</group>\n")
	}
	b.WriteString("</resources>\n<constraints>\n")
	for g := 0; g < groups; g++ {
		if g%10 == 0 {
			fmt.Fprintf(&b, `<rsc_location id="loc-g%d" rsc="g%d" node="node%d" score="200"/>`+"\n", g, g, g%nodes+1)
		}
		if g > 0 && g%5 == 0 {
			fmt.Fprintf(&b, `<rsc_order id="ord-g%d" first="g%d" then="g%d"/>`+"\n", g, g-1, g)
			fmt.Fprintf(&b, `<rsc_colocation id="col-g%d" rsc="g%d" with-rsc="g%d" score="INFINITY"/>`+"\n", g, g, g-1)
		}
	}
	b.WriteString("</constraints>\n</configuration>\n<status>\n")
	for n := 1; n <= nodes; n++ {
		fmt.Fprintf(&b, `<node_state id="%d" uname="node%d" in_ccm="true" crmd="online" join="member" expected="member"/>`+"\n", n, n)
	}
	b.WriteString("</status>\n</cib>\n")
	c, err := cib.Parse("generated", []byte(b.String()))
	if err != nil {
		panic(err)
	}
	return c
}
