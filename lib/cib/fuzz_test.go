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

// FuzzApply: any request XML, with any operation, section and XPath,
// either fails cleanly or leaves a document that writes and re-parses
// to the same tree; the input document is never changed.
func FuzzApply(f *testing.F) {
	f.Add(uint8(2), uint8(0), `<node id="1" uname="b"/>`, "")
	f.Add(uint8(1), uint8(3), `<rsc_location id="l" rsc="ip" node="a" score="1"/>`, "")
	f.Add(uint8(3), uint8(0), `<primitive id="ip" x-note="x-note++"/>`, "//primitive")
	f.Add(uint8(4), uint8(0), `<x-section id="xs"/>`, "")
	f.Add(uint8(5), uint8(2), `<resources/>`, "")
	f.Add(uint8(0), uint8(1), ``, "//*[@id]")
	f.Add(uint8(6), uint8(0), ``, "")
	ops := []Kind{Query, Create, Modify, Replace, Delete, Erase, Bump}
	secs := []string{"", "nodes", "resources", "constraints", "status", "configuration", "cib", "bogus"}
	base, err := Parse("doc", []byte(unknownDoc))
	if err != nil {
		f.Fatal(err)
	}
	orig := base.String()
	f.Fuzz(func(t *testing.T, op, sec uint8, input, xpath string) {
		r := &Request{Op: ops[int(op)%len(ops)], Section: secs[int(sec)%len(secs)], Input: input, XPath: xpath,
			AllowCreate: sec&8 != 0, Multiple: sec&16 != 0, Force: sec&32 != 0, NoChildren: sec&64 != 0, NodePath: sec&128 != 0}
		next, _, err := Perform(base, r)
		if base.String() != orig {
			t.Fatalf("%+v changed the input document", r)
		}
		if err != nil || next == nil {
			return
		}
		out := next.Bytes()
		again, perr := Parse("again", out)
		if perr != nil {
			if next.Root().Tag != "cib" {
				return // a replace of the root by another element; validation refuses it
			}
			t.Fatalf("%+v: result does not parse: %v\n%s", r, perr, out)
		}
		if !Equal(again.Root(), next.Root()) {
			t.Fatalf("%+v: result does not round-trip", r)
		}
	})
}
