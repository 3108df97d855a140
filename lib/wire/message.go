// Package wire is heartbeat 3's UDP message format: the netstring and
// classic encodings, and the two signatures (the outer netstring one and
// the inner classic `auth` field), with crc, md5 and sha1 as authkeys names
// them. It parses and renders bytes only; it keeps no state.
package wire

import (
	"bytes"
	"strconv"
)

// Type is a field's type code, as written "(T)" on the wire.
type Type byte

// Field types.
const (
	String       Type = 0
	Binary       Type = 1
	Struct       Type = 2
	List         Type = 3
	Compressed   Type = 4
	Uncompressed Type = 5
)

// Field is one name=value pair. Value holds the bytes as they stand in the
// netstring form: raw bytes for strings and binaries, the concatenated
// `len:item,` netstrings for a list, the nested `###…%%%` text for a
// struct.
type Field struct {
	Name  string
	Type  Type
	Value []byte
}

// Message is an ordered list of fields; names may repeat (CCM sends
// ccmmajor twice) and order is kept, since signatures cover the bytes.
type Message struct {
	Fields []Field
}

// Get returns the value of the first string field called name.
func (m *Message) Get(name string) string {
	for i := range m.Fields {
		if m.Fields[i].Name == name {
			return string(m.Fields[i].Value)
		}
	}
	return ""
}

// Has reports whether a field called name is present.
func (m *Message) Has(name string) bool {
	for i := range m.Fields {
		if m.Fields[i].Name == name {
			return true
		}
	}
	return false
}

// GetBytes returns the raw value of the first field called name.
func (m *Message) GetBytes(name string) []byte {
	for i := range m.Fields {
		if m.Fields[i].Name == name {
			return m.Fields[i].Value
		}
	}
	return nil
}

// Add appends a string field.
func (m *Message) Add(name, value string) *Message {
	m.Fields = append(m.Fields, Field{Name: name, Type: String, Value: []byte(value)})
	return m
}

// AddBinary appends a binary field.
func (m *Message) AddBinary(name string, value []byte) *Message {
	m.Fields = append(m.Fields, Field{Name: name, Type: Binary, Value: append([]byte(nil), value...)})
	return m
}

// AddList appends a list field of string items.
func (m *Message) AddList(name string, items []string) *Message {
	var b []byte
	for _, it := range items {
		b = strconv.AppendInt(b, int64(len(it)), 10)
		b = append(b, ':')
		b = append(b, it...)
		b = append(b, ',')
	}
	m.Fields = append(m.Fields, Field{Name: name, Type: List, Value: b})
	return m
}

// ListItems splits a list field's value into its items.
func ListItems(v []byte) ([]string, error) {
	var out []string
	for len(v) > 0 {
		n, rest, err := netstring(v)
		if err != nil {
			return nil, err
		}
		out = append(out, string(n))
		v = rest
	}
	return out, nil
}

// Set replaces the first field called name, or appends it.
func (m *Message) Set(name, value string) *Message {
	for i := range m.Fields {
		if m.Fields[i].Name == name {
			m.Fields[i] = Field{Name: name, Type: String, Value: []byte(value)}
			return m
		}
	}
	return m.Add(name, value)
}

// Del removes every field called name.
func (m *Message) Del(name string) {
	out := m.Fields[:0]
	for _, f := range m.Fields {
		if f.Name != name {
			out = append(out, f)
		}
	}
	m.Fields = out
}

// Clone returns a deep copy.
func (m *Message) Clone() *Message {
	c := &Message{Fields: make([]Field, len(m.Fields))}
	for i, f := range m.Fields {
		c.Fields[i] = Field{Name: f.Name, Type: f.Type, Value: bytes.Clone(f.Value)}
	}
	return c
}

// String renders the message in classic form for logs and tests.
func (m *Message) String() string {
	return string(m.classic(nil, true))
}
