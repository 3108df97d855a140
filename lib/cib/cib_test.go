package cib

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/linux-ha-go/ha/lib/exitcode"
)

func corpusFiles(t testing.TB) []string {
	t.Helper()
	d := os.Getenv("HA_CONFORMANCE")
	if d == "" {
		d = "/work/shared/conformance/pacemaker-scheduler"
	}
	files, _ := filepath.Glob(filepath.Join(d, "tier*", "*.xml"))
	if len(files) == 0 {
		t.Skip("the Pacemaker conformance corpus is not present (set HA_CONFORMANCE)")
	}
	return files
}

// Every CIB of the corpus survives parse and write: writing is
// idempotent and re-parsing gives the same tree.
func TestRoundTripCorpus(t *testing.T) {
	for _, f := range corpusFiles(t) {
		c, err := ParseFile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		b := c.Bytes()
		d, err := Parse("again", b)
		if err != nil {
			t.Fatalf("%s: re-parse: %v", f, err)
		}
		if !Equal(c.Root(), d.Root()) {
			t.Fatalf("%s: tree changed on round trip", f)
		}
		if string(d.Bytes()) != string(b) {
			t.Fatalf("%s: writing is not idempotent", f)
		}
	}
}

const unknownDoc = `<?xml version="1.0"?>
<cib epoch="3" num_updates="4" admin_epoch="0" validate-with="pacemaker-3.7" x-vendor="acme">
  <configuration>
    <crm_config/>
    <nodes><node id="1" uname="a" x-rack="r1"/></nodes>
    <resources>
      <!-- keep me -->
      <primitive id="ip" class="ocf" provider="heartbeat" type="IPaddr2" x-note="n &amp; &lt;m&gt;">
        <x-extension mode="on"><inner a="1"/></x-extension>
      </primitive>
    </resources>
    <constraints/>
    <x-section id="xs"/>
  </configuration>
  <status/>
</cib>`

// Unknown elements, attributes and comments stay where they were across
// a read-modify-write.
func TestUnknownSurvivesInPlace(t *testing.T) {
	c, err := Parse("doc", []byte(unknownDoc))
	if err != nil {
		t.Fatal(err)
	}
	next, _, err := Perform(c, &Request{Op: Modify, Input: `<node id="1" uname="a" x-rack="r1" description="changed"/>`})
	if err != nil {
		t.Fatal(err)
	}
	out := next.String()
	for _, want := range []string{
		`<cib epoch="4" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" x-vendor="acme">`,
		`<node id="1" uname="a" x-rack="r1" description="changed"/>`,
		"<!-- keep me -->\n      <primitive id=\"ip\" class=\"ocf\" provider=\"heartbeat\" type=\"IPaddr2\" x-note=\"n &amp; &lt;m&gt;\">\n        <x-extension mode=\"on\">\n          <inner a=\"1\"/>",
		"<constraints/>\n    <x-section id=\"xs\"/>\n  </configuration>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func TestVersionBumps(t *testing.T) {
	c, err := Parse("doc", []byte(unknownDoc))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		r    Request
		want Version
	}{
		{Request{Op: Modify, Input: `<node id="1" uname="a"/>`}, Version{0, 3, 4}},                                   // no change
		{Request{Op: Modify, Input: `<node id="1" uname="b"/>`}, Version{0, 4, 0}},                                   // configuration
		{Request{Op: Modify, Section: "status", AllowCreate: true, Input: `<node_state id="1"/>`}, Version{0, 3, 5}}, // status
		{Request{Op: Bump}, Version{0, 4, 5}},
		{Request{Op: Erase, Force: true}, Version{1, 4, 0}},
	}
	for _, tc := range cases {
		next, _, err := Perform(c, &tc.r)
		if err != nil {
			t.Fatalf("%+v: %v", tc.r, err)
		}
		if got := next.Version(); got != tc.want {
			t.Errorf("%+v: version %s, want %s", tc.r, got, tc.want)
		}
	}
	if _, _, err := Perform(c, &Request{Op: Erase}); exitcode.Of(err) != exitcode.Unsafe {
		t.Errorf("erase without force: %v", err)
	}
}

