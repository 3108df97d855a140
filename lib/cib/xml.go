// Package cib is the cluster information base: Pacemaker's cib.xml held
// as a tree that keeps every element, attribute and comment it does not
// know in place, with its version counters, its on-disk digest, the
// cibadmin operations (query, create, modify, replace, delete, erase,
// bump), diffs, and the atomic storage of $statedir/crm/cib.xml.
//
// The tree is a github.com/beevik/etree document. Whitespace between
// elements is not content (Pacemaker drops it too); everything else
// survives a read-modify-write unchanged and in order.
package cib

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/beevik/etree"
)

// CIB is one parsed cib.xml document.
type CIB struct {
	doc *etree.Document
	// lines maps elements to the line they started on in the parsed
	// input (absent for elements created later).
	lines map[*etree.Element]int
	// Name is where the document came from ("cib.xml", "-", "<stdin>"),
	// used in messages.
	Name string
}

// SyntaxError is XML that cannot be parsed, with its place.
type SyntaxError struct {
	Name string
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Name, e.Msg)
}

// ErrNotCIB is returned for a well-formed document whose root is not <cib>.
var ErrNotCIB = errors.New("root element is not <cib>")

// ParseFile reads and parses a CIB file.
func ParseFile(path string) (*CIB, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

// Parse parses a whole CIB document; name is used in messages.
func Parse(name string, b []byte) (*CIB, error) {
	root, lines, err := ParseElement(name, b)
	if err != nil {
		return nil, err
	}
	if root.Tag != "cib" || root.Space != "" {
		return nil, &SyntaxError{Name: name, Line: lines[root], Msg: fmt.Sprintf("root element is <%s>, not <cib>", root.FullTag())}
	}
	doc := etree.NewDocument()
	doc.SetRoot(root)
	return &CIB{doc: doc, lines: lines, Name: name}, nil
}

// New returns a CIB with root as its <cib> element.
func New(root *etree.Element) *CIB {
	doc := etree.NewDocument()
	doc.SetRoot(root)
	return &CIB{doc: doc, lines: map[*etree.Element]int{}}
}

// ParseElement parses one XML element (a fragment such as cibadmin -X
// takes, or a whole document) strictly: well-formed, one root, no
// duplicate attributes. Whitespace-only text, processing instructions
// and directives are dropped, comments are kept. It returns the root and
// the line each element starts on.
func ParseElement(name string, b []byte) (*etree.Element, map[*etree.Element]int, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	lines := make(map[*etree.Element]int, len(b)/64)
	var root *etree.Element
	var stack []*etree.Element
	for {
		line, _ := d.InputPos()
		t, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, nil, &SyntaxError{Name: name, Line: se.Line, Msg: se.Msg}
			}
			return nil, nil, &SyntaxError{Name: name, Line: line, Msg: err.Error()}
		}
		switch t := t.(type) {
		case xml.StartElement:
			if len(stack) == 0 && root != nil {
				return nil, nil, &SyntaxError{Name: name, Line: line, Msg: "extra content at the end of the document"}
			}
			if len(stack) >= 1024 {
				return nil, nil, &SyntaxError{Name: name, Line: line, Msg: "elements nested too deeply"}
			}
			e := etree.NewElement(t.Name.Local)
			e.Space = t.Name.Space
			for i, a := range t.Attr {
				for _, o := range t.Attr[:i] {
					if o.Name == a.Name {
						return nil, nil, &SyntaxError{Name: name, Line: line, Msg: fmt.Sprintf("attribute %s redefined", fullName(a.Name))}
					}
				}
				e.CreateAttr(fullName(a.Name), a.Value)
			}
			lines[e] = line
			if len(stack) == 0 {
				root = e
			} else {
				stack[len(stack)-1].AddChild(e)
			}
			stack = append(stack, e)
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, nil, &SyntaxError{Name: name, Line: line, Msg: "unexpected end element"}
			}
			top := stack[len(stack)-1]
			if top.Tag != t.Name.Local || top.Space != t.Name.Space {
				return nil, nil, &SyntaxError{Name: name, Line: line, Msg: fmt.Sprintf("element <%s> closed by </%s>", top.FullTag(), fullName(t.Name))}
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(bytes.TrimSpace(t)) == 0 {
				continue
			}
			if len(stack) == 0 {
				return nil, nil, &SyntaxError{Name: name, Line: line, Msg: "text outside the root element"}
			}
			// Text split by CDATA sections, processing instructions or
			// directives (which are dropped) is one text node, as it is
			// when the document is written back and read again.
			top := stack[len(stack)-1]
			if n := len(top.Child); n > 0 {
				if cd, ok := top.Child[n-1].(*etree.CharData); ok {
					cd.Data += string(t)
					continue
				}
			}
			top.CreateText(string(t))
		case xml.Comment:
			if len(stack) > 0 {
				stack[len(stack)-1].CreateComment(string(t))
			}
		}
	}
	if len(stack) != 0 {
		return nil, nil, &SyntaxError{Name: name, Msg: fmt.Sprintf("premature end of data: <%s> is not closed", stack[len(stack)-1].FullTag())}
	}
	if root == nil {
		return nil, nil, &SyntaxError{Name: name, Msg: "no XML element found"}
	}
	return root, lines, nil
}

