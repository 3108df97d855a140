package cibverify

import (
	"fmt"
	"testing"

	"github.com/beevik/etree"
	"pgregory.net/rapid"

	"github.com/linux-ha-go/ha/lib/cib"
	"github.com/linux-ha-go/ha/lib/cib/cibtest"
)

// Random sequences of modify, create and delete requests, each applied
// the way hb-cibadmin applies them (Perform, then refuse an invalid
// result), keep the document valid, round-trip it exactly through
// write and parse, and move its version forward as Pacemaker does.
func TestRandomChangesKeepValidAndRoundTrip(t *testing.T) {
	start := cibtest.Generate(3, 12)
	rapid.Check(t, func(t *rapid.T) {
		cur := start.Copy()
		for step := 0; step < 15; step++ {
			var ids []*etree.Element
			var rscs []string
			cur.Walk(func(e *etree.Element) {
				if cib.HasAttr(e, "id") && e.Tag != "cib" {
					ids = append(ids, e)
				}
				if e.Tag == "primitive" || e.Tag == "group" {
					rscs = append(rscs, cib.ID(e))
				}
			})
			target := ids[rapid.IntRange(0, len(ids)-1).Draw(t, "target")]
			value := rapid.StringMatching(`[a-zA-Z0-9 <>&"'\t-]{0,12}`).Draw(t, "value")
			var r cib.Request
			switch rapid.IntRange(0, 3).Draw(t, "op") {
			case 0:
				r = cib.Request{Op: cib.Modify, Input: fmt.Sprintf(`<%s id=%q description=%q/>`, target.Tag, cib.ID(target), escape(value))}
			case 1:
				r = cib.Request{Op: cib.Delete, Input: fmt.Sprintf(`<%s id=%q/>`, target.Tag, cib.ID(target))}
			case 2:
				r = cib.Request{Op: cib.Create, Section: "constraints", Input: fmt.Sprintf(`<rsc_location id="p%d" rsc=%q node="node%d" score="%d"/>`,
					step, rscs[rapid.IntRange(0, len(rscs)-1).Draw(t, "rsc")], rapid.IntRange(1, 3).Draw(t, "node"), rapid.IntRange(-1000, 1000).Draw(t, "score"))}
			case 3:
				r = cib.Request{Op: cib.Delete, XPath: fmt.Sprintf("//*[@id=%q]", cib.ID(target))}
			}
			next, _, err := cib.Perform(cur, &r)
			if err != nil {
				continue
			}
			if Refuse(next) != nil {
				continue // hb-cibadmin writes nothing
			}
			old, nv := cur.Version(), next.Version()
			changed := !cib.Equal(cur.Root(), next.Root())
			switch {
			case !changed && nv != old:
				t.Fatalf("%+v: no change but version %s -> %s", r, old, nv)
			case changed && cib.ConfigChanged(cur, next) && (nv.Epoch != old.Epoch+1 || nv.NumUpdates != 0):
				t.Fatalf("%+v: configuration changed, version %s -> %s", r, old, nv)
			}
			out := next.Bytes()
			again, err := cib.Parse("again", out)
			if err != nil {
				t.Fatalf("%+v: written CIB does not parse: %v", r, err)
			}
			if !cib.Equal(again.Root(), next.Root()) || string(again.Bytes()) != string(out) {
				t.Fatalf("%+v: round trip is not exact", r)
			}
			if err := Refuse(again); err != nil {
				t.Fatalf("%+v: re-read document is invalid: %v", r, err)
			}
			cur = again
		}
	})
}

func escape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '&':
			b = append(b, "&amp;"...)
		case '"':
			b = append(b, "&quot;"...)
		case '\t':
			b = append(b, "&#9;"...)
		default:
			b = append(b, s[i])
		}
	}
	return string(b)
}