func TestXPath(t *testing.T) {
	c, err := Parse("doc", []byte(unknownDoc))
	if err != nil {
		t.Fatal(err)
	}
	for expr, want := range map[string]int{
		"//primitive":                 1,
		"//*[@id]":                    3,
		"/cib/configuration/*":        5,
		"//primitive/@x-note":         1,
		"//node[@uname='a']":          1,
		"//comment()/..":              1,
		"//inner/ancestor::primitive": 1,
		"//nothing":                   0,
	} {
		got, err := c.XPath(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if len(got) != want {
			t.Errorf("%s: %d matches, want %d", expr, len(got), want)
		}
	}
	if _, err := c.XPath("//["); err == nil {
		t.Error("bad XPath accepted")
	}
}

func TestSyntaxErrorsNameTheLine(t *testing.T) {
	_, err := Parse("cib.xml", []byte("<cib>\n  <configuration>\n  </cib>\n"))
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 3 || !strings.HasPrefix(err.Error(), "cib.xml:3:") {
		t.Fatalf("got %v", err)
	}
	_, err = Parse("cib.xml", []byte(`<cib a="1" a="2"/>`))
	if err == nil || !strings.Contains(err.Error(), "redefined") {
		t.Fatalf("duplicate attribute: %v", err)
	}
	c, err := Parse("cib.xml", []byte("<cib>\n\n  <configuration>\n<!-- c\n -->\n<nodes/></configuration></cib>"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := c.XPath("//nodes")
	if got := c.Where(n[0]); got != "cib.xml:6" {
		t.Fatalf("nodes at %s, want cib.xml:6", got)
	}
}

func TestStore(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := &Store{Dir: dir, Keep: 3, Now: func() time.Time { return now }}
	if _, err := s.Load(); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("empty store: %v", err)
	}
	c, err := Parse("doc", []byte(unknownDoc))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		SetAttr(c.Root(), "epoch", string(rune('5'+i)))
		if err := s.Save(c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if Attr(got.Root(), "cib-last-written") != "Fri Jan  2 03:04:05 2026" || Attr(got.Root(), "num_updates") != "0" {
		t.Errorf("stamps: %s", got.String()[:200])
	}
	if Child(got.Root(), "status") != nil {
		t.Error("status section written to disk")
	}
	backups, _ := filepath.Glob(filepath.Join(dir, "cib-*.raw"))
	if len(backups) != 3 {
		t.Errorf("%d backups, want 3 (Keep)", len(backups))
	}
	last := s.LastBackup()
	lb, err := ParseFile(last)
	if err != nil || Attr(lb.Root(), "epoch") != "8" {
		t.Errorf("last backup %s: epoch %s, want 8 (%v)", last, Attr(lb.Root(), "epoch"), err)
	}
	// a hand edit is refused, with a way out
	b, _ := os.ReadFile(s.Path())
	if err := os.WriteFile(s.Path(), []byte(strings.Replace(string(b), `uname="a"`, `uname="z"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = s.Load()
	if !errors.Is(err, ErrDigest) || exitcode.Of(err) != exitcode.Digest || !strings.Contains(exitcode.HintOf(err), last) {
		t.Fatalf("edited file: %v / hint %q", err, exitcode.HintOf(err))
	}
}

// A cib.xml and cib.xml.sig written by Pacemaker load as they are.
func TestStoreReadsPacemakerFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"pacemaker-live.xml", "pacemaker-live.xml.sig"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, strings.Replace(f, "pacemaker-live", "cib", 1)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := (&Store{Dir: dir}).Load(); err != nil {
		t.Fatal(err)
	}
}

func TestDiff(t *testing.T) {
	a, _ := Parse("a", []byte(unknownDoc))
	b, _, err := Perform(a, &Request{Op: Modify, Input: `<primitive id="ip" x-note="new"/>`})
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ = Perform(b, &Request{Op: Create, Section: "constraints", Input: `<rsc_location id="l" rsc="ip" node="a" score="1"/>`})
	b, _, _ = Perform(b, &Request{Op: Delete, Input: `<x-section id="xs"/>`})
	var sb strings.Builder
	if err := Diff(a, b).WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	want := `version 0.3.4 -> 0.6.0
~ /cib/configuration/resources/primitive[@id='ip'] @x-note: "n & <m>" -> "new"
+ /cib/configuration/constraints/rsc_location[@id='l']
- /cib/configuration/x-section[@id='xs']
`
	got := sb.String()
	// order of the removal line relative to others is fixed by the walk
	for _, line := range strings.Split(strings.TrimSpace(want), "\n") {
		if !strings.Contains(got, line) {
			t.Errorf("missing %q in\n%s", line, got)
		}
	}
	if d := Diff(a, a); len(d.Changes) != 0 {
		t.Errorf("self diff: %+v", d.Changes)
	}
}
