package repl

import (
	"bufio"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/linux-ha-go/ha/lib/drbd/iobuf"
)

// Conn frames packets over one stream (DRBD's data or meta socket). Send
// is safe for concurrent use; Recv must be called from one goroutine.
// The receive buffer is reused: a payload is valid until the next Recv.
type Conn struct {
	rw      io.ReadWriter
	r       *bufio.Reader
	wmu     sync.Mutex
	w       *bufio.Writer
	wbuf    []byte
	rbuf    []byte
	Version int // agreed protocol version; 0 before the handshake
	Volume  uint16
}

// NewConn wraps a stream.
func NewConn(rw io.ReadWriter) *Conn {
	return &Conn{rw: rw, r: bufio.NewReaderSize(rw, 64<<10), w: bufio.NewWriterSize(rw, 64<<10)}
}

// Send writes one packet: the header, then the payload parts, and
// flushes.
func (c *Conn) Send(cmd Cmd, parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n > MaxPayload {
		return fmt.Errorf("%w: %s of %d bytes", ErrTooLarge, cmd, n)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = AppendHeader(c.wbuf[:0], c.Version, cmd, c.Volume, uint32(n))
	c.w.Write(c.wbuf)
	for _, p := range parts {
		c.w.Write(p)
	}
	return c.w.Flush()
}

// Recv reads one packet.
func (c *Conn) Recv() (Header, []byte, error) {
	h, err := c.RecvHeader()
	if err != nil {
		return h, nil, err
	}
	p := c.Buffer(int(h.Length))
	if err := c.ReadInto(p); err != nil {
		return h, nil, err
	}
	return h, p, nil
}

// RecvHeader reads only a packet's header: the caller then reads its
// payload, all of it, into Buffer with ReadInto (at once or in pieces),
// before the next packet.
func (c *Conn) RecvHeader() (Header, error) { return ReadHeader(c.r) }

// Buffer is the reusable receive buffer, n bytes long (valid until the
// next Recv or Buffer).
func (c *Conn) Buffer(n int) []byte {
	if cap(c.rbuf) < n {
		// A data packet's block follows its 24-byte header: aligned
		// there, it can go to the disk with direct I/O as it is.
		c.rbuf = iobuf.Offset(n, dataHeaderSize)
	}
	return c.rbuf[:n]
}

// ReadInto reads len(p) bytes of the current payload.
func (c *Conn) ReadInto(p []byte) error {
	_, err := io.ReadFull(c.r, p)
	return err
}

// HandshakeConfig is what the handshake needs from the net section.
type HandshakeConfig struct {
	CramHMACAlg  string // "" = no authentication
	SharedSecret string
	Features     uint32    // feature flags offered (FF*)
	Rand         io.Reader // challenge source; crypto/rand in production
}

// Agreed is the outcome of the handshake.
type Agreed struct {
	Version  int
	Features uint32
	// Log holds the kernel-style messages, e.g. "Handshake successful:
	// Agreed network protocol version 101".
	Log []string
}

// Handshake errors. ErrAuth and ErrIncompatible are final (DRBD goes
// StandAlone); other errors are network errors worth a retry.
var (
	ErrAuth         = errors.New("drbd: Authentication of peer failed")
	ErrIncompatible = errors.New("drbd: incompatible DRBD dialects")
)

// ChallengeLen is the size of an authentication challenge.
const ChallengeLen = 64

// HMACFunc maps a cram-hmac-alg name to a hash.
func HMACFunc(alg string) (func() hash.Hash, error) {
	switch alg {
	case "md5":
		return md5.New, nil
	case "sha1":
		return sha1.New, nil
	case "sha256":
		return sha256.New, nil
	case "sha512":
		return sha512.New, nil
	}
	return nil, fmt.Errorf("cram-hmac-alg %q is not supported (use sha1, sha256, sha512 or md5)", alg)
}

// Handshake runs the connection handshake on the data socket, as both
// peers do symmetrically: exchange P_CONNECTION_FEATURES and agree on
// the version, then, with cram-hmac-alg set, the challenge/response
// authentication with the shared secret.
func Handshake(c *Conn, cfg HandshakeConfig) (Agreed, error) {
	var a Agreed
	logf := func(f string, v ...any) { a.Log = append(a.Log, fmt.Sprintf(f, v...)) }
	c.Version = 0
	if err := c.Send(PConnectionFeatures, Features{ProtoMin: ProtoMin, FeatureFlags: cfg.Features, ProtoMax: ProtoMax}.Append(nil)); err != nil {
		return a, err
	}
	h, p, err := c.Recv()
	if err != nil {
		return a, err
	}
	if h.Cmd != PConnectionFeatures {
		logf("expected ConnectionFeatures packet, received: %s (0x%04x)", h.Cmd, uint16(h.Cmd))
		return a, fmt.Errorf("%w: expected ConnectionFeatures, got %s", ErrIncompatible, h.Cmd)
	}
	if h.Length != featuresSize {
		logf("expected ConnectionFeatures length: %d, received: %d", featuresSize, h.Length)
		return a, fmt.Errorf("%w: ConnectionFeatures of %d bytes", ErrIncompatible, h.Length)
	}
	f, _ := DecodeFeatures(p)
	if f.ProtoMax == 0 {
		f.ProtoMax = f.ProtoMin
	}
	if ProtoMax < f.ProtoMin || ProtoMin > f.ProtoMax {
		logf("incompatible DRBD dialects: I support %d-%d, peer supports %d-%d", ProtoMin, ProtoMax, f.ProtoMin, f.ProtoMax)
		return a, ErrIncompatible
	}
	a.Version = min(ProtoMax, int(f.ProtoMax))
	a.Features = cfg.Features & f.FeatureFlags
	logf("Handshake successful: Agreed network protocol version %d", a.Version)
	if cfg.CramHMACAlg != "" {
		if err := auth(c, cfg, logf); err != nil {
			return a, err
		}
	}
	c.Version = a.Version
	return a, nil
}

func auth(c *Conn, cfg HandshakeConfig, logf func(string, ...any)) error {
	newHash, err := HMACFunc(cfg.CramHMACAlg)
	if err != nil {
		return err
	}
	secret := []byte(cfg.SharedSecret)
	if len(secret) > 64 {
		secret = secret[:64]
	}
	mine := make([]byte, ChallengeLen)
	if _, err := io.ReadFull(cfg.Rand, mine); err != nil {
		return err
	}
	if err := c.Send(PAuthChallenge, mine); err != nil {
		return err
	}
	h, p, err := c.Recv()
	if err != nil {
		return err
	}
	if h.Cmd != PAuthChallenge {
		logf("expected AuthChallenge packet, received: %s (0x%04x)", h.Cmd, uint16(h.Cmd))
		return fmt.Errorf("drbd: expected AuthChallenge, got %s", h.Cmd)
	}
	switch {
	case h.Length > ChallengeLen*2:
		logf("expected AuthChallenge payload too big.")
		return ErrAuth
	case h.Length < ChallengeLen:
		logf("AuthChallenge payload too small.")
		return ErrAuth
	}
	if hmac.Equal(p[:ChallengeLen], mine) {
		logf("Peer presented the same challenge!")
		return ErrAuth
	}
	mac := hmac.New(newHash, secret)
	mac.Write(p)
	resp := mac.Sum(nil)
	if err := c.Send(PAuthResponse, resp); err != nil {
		return err
	}
	h, p, err = c.Recv()
	if err != nil {
		return err
	}
	if h.Cmd != PAuthResponse {
		logf("expected AuthResponse packet, received: %s (0x%04x)", h.Cmd, uint16(h.Cmd))
		return fmt.Errorf("drbd: expected AuthResponse, got %s", h.Cmd)
	}
	if int(h.Length) != len(resp) {
		logf("expected AuthResponse payload of wrong size")
		return fmt.Errorf("drbd: AuthResponse of %d bytes", h.Length)
	}
	mac.Reset()
	mac.Write(mine)
	if !hmac.Equal(p, mac.Sum(nil)) {
		logf("Authentication of peer failed")
		return ErrAuth
	}
	logf("Peer authenticated using %d bytes HMAC", len(resp))
	return nil
}
