package cib

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"

	"github.com/beevik/etree"
)

// Digest returns the on-disk digest of the document: the hex MD5 that
// Pacemaker stores in cib.xml.sig, so that a cib.xml written by either
// side is accepted by the other. It is taken over Pacemaker's compact
// canonical form (Canonical).
func (c *CIB) Digest() string { return DigestOf(c.Root()) }

// DigestOf returns the on-disk digest of element e.
func DigestOf(e *etree.Element) string {
	sum := md5.Sum(Canonical(e))
	return hex.EncodeToString(sum[:])
}

// Canonical returns the compact text the digest is taken over, the form
// of Pacemaker 2.1's dump_xml_for_digest: a space, then the element
// with attributes in document order and no whitespace between elements
// ("<a x=\"1\"><b/></a>"), comments kept, text content left out, values escaped as Pacemaker's crm_xml_escape
// does, then a newline.
func Canonical(e *etree.Element) []byte {
	var b bytes.Buffer
	b.WriteByte(' ')
	canon(&b, e)
	b.WriteByte('\n')
	return b.Bytes()
}

func canon(b *bytes.Buffer, e *etree.Element) {
	openTag(b, e, pcmkEscape)
	if len(e.Child) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	for _, t := range e.Child {
		switch t := t.(type) {
		case *etree.Element:
			canon(b, t)
		case *etree.Comment:
			b.WriteString("<!--")
			b.WriteString(t.Data)
			b.WriteString("-->")
		}
	}
	b.WriteString("</")
	b.WriteString(e.FullTag())
	b.WriteByte('>')
}

// pcmkEscape reproduces crm_xml_escape of Pacemaker 2.1, quirks included:
// tab becomes four spaces, newline and carriage return become a
// backslash sequence, other control bytes an octal escape, and the first
// multi-byte UTF-8 sequence ends escaping for the rest of the value.
func pcmkEscape(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c&0x80 != 0 && i+1 < len(s) && s[i+1]&0x80 != 0 {
			b.WriteString(s[i:])
			return
		}
		switch c {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		case '&':
			b.WriteString("&amp;")
		case '\t':
			b.WriteString("    ")
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if c < ' ' {
				fmt.Fprintf(b, "\\%.3o", c)
			} else if c > '~' {
				// C's signed char promoted to int, printed unsigned.
				fmt.Fprintf(b, "\\%.3o", uint32(int32(int8(c))))
			} else {
				b.WriteByte(c)
			}
		}
	}
}
