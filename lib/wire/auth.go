package wire

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// Method is an authkeys signing method.
type Method string

// The methods heartbeat knows.
const (
	CRC  Method = "crc"
	MD5  Method = "md5"
	SHA1 Method = "sha1"
)

// Key is one authkeys entry: index, method and key.
type Key struct {
	Index  int
	Method Method
	Secret []byte
}

// Sign returns "N hex" for data, as heartbeat writes signatures.
func (k *Key) Sign(data []byte) string {
	return strconv.Itoa(k.Index) + " " + k.digest(data)
}

func (k *Key) digest(data []byte) string {
	var h func() hash.Hash
	switch k.Method {
	case CRC:
		return strconv.FormatUint(uint64(crc32posix(data)), 16)
	case MD5:
		h = md5.New
	case SHA1:
		h = sha1.New
	default:
		return ""
	}
	mac := hmac.New(h, k.Secret)
	mac.Write(data)
	return hex.EncodeToString(mac.Sum(nil))
}

// crcTable is the MSB-first table for polynomial 0x04C11DB7.
var crcTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for j := 0; j < 8; j++ {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return
}()

// crc32posix is heartbeat's crc method: poly 0x04C11DB7, init 0,
// MSB-first, no reflection, final XOR 0xFFFFFFFF, no length appended.
func crc32posix(b []byte) uint32 {
	var c uint32
	for _, x := range b {
		c = c<<8 ^ crcTable[byte(c>>24)^x]
	}
	return ^c
}

// Keyring is the set of authkeys entries and the one used to send.
type Keyring struct {
	Send *Key
	Keys map[int]*Key
}

// Errors from Verify; receivers count drops by them.
var (
	ErrNoAuth     = errors.New("message has no signature")
	ErrUnknownKey = errors.New("signature uses an authkeys index we do not have")
	ErrBadAuth    = errors.New("signature does not match")
)

func (r *Keyring) lookup(sig string) (*Key, string, error) {
	idx, hexsig, ok := strings.Cut(sig, " ")
	if !ok {
		return nil, "", fmt.Errorf("%w: %q", ErrBadAuth, sig)
	}
	n, err := strconv.Atoi(idx)
	if err != nil {
		return nil, "", fmt.Errorf("%w: bad index %q", ErrBadAuth, idx)
	}
	k := r.Keys[n]
	if k == nil {
		return nil, "", fmt.Errorf("%w: [%d]", ErrUnknownKey, n)
	}
	return k, hexsig, nil
}

// Verify checks a decoded packet as heartbeat does: the outer signature
// for netstring packets, the inner auth field for classic ones.
func (r *Keyring) Verify(p *Packet) error {
	if p.Netstring {
		if p.OuterAuth == "" {
			return ErrNoAuth
		}
		k, sig, err := r.lookup(p.OuterAuth)
		if err != nil {
			return err
		}
		if !hmac.Equal([]byte(k.digest(p.Signed)), []byte(sig)) {
			return ErrBadAuth
		}
		return nil
	}
	if p.InnerAuth == "" {
		return ErrNoAuth
	}
	k, sig, err := r.lookup(p.InnerAuth)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(k.digest(p.Msg.classic(nil, false))), []byte(sig)) {
		return ErrBadAuth
	}
	return nil
}

// VerifyInner checks the inner auth field of any packet (tests and
// diagnostics; heartbeat checks it only for classic packets).
func (r *Keyring) VerifyInner(m *Message) error {
	sig := m.Get("auth")
	if sig == "" {
		return ErrNoAuth
	}
	k, hexsig, err := r.lookup(sig)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(k.digest(m.classic(nil, false))), []byte(hexsig)) {
		return ErrBadAuth
	}
	return nil
}
