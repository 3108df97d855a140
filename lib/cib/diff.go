package cib

import (
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
)

// ChangeKind says what happened to an element.
type ChangeKind string

// Kinds of change.
const (
	Added    ChangeKind = "added"
	Removed  ChangeKind = "removed"
	Modified ChangeKind = "modified"
	Moved    ChangeKind = "moved"
)

// Change is one difference between two CIBs, addressed by an XPath that
// names ids where elements have them.
type Change struct {
	Kind    ChangeKind `json:"kind"`
	Path    string     `json:"path"`
	Attr    string     `json:"attr,omitempty"`
	Old     string     `json:"old,omitempty"`
	New     string     `json:"new,omitempty"`
	Element string     `json:"element,omitempty"` // the added or removed XML
}

// Difference is the result of Diff.
type Difference struct {
	From    Version  `json:"from"`
	To      Version  `json:"to"`
	Changes []Change `json:"changes"`
}

// Diff compares two CIBs. Children are matched by tag and id (by tag
// and position among their id-less siblings otherwise). The version
// attributes and cib-last-written of <cib> are reported in From/To, not
// as changes.
func Diff(a, b *CIB) *Difference {
	d := &Difference{From: a.Version(), To: b.Version()}
	diffElem(d, a.Root(), b.Root(), "/cib")
	return d
}

var versionAttrs = map[string]bool{"admin_epoch": true, "epoch": true, "num_updates": true, "cib-last-written": true}

func key(e *etree.Element, n int) string {
	if HasAttr(e, "id") {
		return e.FullTag() + "\x00" + ID(e)
	}
	return fmt.Sprintf("%s\x01%d", e.FullTag(), n)
}

func step(e *etree.Element, n int) string {
	if HasAttr(e, "id") {
		return fmt.Sprintf("/%s[@id='%s']", e.FullTag(), ID(e))
	}
	if n > 0 {
		return fmt.Sprintf("/%s[%d]", e.FullTag(), n+1)
	}
	return "/" + e.FullTag()
}

func keyed(e *etree.Element) ([]string, map[string]*etree.Element, map[string]int) {
	var keys []string
	m := map[string]*etree.Element{}
	ord := map[string]int{}
	count := map[string]int{}
	for _, c := range e.ChildElements() {
		n := 0
		if !HasAttr(c, "id") {
			n = count[c.FullTag()]
			count[c.FullTag()]++
		}
		k := key(c, n)
		if _, dup := m[k]; dup {
			k = fmt.Sprintf("%s\x02%d", k, len(keys))
		}
		ord[k] = n
		keys = append(keys, k)
		m[k] = c
	}
	return keys, m, ord
}

func diffElem(d *Difference, a, b *etree.Element, path string) {
	root := path == "/cib"
	for _, at := range a.Attr {
		if root && versionAttrs[at.FullKey()] {
			continue
		}
		if nb := b.SelectAttr(at.FullKey()); nb == nil {
			d.Changes = append(d.Changes, Change{Kind: Modified, Path: path, Attr: at.FullKey(), Old: at.Value})
		} else if nb.Value != at.Value {
			d.Changes = append(d.Changes, Change{Kind: Modified, Path: path, Attr: at.FullKey(), Old: at.Value, New: nb.Value})
		}
	}
	for _, bt := range b.Attr {
		if root && versionAttrs[bt.FullKey()] {
			continue
		}
		if a.SelectAttr(bt.FullKey()) == nil {
			d.Changes = append(d.Changes, Change{Kind: Modified, Path: path, Attr: bt.FullKey(), New: bt.Value})
		}
	}
	ak, am, ao := keyed(a)
	bk, bm, bo := keyed(b)
	// common keys in a's order, to detect moves
	var commonA, commonB []string
	for _, k := range ak {
		if _, ok := bm[k]; ok {
			commonA = append(commonA, k)
		}
	}
	for _, k := range bk {
		if _, ok := am[k]; ok {
			commonB = append(commonB, k)
		}
	}
	for _, k := range ak {
		if _, ok := bm[k]; !ok {
			d.Changes = append(d.Changes, Change{Kind: Removed, Path: path + step(am[k], ao[k]), Element: strings.TrimSpace(ElementString(am[k]))})
		}
	}
	for i, k := range commonB {
		p := path + step(bm[k], bo[k])
		if commonA[i] != k {
			d.Changes = append(d.Changes, Change{Kind: Moved, Path: p})
		}
		diffElem(d, am[k], bm[k], p)
	}
	for _, k := range bk {
		if _, ok := am[k]; !ok {
			d.Changes = append(d.Changes, Change{Kind: Added, Path: path + step(bm[k], bo[k]), Element: strings.TrimSpace(ElementString(bm[k]))})
		}
	}
}

// WriteText prints the difference for people, one change a line.
func (d *Difference) WriteText(w io.Writer) error {
	if d.From != d.To {
		if _, err := fmt.Fprintf(w, "version %s -> %s\n", d.From, d.To); err != nil {
			return err
		}
	}
	for _, c := range d.Changes {
		var err error
		switch {
		case c.Kind == Modified && c.Old == "" && c.New != "":
			_, err = fmt.Fprintf(w, "~ %s @%s=%q (added)\n", c.Path, c.Attr, c.New)
		case c.Kind == Modified && c.New == "" && c.Old != "":
			_, err = fmt.Fprintf(w, "~ %s @%s (removed, was %q)\n", c.Path, c.Attr, c.Old)
		case c.Kind == Modified:
			_, err = fmt.Fprintf(w, "~ %s @%s: %q -> %q\n", c.Path, c.Attr, c.Old, c.New)
		case c.Kind == Added:
			_, err = fmt.Fprintf(w, "+ %s\n", c.Path)
		case c.Kind == Removed:
			_, err = fmt.Fprintf(w, "- %s\n", c.Path)
		case c.Kind == Moved:
			_, err = fmt.Fprintf(w, "^ %s (moved)\n", c.Path)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
