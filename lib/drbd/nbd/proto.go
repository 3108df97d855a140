// Package nbd is a Network Block Device server (fixed newstyle
// negotiation, simple replies) that serves a Backend — a file, a block
// device, or a replicated volume — on a Unix or TCP socket, to qemu,
// nbdcopy, nbdinfo, fio's nbd engine or the kernel's nbd-client.
//
// Options: NBD_OPT_EXPORT_NAME, NBD_OPT_GO, NBD_OPT_INFO, NBD_OPT_LIST,
// NBD_OPT_ABORT (others are answered NBD_REP_ERR_UNSUP, so clients fall
// back to simple replies). Commands: READ, WRITE (with FUA), FLUSH, TRIM,
// WRITE_ZEROES, DISC.
package nbd

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Protocol constants (nbd's doc/proto.md).
const (
	nbdMagic      uint64 = 0x4e42444d41474943 // "NBDMAGIC"
	optMagic      uint64 = 0x49484156454F5054 // "IHAVEOPT"
	repMagic      uint64 = 0x0003e889045565a9
	requestMagic  uint32 = 0x25609513
	simpleMagic   uint32 = 0x67446698
	requestSize          = 28
	simpleRepSize        = 16

	flagFixedNewstyle uint16 = 1 << 0
	flagNoZeroes      uint16 = 1 << 1

	clientFixedNewstyle uint32 = 1 << 0
	clientNoZeroes      uint32 = 1 << 1

	optExportName      uint32 = 1
	optAbort           uint32 = 2
	optList            uint32 = 3
	optStartTLS        uint32 = 5
	optInfo            uint32 = 6
	optGo              uint32 = 7
	optStructuredReply uint32 = 8

	repAck        uint32 = 1
	repServer     uint32 = 2
	repInfo       uint32 = 3
	repErrUnsup   uint32 = 1<<31 + 1
	repErrPolicy  uint32 = 1<<31 + 2
	repErrInvalid uint32 = 1<<31 + 3
	repErrUnknown uint32 = 1<<31 + 6

	infoExport    uint16 = 0
	infoName      uint16 = 1
	infoDesc      uint16 = 2
	infoBlockSize uint16 = 3
)

// Transmission flags advertised per export.
const (
	FlagHasFlags     uint16 = 1 << 0
	FlagReadOnly     uint16 = 1 << 1
	FlagSendFlush    uint16 = 1 << 2
	FlagSendFUA      uint16 = 1 << 3
	FlagRotational   uint16 = 1 << 4
	FlagSendTrim     uint16 = 1 << 5
	FlagWriteZeroes  uint16 = 1 << 6
	FlagCanMultiConn uint16 = 1 << 8
)

// Commands.
const (
	CmdRead        uint16 = 0
	CmdWrite       uint16 = 1
	CmdDisc        uint16 = 2
	CmdFlush       uint16 = 3
	CmdTrim        uint16 = 4
	CmdCache       uint16 = 5
	CmdWriteZeroes uint16 = 6
)

// Command flags.
const (
	CmdFlagFUA    uint16 = 1 << 0
	CmdFlagNoHole uint16 = 1 << 1
)

// Error numbers sent in replies (Linux values, as the protocol fixes them).
const (
	errPerm     uint32 = 1
	errIO       uint32 = 5
	errNoMem    uint32 = 12
	errInval    uint32 = 22
	errNoSpc    uint32 = 28
	errOverflow uint32 = 75
	errNotSup   uint32 = 95
	errShutdown uint32 = 108
)

// Request is one transmission-phase request header.
type Request struct {
	Flags  uint16
	Type   uint16
	Handle uint64
	Offset uint64
	Length uint32
}

// ErrBadMagic means the peer does not speak NBD (or lost framing).
var ErrBadMagic = errors.New("nbd: bad request magic")

// DecodeRequest parses a 28-byte request header.
func DecodeRequest(b []byte) (Request, error) {
	if len(b) < requestSize {
		return Request{}, fmt.Errorf("nbd: short request header (%d bytes)", len(b))
	}
	be := binary.BigEndian
	if be.Uint32(b) != requestMagic {
		return Request{}, ErrBadMagic
	}
	return Request{
		Flags:  be.Uint16(b[4:]),
		Type:   be.Uint16(b[6:]),
		Handle: be.Uint64(b[8:]),
		Offset: be.Uint64(b[16:]),
		Length: be.Uint32(b[24:]),
	}, nil
}

// Encode writes the request header into b (a client's view; tests use it).
func (r Request) Encode(b []byte) {
	be := binary.BigEndian
	be.PutUint32(b, requestMagic)
	be.PutUint16(b[4:], r.Flags)
	be.PutUint16(b[6:], r.Type)
	be.PutUint64(b[8:], r.Handle)
	be.PutUint64(b[16:], r.Offset)
	be.PutUint32(b[24:], r.Length)
}

// infoRequest is the payload of NBD_OPT_INFO / NBD_OPT_GO.
type infoRequest struct {
	name  string
	infos []uint16
}

func parseInfoRequest(d []byte) (infoRequest, error) {
	var r infoRequest
	if len(d) < 6 {
		return r, errors.New("short NBD_OPT_INFO/GO payload")
	}
	be := binary.BigEndian
	n := be.Uint32(d)
	if uint64(n) > uint64(len(d))-6 {
		return r, errors.New("export name longer than the option")
	}
	r.name = string(d[4 : 4+n])
	d = d[4+n:]
	k := int(be.Uint16(d))
	d = d[2:]
	if len(d) != 2*k {
		return r, errors.New("information request count does not match the option length")
	}
	for i := 0; i < k; i++ {
		r.infos = append(r.infos, be.Uint16(d[2*i:]))
	}
	return r, nil
}
