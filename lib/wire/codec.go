package wire

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
)

// MaxMessage is heartbeat's MAXMSG: the largest datagram it sends or
// takes. Larger messages travel compressed (compress.go).
const MaxMessage = 256 << 10

// Markers of the two encodings.
var (
	nsStart      = []byte("###\n")
	nsEnd        = []byte("%%%\n")
	classicStart = []byte(">>>\n")
	classicEnd   = []byte("<<<\n")
)

// Errors a decoder returns; callers count drops by these.
var (
	ErrTruncated = errors.New("truncated message")
	ErrMalformed = errors.New("malformed message")
	ErrTooLarge  = errors.New("message larger than 256 KiB")
)

// maxDepth bounds struct nesting.
const maxDepth = 8

// Packet is a decoded datagram with what is needed to check it.
type Packet struct {
	Msg *Message
	// Netstring is true for "###" packets, false for classic ">>>".
	Netstring bool
	// Signed is the byte range the outer signature covers (netstring
	// packets), or nil.
	Signed []byte
	// OuterAuth is the outer "N hex" netstring (netstring packets).
	OuterAuth string
	// InnerAuth is the value of the "auth" field, if any.
	InnerAuth string
}

// Decode parses one datagram in either encoding without checking
// signatures. It never panics on any input.
func Decode(b []byte) (*Packet, error) {
	if len(b) > MaxMessage {
		return nil, ErrTooLarge
	}
	switch {
	case bytes.HasPrefix(b, nsStart):
		msg, n, err := decodeNetstring(b, 0)
		if err != nil {
			return nil, err
		}
		p := &Packet{Msg: msg, Netstring: true, Signed: b[:n]}
		rest := b[n:]
		if len(rest) > 0 {
			auth, tail, err := netstring(rest)
			if err != nil {
				return nil, fmt.Errorf("%w: outer signature: %v", ErrMalformed, err)
			}
			if len(tail) != 0 {
				return nil, fmt.Errorf("%w: %d bytes after the signature", ErrMalformed, len(tail))
			}
			p.OuterAuth = string(auth)
		}
		p.InnerAuth = msg.Get("auth")
		return p, nil
	case bytes.HasPrefix(b, classicStart):
		msg, err := decodeClassic(b)
		if err != nil {
			return nil, err
		}
		return &Packet{Msg: msg, InnerAuth: msg.Get("auth")}, nil
	case len(b) < 4:
		return nil, ErrTruncated
	}
	return nil, fmt.Errorf("%w: starts with neither ### nor >>>", ErrMalformed)
}

// netstring reads "len:bytes," from b.
func netstring(b []byte) (val, rest []byte, err error) {
	i := bytes.IndexByte(b, ':')
	if i < 0 {
		if len(b) < 12 {
			return nil, nil, ErrTruncated
		}
		return nil, nil, fmt.Errorf("%w: netstring without ':'", ErrMalformed)
	}
	if i == 0 || i > 10 {
		return nil, nil, fmt.Errorf("%w: bad netstring length", ErrMalformed)
	}
	n := 0
	for _, c := range b[:i] {
		if c < '0' || c > '9' {
			return nil, nil, fmt.Errorf("%w: bad netstring length %q", ErrMalformed, b[:i])
		}
		n = n*10 + int(c-'0')
	}
	if n > len(b)-i-1 {
		return nil, nil, ErrTruncated
	}
	val = b[i+1 : i+1+n]
	rest = b[i+1+n:]
	if len(rest) == 0 {
		return nil, nil, ErrTruncated
	}
	if rest[0] != ',' {
		return nil, nil, fmt.Errorf("%w: netstring not ended by ','", ErrMalformed)
	}
	return val, rest[1:], nil
}

// decodeNetstring parses "###\n" fields "%%%\n" at the start of b and
// returns the message and the number of bytes used.
func decodeNetstring(b []byte, depth int) (*Message, int, error) {
	if depth > maxDepth {
		return nil, 0, fmt.Errorf("%w: structs nested too deep", ErrMalformed)
	}
	if !bytes.HasPrefix(b, nsStart) {
		return nil, 0, fmt.Errorf("%w: no ### start", ErrMalformed)
	}
	msg := &Message{}
	rest := b[len(nsStart):]
	for {
		if bytes.HasPrefix(rest, nsEnd) {
			return msg, len(b) - len(rest) + len(nsEnd), nil
		}
		if len(rest) < len(nsEnd) {
			return nil, 0, ErrTruncated
		}
		val, r, err := netstring(rest)
		if err != nil {
			return nil, 0, err
		}
		f, err := parseField(val, true)
		if err != nil {
			return nil, 0, err
		}
		if f.Type == Struct {
			if _, _, err := decodeNetstring(f.Value, depth+1); err != nil {
				return nil, 0, fmt.Errorf("field %s: %w", f.Name, err)
			}
		}
		msg.Fields = append(msg.Fields, f)
		rest = r
	}
}