func fullName(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

// walk calls fn for e and every element below it, in document order.
func walk(e *etree.Element, fn func(*etree.Element)) {
	fn(e)
	for _, t := range e.Child {
		if c, ok := t.(*etree.Element); ok {
			walk(c, fn)
		}
	}
}

// Walk calls fn for every element of the document in document order.
func (c *CIB) Walk(fn func(*etree.Element)) { walk(c.Root(), fn) }

// Root returns the <cib> element.
func (c *CIB) Root() *etree.Element { return c.doc.Root() }

// Line returns the input line element e started on, or 0.
func (c *CIB) Line(e *etree.Element) int { return c.lines[e] }

// Where names e's place for messages: "cib.xml:12" or "cib.xml".
func (c *CIB) Where(e *etree.Element) string {
	if l := c.lines[e]; l > 0 {
		return fmt.Sprintf("%s:%d", c.Name, l)
	}
	return c.Name
}

// Copy returns a deep copy; line numbers are carried over.
func (c *CIB) Copy() *CIB {
	root := c.Root()
	nr := root.Copy()
	lines := make(map[*etree.Element]int, len(c.lines))
	var pair func(a, b *etree.Element)
	pair = func(a, b *etree.Element) {
		if l, ok := c.lines[a]; ok {
			lines[b] = l
		}
		ac, bc := a.ChildElements(), b.ChildElements()
		for i := range ac {
			pair(ac[i], bc[i])
		}
	}
	pair(root, nr)
	n := New(nr)
	n.lines = lines
	n.Name = c.Name
	return n
}

// Bytes serialises the document the way Pacemaker writes cib.xml: no XML
// declaration, two-space indentation, one element per line.
func (c *CIB) Bytes() []byte {
	var b bytes.Buffer
	b.Grow(4096 + 160*len(c.lines))
	WriteElement(&b, c.Root(), 0)
	return b.Bytes()
}

// String returns Bytes as a string.
func (c *CIB) String() string { return string(c.Bytes()) }

// ElementString serialises one element as Bytes does.
func ElementString(e *etree.Element) string {
	var b bytes.Buffer
	WriteElement(&b, e, 0)
	return b.String()
}

// openTag writes "<tag a="v" …" (without the closing ">" or "/>"), with
// attribute values escaped by esc: the file form and the digest's
// canonical form differ only there.
func openTag(b *bytes.Buffer, e *etree.Element, esc func(*bytes.Buffer, string)) {
	b.WriteByte('<')
	b.WriteString(e.FullTag())
	for _, a := range e.Attr {
		b.WriteByte(' ')
		b.WriteString(a.FullKey())
		b.WriteString(`="`)
		esc(b, a.Value)
		b.WriteByte('"')
	}
}

// WriteElement writes e indented at depth, ending with a newline.
func WriteElement(b *bytes.Buffer, e *etree.Element, depth int) {
	indent(b, depth)
	openTag(b, e, escapeAttr)
	if len(e.Child) == 0 {
		b.WriteString("/>\n")
		return
	}
	inline := false
	for _, t := range e.Child {
		if _, ok := t.(*etree.CharData); ok {
			inline = true
		}
	}
	if inline {
		b.WriteByte('>')
		for _, t := range e.Child {
			writeInline(b, t)
		}
	} else {
		b.WriteString(">\n")
		for _, t := range e.Child {
			switch t := t.(type) {
			case *etree.Element:
				WriteElement(b, t, depth+1)
			case *etree.Comment:
				indent(b, depth+1)
				b.WriteString("<!--")
				b.WriteString(t.Data)
				b.WriteString("-->\n")
			}
		}
		indent(b, depth)
	}
	b.WriteString("</")
	b.WriteString(e.FullTag())
	b.WriteString(">\n")
}

func writeInline(b *bytes.Buffer, t etree.Token) {
	switch t := t.(type) {
	case *etree.CharData:
		escapeText(b, t.Data)
	case *etree.Comment:
		b.WriteString("<!--")
		b.WriteString(t.Data)
		b.WriteString("-->")
	case *etree.Element:
		var sub bytes.Buffer
		WriteElement(&sub, t, 0)
		b.Write(bytes.TrimSuffix(sub.Bytes(), []byte("\n")))
	}
}

func indent(b *bytes.Buffer, depth int) {
	for i := 0; i < depth; i++ {
		b.WriteString("  ")
	}
}

func escapeAttr(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		case '\t':
			b.WriteString("&#9;")
		case '\n':
			b.WriteString("&#10;")
		case '\r':
			b.WriteString("&#13;")
		default:
			b.WriteByte(c)
		}
	}
}

