package cib

import (
	"strings"
	"testing"

	"github.com/linux-ha-go/ha/lib/exitcode"
)

const opsDoc = `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7">
<configuration><crm_config><cluster_property_set id="o"><nvpair id="n" name="count" value="5"/></cluster_property_set></crm_config>
<nodes><node id="1" uname="a"/><node id="2" uname="b"/></nodes>
<resources><primitive id="ip" class="ocf" provider="heartbeat" type="IPaddr2"><operations><op id="m" name="monitor" interval="10s"/></operations></primitive>
<group id="g"><primitive id="g1" class="lsb" type="cron"/></group></resources>
<constraints><rsc_location id="l1" rsc="ip" node="a" score="1"/><rsc_location id="l2" rsc="g" node="b" score="2"/></constraints></configuration>
<status/></cib>`

// The semantics of each operation, as cibadmin has them (the oracle
// test compares with cibadmin itself when it is installed).
func TestOps(t *testing.T) {
	cases := []struct {
		name string
		r    Request
		code exitcode.Code
		has  []string // in the result document (or the answer for queries)
		not  []string
	}{
		{"query section", Request{Op: Query, Section: "nodes"}, 0, []string{`<node id="2" uname="b"/>`}, []string{"<resources"}},
		{"query no children", Request{Op: Query, Section: "resources", NoChildren: true}, 0, []string{"<resources/>"}, nil},
		{"query xpath many", Request{Op: Query, XPath: "//rsc_location"}, 0, []string{"<xpath-query>", `id="l2"`}, nil},
		{"query node path", Request{Op: Query, XPath: "//op", NodePath: true}, 0, []string{`<xpath-query-path id="/cib/configuration/resources/primitive[@id=&apos;ip&apos;]/operations/op[@id=&apos;m&apos;]"/>`}, nil},
		{"query missing", Request{Op: Query, XPath: "//nope"}, exitcode.NoSuch, nil, nil},
		{"query bad section", Request{Op: Query, Section: "bogus"}, exitcode.InvalidParam, nil, nil},
		{"create section children", Request{Op: Create, Section: "nodes", Input: `<nodes><node id="3" uname="c"/><node id="4" uname="d"/></nodes>`}, 0, []string{`<node id="3" uname="c"/>`, `<node id="4" uname="d"/>`}, nil},
		{"create exists", Request{Op: Create, Section: "constraints", Input: `<rsc_location id="l1"/>`}, exitcode.Exists, nil, nil},
		{"create without section merges", Request{Op: Create, Input: `<node id="1" uname="a" description="d"/>`}, 0, []string{`<node id="1" uname="a" description="d"/>`}, nil},
		{"modify nested", Request{Op: Modify, Input: `<primitive id="ip"><operations><op id="m" timeout="30s"/><op id="s" name="start" interval="0"/></operations></primitive>`}, 0,
			[]string{`<op id="m" name="monitor" interval="10s" timeout="30s"/>`, `<op id="s" name="start" interval="0"/>`}, nil},
		{"modify ++", Request{Op: Modify, Input: `<nvpair id="n" value="value++"/>`}, 0, []string{`value="6"`}, nil},
		{"modify +=", Request{Op: Modify, Input: `<nvpair id="n" value="value+=INFINITY"/>`}, 0, []string{`value="1000000"`}, nil},
		{"modify missing", Request{Op: Modify, Input: `<node id="9"/>`}, exitcode.NoSuch, nil, nil},
		{"modify creates section", Request{Op: Modify, Section: "rsc_defaults", AllowCreate: true, Input: `<meta_attributes id="d"/>`}, 0, []string{"<rsc_defaults>\n      <meta_attributes id=\"d\"/>"}, nil},
		{"replace in place", Request{Op: Replace, Input: `<rsc_location id="l1" rsc="ip" node="b" score="3"/>`}, 0, []string{"<rsc_location id=\"l1\" rsc=\"ip\" node=\"b\" score=\"3\"/>\n      <rsc_location id=\"l2\""}, nil},
		{"replace section", Request{Op: Replace, Section: "constraints", Input: `<constraints/>`}, 0, []string{"<constraints/>"}, []string{"l1"}},
		{"replace missing", Request{Op: Replace, Input: `<group id="zz"/>`}, exitcode.NoSuch, nil, nil},
		{"replace older cib", Request{Op: Replace, Input: `<cib epoch="0" admin_epoch="0"/>`}, exitcode.Old, nil, nil},
		{"delete needs every attribute", Request{Op: Delete, Input: `<rsc_location id="l1" score="9"/>`}, 0, []string{`id="l1"`}, nil},
		{"delete", Request{Op: Delete, Input: `<rsc_location id="l1" score="1"/>`}, 0, nil, []string{`id="l1"`}},
		{"delete section children", Request{Op: Delete, Section: "constraints", Input: `<constraints><rsc_location id="l1"/><rsc_location id="l2"/></constraints>`}, 0, nil, []string{"l1", "l2"}},
		{"delete xpath first", Request{Op: Delete, XPath: "//rsc_location"}, 0, []string{`id="l2"`}, []string{`id="l1"`}},
		{"delete xpath all needs force", Request{Op: Delete, XPath: "//rsc_location", Multiple: true}, exitcode.Unsafe, nil, nil},
		{"delete xpath all", Request{Op: Delete, XPath: "//rsc_location", Multiple: true, Force: true}, 0, nil, []string{"rsc_location"}},
		{"delete xpath root", Request{Op: Delete, XPath: "/cib"}, exitcode.InvalidParam, nil, nil},
		{"modify xpath", Request{Op: Modify, XPath: "//group", Input: `<primitive id="g1" description="x"/>`}, 0, []string{`<primitive id="g1" class="lsb" type="cron" description="x"/>`}, nil},
		{"replace xpath appends", Request{Op: Replace, XPath: "//rsc_location[@id='l1']", Input: `<rsc_location id="l1" rsc="ip" node="b" score="3"/>`}, 0,
			[]string{"<rsc_location id=\"l2\" rsc=\"g\" node=\"b\" score=\"2\"/>\n      <rsc_location id=\"l1\""}, nil},
		{"create xpath", Request{Op: Create, XPath: "//group", Input: `<primitive id="g2" class="lsb" type="atd"/>`}, 0, []string{"<primitive id=\"g1\" class=\"lsb\" type=\"cron\"/>\n        <primitive id=\"g2\""}, nil},
		{"bad input", Request{Op: Create, Section: "nodes", Input: `<node`}, exitcode.DataErr, nil, nil},
		{"erase", Request{Op: Erase, Force: true}, 0, []string{`<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.7" epoch="2" num_updates="0" admin_epoch="1">`, "<resources/>"}, []string{"ip"}},
	}
	base, err := Parse("doc", []byte(opsDoc))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			next, answer, err := Perform(base, &tc.r)
			if got := exitcode.Of(err); got != tc.code {
				t.Fatalf("exit %d (%v), want %d", got, err, tc.code)
			}
			if err != nil {
				return
			}
			out := ""
			if tc.r.Op == Query {
				out = ElementString(answer)
			} else {
				out = next.String()
			}
			for _, h := range tc.has {
				if !strings.Contains(out, h) {
					t.Errorf("missing %q in\n%s", h, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("unexpected %q in\n%s", n, out)
				}
			}
		})
	}
}

func TestScoreAndVersion(t *testing.T) {
	for s, want := range map[string]int{"INFINITY": 1000000, "+INFINITY": 1000000, "-infinity": -1000000, "12": 12, "-3": -3,
		"99999999": 1000000, "-99999999": -1000000, "red": -1000000, "green": 0, "abc": 0, "7x": 7} {
		if got := Score(s); got != want {
			t.Errorf("Score(%q) = %d, want %d", s, got, want)
		}
	}
	a, b := Version{0, 5, 3}, Version{1, 0, 0}
	if a.Compare(b) != -1 || b.Compare(a) != 1 || a.Compare(a) != 0 || a.String() != "0.5.3" {
		t.Error("version order")
	}
}
