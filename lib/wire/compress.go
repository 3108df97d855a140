package wire

import (
	"bytes"
	"compress/bzip2"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
)

// Heartbeat's whole-message compression (cluster-glue's cl_compressmsg):
// the message, rendered as a netstring without the outer signature, is
// compressed into one binary field, with the algorithm named beside it;
// that small message is then signed and sent as usual.
const (
	CompressedField = "_compressed_payload"
	AlgorithmField  = "_compression_algorithm"
	// MaxUncompressed bounds what a compressed message may expand to.
	MaxUncompressed = 2 << 20
)

// ErrCompression is wrapped by errors about compressed messages.
var ErrCompression = errors.New("compressed message")

// IsCompressed reports whether m is a compressed envelope.
func IsCompressed(m *Message) bool { return m.Has(CompressedField) }

// EncodeCompressed renders m (with its inner auth field) compressed with
// zlib into a signed envelope, as heartbeat sends messages above
// compression_threshold (traditional_compression) or above 256 KiB.
func EncodeCompressed(m *Message, k *Key) ([]byte, error) {
	m.Del("auth")
	sig := k.Sign(m.classic(nil, false))
	m.Fields = append(m.Fields, Field{Name: "auth", Type: String, Value: []byte(sig)})
	if len(m.appendNetstringBody(nil)) > MaxUncompressed {
		return nil, fmt.Errorf("%w: message larger than %d bytes even before compression", ErrTooLarge, MaxUncompressed)
	}
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	if _, err := w.Write(m.appendNetstringBody(nil)); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	env := &Message{}
	env.AddBinary(CompressedField, z.Bytes()).Add(AlgorithmField, "zlib")
	return Encode(nil, env, k)
}

// Expand returns the message inside a compressed envelope (zlib or bz2,
// the two plugins heartbeat ships), or m itself when it is not one. The
// envelope's signature is checked by the caller before; the inner
// message needs none, as in heartbeat.
func Expand(m *Message) (*Message, error) {
	if !IsCompressed(m) {
		return m, nil
	}
	var r io.Reader
	src := bytes.NewReader(m.GetBytes(CompressedField))
	switch alg := m.Get(AlgorithmField); alg {
	case "zlib":
		zr, err := zlib.NewReader(src)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCompression, err)
		}
		defer zr.Close()
		r = zr
	case "bz2":
		r = bzip2.NewReader(src)
	default:
		return nil, fmt.Errorf("%w: algorithm %q is not supported (zlib, bz2)", ErrCompression, alg)
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxUncompressed+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCompression, err)
	}
	if len(b) > MaxUncompressed {
		return nil, fmt.Errorf("%w: expands to more than %d bytes", ErrCompression, MaxUncompressed)
	}
	var inner *Message
	switch {
	case bytes.HasPrefix(b, nsStart):
		inner, _, err = decodeNetstring(b, 0)
	case bytes.HasPrefix(b, classicStart):
		inner, err = decodeClassic(b)
	default:
		err = fmt.Errorf("%w: payload is not a message", ErrMalformed)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCompression, err)
	}
	if IsCompressed(inner) {
		return nil, fmt.Errorf("%w: nested compression", ErrCompression)
	}
	return inner, nil
}