func escapeText(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\r':
			b.WriteString("&#13;")
		default:
			b.WriteByte(c)
		}
	}
}

// Equal reports whether two elements are the same tree: tags, attributes
// in order, and children (comments and text included).
func Equal(a, b *etree.Element) bool {
	if a.Tag != b.Tag || a.Space != b.Space || len(a.Attr) != len(b.Attr) || len(a.Child) != len(b.Child) {
		return false
	}
	for i := range a.Attr {
		if a.Attr[i].Key != b.Attr[i].Key || a.Attr[i].Space != b.Attr[i].Space || a.Attr[i].Value != b.Attr[i].Value {
			return false
		}
	}
	for i := range a.Child {
		switch x := a.Child[i].(type) {
		case *etree.Element:
			y, ok := b.Child[i].(*etree.Element)
			if !ok || !Equal(x, y) {
				return false
			}
		case *etree.CharData:
			y, ok := b.Child[i].(*etree.CharData)
			if !ok || x.Data != y.Data {
				return false
			}
		case *etree.Comment:
			y, ok := b.Child[i].(*etree.Comment)
			if !ok || x.Data != y.Data {
				return false
			}
		}
	}
	return true
}

// Attr returns e's attribute name (no namespace), or "".
func Attr(e *etree.Element, name string) string {
	for _, a := range e.Attr {
		if a.Key == name && a.Space == "" {
			return a.Value
		}
	}
	return ""
}

// HasAttr reports whether e has attribute name.
func HasAttr(e *etree.Element, name string) bool {
	for _, a := range e.Attr {
		if a.Key == name && a.Space == "" {
			return true
		}
	}
	return false
}

// SetAttr sets attribute name on e, keeping its place when it exists and
// appending it otherwise.
func SetAttr(e *etree.Element, name, value string) {
	for i := range e.Attr {
		if e.Attr[i].Key == name && e.Attr[i].Space == "" {
			e.Attr[i].Value = value
			return
		}
	}
	e.CreateAttr(name, value)
}

// ID returns e's id attribute.
func ID(e *etree.Element) string { return Attr(e, "id") }

// Child returns e's first child element named tag, or nil.
func Child(e *etree.Element, tag string) *etree.Element {
	for _, t := range e.Child {
		if c, ok := t.(*etree.Element); ok && c.Tag == tag && c.Space == "" {
			return c
		}
	}
	return nil
}
