package cib

import (
	"fmt"

	"github.com/antchfx/xpath"
	"github.com/beevik/etree"
)

// XPath evaluates expr against the document and returns the elements it
// selects, in document order. Selections of attributes or text yield
// their owning element.
func (c *CIB) XPath(expr string) ([]*etree.Element, error) {
	return SelectXPath(c.Root(), expr)
}

// SelectXPath evaluates expr with root as the document element.
func SelectXPath(root *etree.Element, expr string) ([]*etree.Element, error) {
	x, err := xpath.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid XPath %q: %v", expr, err)
	}
	it := x.Select(&nav{root: root, attr: -1})
	var out []*etree.Element
	seen := map[*etree.Element]bool{}
	for it.MoveNext() {
		n := it.Current().(*nav)
		e := n.cur
		if e == nil {
			e = root
		}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out, nil
}

// nav is an xpath.NodeNavigator over an etree tree. cur == nil with
// tok == nil is the document node above root; tok is set on a comment
// or text child of cur; attr >= 0 is on cur's attribute.
type nav struct {
	root *etree.Element
	cur  *etree.Element
	tok  etree.Token
	attr int
}

func (n *nav) NodeType() xpath.NodeType {
	switch {
	case n.cur == nil:
		return xpath.RootNode
	case n.attr >= 0 && n.tok == nil:
		return xpath.AttributeNode
	case n.tok != nil:
		if _, ok := n.tok.(*etree.Comment); ok {
			return xpath.CommentNode
		}
		return xpath.TextNode
	}
	return xpath.ElementNode
}

func (n *nav) LocalName() string {
	switch n.NodeType() {
	case xpath.ElementNode:
		return n.cur.Tag
	case xpath.AttributeNode:
		return n.cur.Attr[n.attr].Key
	}
	return ""
}

func (n *nav) Prefix() string {
	switch n.NodeType() {
	case xpath.ElementNode:
		return n.cur.Space
	case xpath.AttributeNode:
		return n.cur.Attr[n.attr].Space
	}
	return ""
}

func (n *nav) Value() string {
	switch n.NodeType() {
	case xpath.AttributeNode:
		return n.cur.Attr[n.attr].Value
	case xpath.TextNode:
		return n.tok.(*etree.CharData).Data
	case xpath.CommentNode:
		return n.tok.(*etree.Comment).Data
	case xpath.RootNode:
		return n.root.Text()
	}
	return n.cur.Text()
}

func (n *nav) Copy() xpath.NodeNavigator { c := *n; return &c }

func (n *nav) MoveToRoot() { n.cur, n.tok, n.attr = nil, nil, -1 }

func (n *nav) MoveToParent() bool {
	switch {
	case n.cur == nil:
		return false
	case n.attr >= 0 && n.tok == nil:
		n.attr = -1
		return true
	case n.tok != nil:
		n.tok = nil
		return true
	case n.cur == n.root:
		n.cur = nil
		return true
	}
	n.cur = n.cur.Parent()
	return n.cur != nil
}

func (n *nav) MoveToNextAttribute() bool {
	if n.cur == nil || n.tok != nil {
		return false
	}
	if n.attr+1 < len(n.cur.Attr) {
		n.attr++
		return true
	}
	return false
}

// children returns the navigable children of element e (elements,
// comments, text).
func navigable(t etree.Token) bool {
	switch t.(type) {
	case *etree.Element, *etree.Comment, *etree.CharData:
		return true
	}
	return false
}

func (n *nav) set(t etree.Token, parent *etree.Element) {
	n.attr = -1
	if e, ok := t.(*etree.Element); ok {
		n.cur, n.tok = e, nil
		return
	}
	n.cur, n.tok = parent, t
}

func (n *nav) MoveToChild() bool {
	if n.cur == nil {
		n.cur, n.tok, n.attr = n.root, nil, -1
		return true
	}
	if n.tok != nil || n.attr >= 0 {
		return false
	}
	for _, t := range n.cur.Child {
		if navigable(t) {
			n.set(t, n.cur)
			return true
		}
	}
	return false
}

// position returns the parent and index of the current node among its
// parent's tokens, or nil for the root element.
func (n *nav) position() (*etree.Element, int) {
	if n.tok != nil {
		return n.cur, tokenIndex(n.tok)
	}
	if n.cur == n.root || n.cur == nil {
		return nil, 0
	}
	return n.cur.Parent(), n.cur.Index()
}

func tokenIndex(t etree.Token) int { return t.Index() }

func (n *nav) MoveToFirst() bool {
	if n.attr >= 0 && n.tok == nil {
		return false
	}
	p, _ := n.position()
	if p == nil {
		return false
	}
	for _, t := range p.Child {
		if navigable(t) {
			n.set(t, p)
			return true
		}
	}
	return false
}

func (n *nav) MoveToNext() bool {
	if n.attr >= 0 && n.tok == nil {
		return false
	}
	p, i := n.position()
	if p == nil {
		return false
	}
	for j := i + 1; j < len(p.Child); j++ {
		if navigable(p.Child[j]) {
			n.set(p.Child[j], p)
			return true
		}
	}
	return false
}

func (n *nav) MoveToPrevious() bool {
	if n.attr >= 0 && n.tok == nil {
		return false
	}
	p, i := n.position()
	if p == nil {
		return false
	}
	for j := i - 1; j >= 0; j-- {
		if navigable(p.Child[j]) {
			n.set(p.Child[j], p)
			return true
		}
	}
	return false
}

func (n *nav) MoveTo(other xpath.NodeNavigator) bool {
	o, ok := other.(*nav)
	if !ok || o.root != n.root {
		return false
	}
	*n = *o
	return true
}
