package cibadmin_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/beevik/etree"

	"github.com/linux-ha-go/ha/lib/cib"
	"github.com/linux-ha-go/ha/lib/cib/cibtest"
)

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// bin returns the directory holding hb-cibadmin and hb-verify: $HA_TEST_BIN
// (make test), else a fresh build.
func bin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if d := os.Getenv("HA_TEST_BIN"); d != "" {
			if _, err := os.Stat(filepath.Join(d, "hb-cibadmin")); err == nil {
				binDir = d
				return
			}
		}
		d, err := os.MkdirTemp("", "hb-cib-bin")
		if err != nil {
			binErr = err
			return
		}
		cmd := exec.Command("go", "build", "-o", d+"/", "./cmd/hb-cibadmin", "./cmd/hb-verify")
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("build: %v\n%s", err, out)
			return
		}
		binDir = d
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian package pacemaker-cli-utils; make test-deps installs it)", tool)
		}
	}
}

const corpus = "../../../shared/conformance/pacemaker-scheduler"

func corpusDir() string {
	d := corpus
	if v := os.Getenv("HA_CONFORMANCE"); v != "" {
		d = v
	}
	if _, err := os.Stat(d); err != nil {
		// the worktree may sit elsewhere; try the shared location
		d = "/work/shared/conformance/pacemaker-scheduler"
		if _, err := os.Stat(d); err != nil {
			return ""
		}
	}
	return d
}

type run struct {
	code   int
	stdout string
	stderr string
}

func execTool(t *testing.T, file string, prog string, args ...string) run {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = append(os.Environ(), "CIB_file="+file, "LC_ALL=C")
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", prog, err)
	}
	return run{code, so.String(), se.String()}
}

// canon parses XML and returns Pacemaker's compact canonical form, so
// that layout does not count but every element, attribute (in order)
// and comment does.
func canon(t *testing.T, name, s string) string {
	t.Helper()
	if strings.TrimSpace(s) == "" {
		return ""
	}
	e, _, err := cib.ParseElement(name, []byte(s))
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, s)
	}
	return string(cib.Canonical(e))
}

// divergesInVersion lists the requests where hb-cibadmin deliberately
// bumps the version differently: cibadmin -M -c that creates a missing
// object adds it without change tracking, so Pacemaker 2.1.5 counts a
// new constraint as a status update (num_updates+1) although it changed
// the configuration; we increment epoch, so that peers holding the old
// configuration do not win a version comparison.
var divergesInVersion = map[string]bool{"-M -c": true}

func unversioned(t *testing.T, s string) string {
	e, _, err := cib.ParseElement("x", []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"epoch", "num_updates", "admin_epoch"} {
		e.RemoveAttr(a)
	}
	return string(cib.Canonical(e))
}

const unknownDoc = `<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.7" epoch="3" num_updates="4" admin_epoch="0" have-quorum="1">
  <configuration>
    <crm_config>
      <cluster_property_set id="o"><nvpair id="o-s" name="stonith-enabled" value="false"/></cluster_property_set>
    </crm_config>
    <nodes><node id="1" uname="node1" description="rack 1"/><node id="2" uname="node2"/></nodes>
    <!-- resources below -->
    <resources>
      <primitive id="ip" class="ocf" provider="heartbeat" type="IPaddr2" description="a &amp; &lt;b&gt; 'q'">
        <instance_attributes id="ip-ia"><nvpair id="ip-ia-ip" name="ip" value="10.0.0.10"/></instance_attributes>
      </primitive>
      <group id="g"><primitive id="g1" class="lsb" type="cron"/><primitive id="g2" class="systemd" type="nginx"/></group>
    </resources>
    <constraints><rsc_colocation id="c" rsc="g" with-rsc="ip" score="INFINITY"/></constraints>
    <tags><tag id="t"><obj_ref id="ip"/></tag></tags>
  </configuration>
  <status><node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/></status>
</cib>`

var oracleFiles = []string{
	"tier1/simple1.xml", "tier1/rsc-sets-seq-true.xml", "tier1/rule-int-as-integer-match.xml",
}