// parseField splits "(T)name=value" (the "(T)" is optional in classic form).
func parseField(b []byte, netstringForm bool) (Field, error) {
	t := String
	if len(b) >= 3 && b[0] == '(' && b[2] == ')' && b[1] >= '0' && b[1] <= '9' {
		t = Type(b[1] - '0')
		if t > Uncompressed {
			return Field{}, fmt.Errorf("%w: unknown field type %d", ErrMalformed, t)
		}
		b = b[3:]
	} else if netstringForm {
		return Field{}, fmt.Errorf("%w: field without (type)", ErrMalformed)
	}
	eq := bytes.IndexByte(b, '=')
	if eq <= 0 {
		return Field{}, fmt.Errorf("%w: field without name=value", ErrMalformed)
	}
	return Field{Name: string(b[:eq]), Type: t, Value: b[eq+1:]}, nil
}

func decodeClassic(b []byte) (*Message, error) {
	body := b[len(classicStart):]
	body = bytes.TrimSuffix(body, []byte{0})
	end := bytes.LastIndex(body, classicEnd)
	if end < 0 {
		return nil, ErrTruncated
	}
	if len(bytes.TrimRight(body[end+len(classicEnd):], "\x00")) != 0 {
		return nil, fmt.Errorf("%w: bytes after <<<", ErrMalformed)
	}
	body = body[:end]
	msg := &Message{}
	for len(body) > 0 {
		nl := bytes.IndexByte(body, '\n')
		if nl < 0 {
			return nil, ErrTruncated
		}
		line := body[:nl]
		body = body[nl+1:]
		if len(line) == 0 {
			continue
		}
		f, err := parseField(line, false)
		if err != nil {
			return nil, err
		}
		switch f.Type {
		case Binary, Compressed:
			v, err := base64.StdEncoding.DecodeString(string(f.Value))
			if err != nil {
				return nil, fmt.Errorf("%w: field %s: bad base64", ErrMalformed, f.Name)
			}
			f.Value = v
		case String:
			f.Value = bytes.ReplaceAll(f.Value, []byte{0x13}, []byte{'\n'})
		}
		msg.Fields = append(msg.Fields, f)
	}
	return msg, nil
}

// appendNetstringBody appends "###\n" fields "%%%\n".
func (m *Message) appendNetstringBody(b []byte) []byte {
	b = append(b, nsStart...)
	for _, f := range m.Fields {
		n := 3 + len(f.Name) + 1 + len(f.Value)
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, ':', '(', '0'+byte(f.Type), ')')
		b = append(b, f.Name...)
		b = append(b, '=')
		b = append(b, f.Value...)
		b = append(b, ',')
	}
	return append(b, nsEnd...)
}

// classic renders the fields as heartbeat's classic text, one
// "name=value\n" a field, "(T)name=value\n" for non-strings with binaries
// in base64. withAuth keeps the auth field (it is left out of the data the
// inner signature covers).
func (m *Message) classic(b []byte, withAuth bool) []byte {
	for _, f := range m.Fields {
		if !withAuth && f.Name == "auth" {
			continue
		}
		if f.Type != String {
			b = append(b, '(', '0'+byte(f.Type), ')')
		}
		b = append(b, f.Name...)
		b = append(b, '=')
		switch f.Type {
		case Binary, Compressed:
			b = base64.StdEncoding.AppendEncode(b, f.Value)
		case String:
			for _, c := range f.Value {
				if c == '\n' {
					c = 0x13
				}
				b = append(b, c)
			}
		default:
			b = append(b, f.Value...)
		}
		b = append(b, '\n')
	}
	return b
}

// Encode renders m for the wire in netstring form, as heartbeat 3.0.6
// sends every message: the inner classic `auth` field is computed and
// set (replacing any), then the outer signature is appended. buf is
// reused when large enough.
func Encode(buf []byte, m *Message, k *Key) ([]byte, error) {
	m.Del("auth")
	inner := m.classic(buf[:0], false)
	innerSig := k.Sign(inner)
	m.Fields = append(m.Fields, Field{Name: "auth", Type: String, Value: []byte(innerSig)})
	b := m.appendNetstringBody(inner[:0])
	outer := k.Sign(b)
	b = strconv.AppendInt(b, int64(len(outer)), 10)
	b = append(b, ':')
	b = append(b, outer...)
	b = append(b, ',')
	if len(b) > MaxMessage {
		return nil, ErrTooLarge
	}
	return b, nil
}

// EncodeClassic renders m in classic ">>>" form with its inner signature.
func EncodeClassic(m *Message, k *Key) []byte {
	m.Del("auth")
	sig := k.Sign(m.classic(nil, false))
	m.Fields = append(m.Fields, Field{Name: "auth", Type: String, Value: []byte(sig)})
	b := append([]byte(nil), classicStart...)
	b = m.classic(b, true)
	return append(b, classicEnd...)
}
