package cib

import (
	"os"
	"testing"
)

// FuzzParse: whatever parses writes back to a document that parses to
// the same tree, and writing is idempotent; the digest never panics.
func FuzzParse(f *testing.F) {
	f.Add([]byte(unknownDoc))
	if b, err := os.ReadFile("testdata/pacemaker-live.xml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`<cib><configuration/><status/></cib>`))
	f.Add([]byte(`<cib a="&#9;&#10;x"><![CDATA[<x>]]><!--c--></cib>`))
	f.Add([]byte(`<cib xmlns:p="urn:x" p:a="1"><p:e/></cib>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse("fuzz", b)
		if err != nil {
			return
		}
		_ = c.Digest()
		out := c.Bytes()
		d, err := Parse("again", out)
		if err != nil {
			t.Fatalf("written document does not parse: %v\n%s", err, out)
		}
		if !Equal(c.Root(), d.Root()) {
			t.Fatalf("round trip changed the tree:\n%s\n%s", out, d.Bytes())
		}
		if string(d.Bytes()) != string(out) {
			t.Fatalf("not idempotent:\n%s\n%s", out, d.Bytes())
		}
		_, _ = c.XPath("//*[@id]")
	})
}