// TestSameAsCibadmin runs the same sequence of operations with cibadmin
// and hb-cibadmin on copies of the same CIB and compares exit codes,
// answers and the documents after each step: the same tree (compared
// in canonical form, for a readable message) and the same bytes.
func TestSameAsCibadmin(t *testing.T) {
	need(t, "cibadmin", "crm_verify")
	b := bin(t)
	inputs := map[string][]byte{
		// always there: generated CIBs, with a comment and unknown
		// elements and attributes that must survive
		"generated": cibtest.Generate(3, 10).Bytes(),
		"unknown":   []byte(unknownDoc),
	}
	if dir := corpusDir(); dir != "" {
		for _, name := range oracleFiles {
			src, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			inputs[filepath.Base(name)] = src
		}
	} else {
		t.Log("the Pacemaker conformance corpus is not present (set HA_CONFORMANCE); generated inputs only")
	}
	for name, src := range inputs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			doc, err := cib.Parse(name, src)
			if err != nil {
				t.Fatal(err)
			}
			rsc, node, nodeID, stateID := "", "", "", ""
			doc.Walk(func(e *etree.Element) {
				switch {
				case e.Tag == "primitive" && rsc == "" && e.Parent().Tag == "resources":
					rsc = cib.ID(e)
				case e.Tag == "node" && node == "":
					node, nodeID = cib.Attr(e, "uname"), cib.ID(e)
				case e.Tag == "node_state" && stateID == "":
					stateID = cib.ID(e)
				}
			})
			if rsc == "" || node == "" {
				t.Skip("no top-level primitive or node")
			}
			tmp := t.TempDir()
			ours, theirs := filepath.Join(tmp, "ours.xml"), filepath.Join(tmp, "theirs.xml")
			for _, p := range []string{ours, theirs} {
				if err := os.WriteFile(p, src, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			whole := strings.Replace(doc.String(), fmt.Sprintf(`epoch="%d"`, doc.Version().Epoch), fmt.Sprintf(`epoch="%d"`, doc.Version().Epoch+7), 1)
			wholeFile := filepath.Join(tmp, "whole.xml")
			if err := os.WriteFile(wholeFile, []byte(whole), 0o644); err != nil {
				t.Fatal(err)
			}
			steps := [][]string{
				{"-Q"},
				{"-Q", "-o", "resources"},
				{"-Q", "-o", "nodes", "-n"},
				{"-Q", "--xpath", "//primitive"},
				{"-Q", "--xpath", fmt.Sprintf("//primitive[@id='%s']", rsc)},
				{"-Q", "--xpath", "//nosuchthing"},
				{"-Q", "-e", "--xpath", "//nvpair"},
				{"-C", "-o", "constraints", "-X", fmt.Sprintf(`<rsc_location id="hbt-loc" rsc="%s" node="%s" score="100"/>`, rsc, node)},
				{"-C", "-o", "constraints", "-X", fmt.Sprintf(`<rsc_location id="hbt-loc" rsc="%s" node="%s" score="100"/>`, rsc, node)},
				{"-M", "-X", `<rsc_location id="hbt-loc" score="200"/>`},
				{"-M", "-X", `<rsc_location id="hbt-nope" score="200"/>`},
				{"-M", "-c", "-o", "constraints", "-X", fmt.Sprintf(`<rsc_location id="hbt-new" rsc="%s" node="%s" score="-INFINITY"/>`, rsc, node)},
				{"-M", "-X", fmt.Sprintf(`<primitive id="%s" description="changed"><meta_attributes id="hbt-meta"><nvpair id="hbt-nv" name="target-role" value="Stopped"/></meta_attributes></primitive>`, rsc)},
				{"-M", "-X", `<nvpair id="hbt-nv" value="Started"/>`},
				{"-D", "-X", `<rsc_location id="hbt-loc" score="999"/>`},
				{"-D", "-X", `<rsc_location id="hbt-loc"/>`},
				{"-D", "--xpath", "//nvpair[@id='hbt-nv']"},
				{"-D", "--xpath", "//nvpair[@id='hbt-nv']"},
				{"-C", "-o", "constraints", "-X", fmt.Sprintf(`<constraints><rsc_location id="hbt-a" rsc="%s" node="%s" score="1"/><rsc_location id="hbt-b" rsc="%s" node="%s" score="2"/></constraints>`, rsc, node, rsc, node)},
				{"-D", "-d", "--xpath", "//rsc_location[starts-with(@id,'hbt-')]"},
				{"-D", "-d", "--force", "--xpath", "//rsc_location[starts-with(@id,'hbt-')]"},
				{"-R", "-X", fmt.Sprintf(`<rsc_location id="hbt-new" rsc="%s" node="%s" score="5"/>`, rsc, node)},
				{"-R", "-X", `<rsc_location id="hbt-none" rsc="x" node="y" score="5"/>`},
				{"-C", "-o", "resources", "-X", `<primitive id="hbt-bad"/>`},
				// (cibadmin -C ignores --xpath and appends to <cib>, which the
				// schema then refuses; hb-cibadmin adds under the first
				// match. Not compared.)
				{"-C", "-o", "constraints", "-X", fmt.Sprintf(`<rsc_location id="hbt-x" rsc="%s" node="%s" score="7"/>`, rsc, node)},
				{"-M", "--xpath", "//constraints", "-X", `<rsc_location id="hbt-x" score="8"/>`},
				{"-R", "--xpath", "//rsc_location[@id='hbt-x']", "-X", fmt.Sprintf(`<rsc_location id="hbt-x" rsc="%s" node="%s" score="9"/>`, rsc, node)},
				{"-C", "-o", "crm_config", "-X", `<cluster_property_set id="hbt-props"><nvpair id="hbt-count" name="hbt-count" value="5"/></cluster_property_set>`},
				{"-M", "-X", `<nvpair id="hbt-count" value="value++"/>`},
				{"-M", "-X", `<nvpair id="hbt-count" value="value+=10"/>`},
				{"-R", "-o", "crm_config", "-X", `<cluster_property_set id="hbt-props"/>`},
				{"-Q", "-o", "crm_config"},
				{"-B"},
				{"-M", "-X", `<cib have-quorum="0"/>`},
				{"-M", "-c", "-o", "status", "-X", fmt.Sprintf(`<node_state id="%s" uname="%s" crmd="offline"/>`, nodeID, node)},
				{"-Q", "-o", "status"},
				{"-R", "-x", wholeFile},
				{"-R", "-x", wholeFile},
				{"-E"},
				{"-E", "--force"},
				{"-Q"},
			}
			for i, st := range steps {
				o := execTool(t, ours, filepath.Join(b, "hb-cibadmin"), st...)
				p := execTool(t, theirs, "cibadmin", st...)
				label := fmt.Sprintf("step %d: cibadmin %s", i, strings.Join(st, " "))
				if o.code != p.code {
					t.Fatalf("%s: exit %d, cibadmin exit %d\nours: %s\ntheirs: %s", label, o.code, p.code, o.stderr, p.stderr)
				}
				if !strings.HasPrefix(strings.TrimSpace(p.stdout), "<") {
					if o.stdout != p.stdout {
						t.Fatalf("%s: answers differ\nours:   %s\ntheirs: %s", label, o.stdout, p.stdout)
					}
				} else {
					if o.stdout != p.stdout && p.code == 0 {
						t.Fatalf("%s: answers differ in layout\nours:\n%s\ntheirs:\n%s", label, o.stdout, p.stdout)
					}
					if a, w := canon(t, "ours", o.stdout), canon(t, "theirs", p.stdout); a != w {
						t.Fatalf("%s: answers differ\nours:   %s\ntheirs: %s", label, a, w)
					}
				}
				ob, _ := os.ReadFile(ours)
				pb, _ := os.ReadFile(theirs)
				a, w := canon(t, "ours", string(ob)), canon(t, "theirs", string(pb))
				diverges := len(st) > 1 && divergesInVersion[strings.Join(st[:2], " ")]
				if diverges {
					// Deliberate difference, see divergesInVersion: same
					// document but for the counters; carry on from theirs.
					a, w = unversioned(t, a), unversioned(t, w)
					if err := os.WriteFile(ours, pb, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if !diverges && a == w && string(ob) != string(pb) {
					t.Fatalf("%s: same document, different layout\nours:\n%s\ntheirs:\n%s", label, ob, pb)
				}
				if a != w {
					t.Fatalf("%s: documents differ\nours:   %s\ntheirs: %s", label, a, w)
				}
				if st[0] == "-B" {
					// once per file: Pacemaker's own checker accepts what we wrote
					v := exec.Command("crm_verify", "-x", ours)
					v.Env = append(os.Environ(), "LC_ALL=C")
					in := filepath.Join(tmp, "input.xml")
					os.WriteFile(in, src, 0o644)
					orig := exec.Command("crm_verify", "-x", in)
					if out, err := v.CombinedOutput(); err != nil && orig.Run() == nil {
						t.Fatalf("crm_verify refuses the CIB hb-cibadmin wrote: %v\n%s", err, out)
					}
				}
			}
		})
	}
}
