// Package repl is the DRBD 8.4 peer protocol: packet framing (the h80,
// h95 and h100 headers), the encoders and decoders of the packets
// godrbd exchanges, and the connection handshake (protocol version and
// feature negotiation, cram-hmac-alg/shared-secret authentication).
//
// Layouts, numbers and messages follow DRBD 8.4.7 (drbd_protocol.h,
// drbd_receiver.c); all fields are big endian.
package repl

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/linux-ha-go/ha/lib/drbd/state"
)

// Header magics.
const (
	MagicH80  uint32 = 0x83740267 // DRBD_MAGIC: 8-byte header, 16-bit length
	MagicH95  uint16 = 0x835a     // DRBD_MAGIC_BIG: 8-byte header, 32-bit length
	MagicH100 uint32 = 0x8620ec20 // DRBD_MAGIC_100: 16-byte header with volume
)

// Protocol versions this implementation speaks.
const (
	ProtoMin = 86
	ProtoMax = 101
)

// MaxPayload bounds a packet's payload: a 1 MiB data block plus its
// header (DRBD_MAX_BIO_SIZE) with room to spare.
const MaxPayload = 1<<20 + 4096

// MaxBlock is the largest block one request moves (DRBD_MAX_BIO_SIZE).
const MaxBlock = 1 << 20

// Cmd is a packet type.
type Cmd uint16

// Packet types (enum drbd_packet).
const (
	PData               Cmd = 0x00
	PDataReply          Cmd = 0x01
	PRSDataReply        Cmd = 0x02
	PBarrier            Cmd = 0x03
	PBitmap             Cmd = 0x04
	PBecomeSyncTarget   Cmd = 0x05
	PBecomeSyncSource   Cmd = 0x06
	PUnplugRemote       Cmd = 0x07
	PDataRequest        Cmd = 0x08
	PRSDataRequest      Cmd = 0x09
	PSyncParam          Cmd = 0x0a
	PProtocol           Cmd = 0x0b
	PUUIDs              Cmd = 0x0c
	PSizes              Cmd = 0x0d
	PState              Cmd = 0x0e
	PSyncUUID           Cmd = 0x0f
	PAuthChallenge      Cmd = 0x10
	PAuthResponse       Cmd = 0x11
	PStateChgReq        Cmd = 0x12
	PPing               Cmd = 0x13
	PPingAck            Cmd = 0x14
	PRecvAck            Cmd = 0x15
	PWriteAck           Cmd = 0x16
	PRSWriteAck         Cmd = 0x17
	PSuperseded         Cmd = 0x18
	PNegAck             Cmd = 0x19
	PNegDReply          Cmd = 0x1a
	PNegRSDReply        Cmd = 0x1b
	PBarrierAck         Cmd = 0x1c
	PStateChgReply      Cmd = 0x1d
	POVRequest          Cmd = 0x1e
	POVReply            Cmd = 0x1f
	POVResult           Cmd = 0x20
	PCsumRSRequest      Cmd = 0x21
	PRSIsInSync         Cmd = 0x22
	PSyncParam89        Cmd = 0x23
	PCompressedBitmap   Cmd = 0x24
	PDelayProbe         Cmd = 0x27
	POutOfSync          Cmd = 0x28
	PRSCancel           Cmd = 0x29
	PConnStChgReq       Cmd = 0x2a
	PConnStChgReply     Cmd = 0x2b
	PRetryWrite         Cmd = 0x2c
	PProtocolUpdate     Cmd = 0x2d
	PTrim               Cmd = 0x31
	PInitialMeta        Cmd = 0xfff1
	PInitialData        Cmd = 0xfff2
	PConnectionFeatures Cmd = 0xfffe
)

var cmdNames = map[Cmd]string{
	PData: "Data", PDataReply: "DataReply", PRSDataReply: "RSDataReply", PBarrier: "Barrier",
	PBitmap: "ReportBitMap", PBecomeSyncTarget: "BecomeSyncTarget", PBecomeSyncSource: "BecomeSyncSource",
	PUnplugRemote: "UnplugRemote", PDataRequest: "DataRequest", PRSDataRequest: "RSDataRequest",
	PSyncParam: "SyncParam", PProtocol: "ReportProtocol", PUUIDs: "ReportUUIDs", PSizes: "ReportSizes",
	PState: "ReportState", PSyncUUID: "ReportSyncUUID", PAuthChallenge: "AuthChallenge",
	PAuthResponse: "AuthResponse", PStateChgReq: "StateChgRequest", PPing: "Ping", PPingAck: "PingAck",
	PRecvAck: "RecvAck", PWriteAck: "WriteAck", PRSWriteAck: "RSWriteAck", PSuperseded: "Superseded",
	PNegAck: "NegAck", PNegDReply: "NegDReply", PNegRSDReply: "NegRSDReply", PBarrierAck: "BarrierAck",
	PStateChgReply: "StateChgReply", POVRequest: "OVRequest", POVReply: "OVReply", POVResult: "OVResult",
	PCsumRSRequest: "CsumRSRequest", PRSIsInSync: "CsumRSIsInSync", PSyncParam89: "SyncParam89",
	PCompressedBitmap: "CBitmap", PDelayProbe: "DelayProbe", POutOfSync: "OutOfSync",
	PRSCancel: "RSCancel", PConnStChgReq: "conn_st_chg_req", PConnStChgReply: "conn_st_chg_reply",
	PRetryWrite: "retry_write", PProtocolUpdate: "protocol_update", PTrim: "Trim",
	PInitialMeta: "InitialMeta", PInitialData: "InitialData", PConnectionFeatures: "ConnectionFeatures",
}

func (c Cmd) String() string {
	if n, ok := cmdNames[c]; ok {
		return n
	}
	return "Unknown"
}

// Header is a decoded packet header.
type Header struct {
	Cmd    Cmd
	Volume uint16
	Length uint32 // payload bytes after the header
}

// Errors of the framing layer.
var (
	ErrBadMagic = errors.New("drbd: wrong magic value in packet header")
	ErrTooLarge = errors.New("drbd: packet too large")
)

// ReadHeader reads one header of any of the three formats.
func ReadHeader(r io.Reader) (Header, error) {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:8]); err != nil {
		return Header{}, err
	}
	return decodeHeader(b[:], func(n int) error {
		_, err := io.ReadFull(r, b[8:8+n])
		return err
	})
}

// DecodeHeader parses a header at the start of b and returns it with its
// size.
func DecodeHeader(b []byte) (Header, int, error) {
	if len(b) < 8 {
		return Header{}, 0, io.ErrUnexpectedEOF
	}
	size := 8
	h, err := decodeHeader(b, func(n int) error {
		if len(b) < 8+n {
			return io.ErrUnexpectedEOF
		}
		size += n
		return nil
	})
	return h, size, err
}

func decodeHeader(b []byte, more func(n int) error) (Header, error) {
	be := binary.BigEndian
	var h Header
	switch {
	case be.Uint32(b) == MagicH100:
		if err := more(8); err != nil {
			return h, err
		}
		h = Header{Volume: be.Uint16(b[4:]), Cmd: Cmd(be.Uint16(b[6:])), Length: be.Uint32(b[8:])}
		if be.Uint32(b[12:]) != 0 {
			return h, fmt.Errorf("%w (h100 padding not zero)", ErrBadMagic)
		}
	case be.Uint16(b) == MagicH95:
		h = Header{Cmd: Cmd(be.Uint16(b[2:])), Length: be.Uint32(b[4:])}
	case be.Uint32(b) == MagicH80:
		h = Header{Cmd: Cmd(be.Uint16(b[4:])), Length: uint32(be.Uint16(b[6:]))}
	default:
		return h, fmt.Errorf("%w: 0x%08x", ErrBadMagic, be.Uint32(b))
	}
	if h.Length > MaxPayload {
		return h, fmt.Errorf("%w: %s of %d bytes", ErrTooLarge, h.Cmd, h.Length)
	}
	return h, nil
}

// AppendHeader appends a header in the format DRBD uses for the agreed
// protocol version (0 before the handshake): h100 from version 100, else
// h95 for payloads over 64 KiB, else h80.
func AppendHeader(b []byte, version int, cmd Cmd, volume uint16, length uint32) []byte {
	be := binary.BigEndian
	switch {
	case version >= 100:
		b = be.AppendUint32(b, MagicH100)
		b = be.AppendUint16(b, volume)
		b = be.AppendUint16(b, uint16(cmd))
		b = be.AppendUint32(b, length)
		return be.AppendUint32(b, 0)
	case length > 0xffff:
		b = be.AppendUint16(b, MagicH95)
		b = be.AppendUint16(b, uint16(cmd))
		return be.AppendUint32(b, length)
	}
	b = be.AppendUint32(b, MagicH80)
	b = be.AppendUint16(b, uint16(cmd))
	return be.AppendUint16(b, uint16(length))
}

// ErrShort is returned by payload decoders given too few bytes.
var ErrShort = errors.New("drbd: packet payload too short")

// Features is P_CONNECTION_FEATURES (72 bytes).
type Features struct {
	ProtoMin, FeatureFlags, ProtoMax uint32
}

// Feature flags.
const (
	FFTrim       = 1
	FFThinResync = 2
	FFWSame      = 4
)

const featuresSize = 72

func (f Features) Append(b []byte) []byte {
	be := binary.BigEndian
	b = be.AppendUint32(b, f.ProtoMin)
	b = be.AppendUint32(b, f.FeatureFlags)
	b = be.AppendUint32(b, f.ProtoMax)
	return append(b, make([]byte, featuresSize-12)...)
}

func DecodeFeatures(b []byte) (Features, error) {
	if len(b) < featuresSize {
		return Features{}, ErrShort
	}
	be := binary.BigEndian
	return Features{ProtoMin: be.Uint32(b), FeatureFlags: be.Uint32(b[4:]), ProtoMax: be.Uint32(b[8:])}, nil
}

// Protocol is P_PROTOCOL: the net options both sides must agree on.
type Protocol struct {
	Protocol     uint32 // 1 = A, 2 = B, 3 = C
	AfterSB0     uint32
	AfterSB1     uint32
	AfterSB2     uint32
	ConnFlags    uint32 // CF_DISCARD_MY_DATA 1, CF_DRY_RUN 2
	TwoPrimaries uint32
	IntegrityAlg string
}

// Connection flags of P_PROTOCOL.
const (
	CFDiscardMyData = 1
	CFDryRun        = 2
)

func (p Protocol) Append(b []byte) []byte {
	be := binary.BigEndian
	for _, v := range []uint32{p.Protocol, p.AfterSB0, p.AfterSB1, p.AfterSB2, p.ConnFlags, p.TwoPrimaries} {
		b = be.AppendUint32(b, v)
	}
	if p.IntegrityAlg != "" {
		b = append(b, p.IntegrityAlg...)
		b = append(b, 0)
	}
	return b
}

func DecodeProtocol(b []byte) (Protocol, error) {
	if len(b) < 24 {
		return Protocol{}, ErrShort
	}
	be := binary.BigEndian
	p := Protocol{be.Uint32(b), be.Uint32(b[4:]), be.Uint32(b[8:]), be.Uint32(b[12:]), be.Uint32(b[16:]), be.Uint32(b[20:]), ""}
	alg := b[24:]
	if i := bytes.IndexByte(alg, 0); i >= 0 {
		alg = alg[:i]
	}
	// DRBD keeps the name in 64 bytes with its terminating NUL.
	if len(alg) > 63 {
		return p, fmt.Errorf("drbd: integrity-alg of %d bytes", len(alg))
	}
	p.IntegrityAlg = string(alg)
	return p, nil
}

// UUIDs is P_UUIDS: the four generation UUIDs, the bitmap weight and the
// flags word (state.PeerFlag*).
type UUIDs struct {
	UUIDs state.UUIDs
	Bits  uint64
	Flags uint64
}

func (u UUIDs) Append(b []byte) []byte {
	be := binary.BigEndian
	for _, v := range []uint64{u.UUIDs.Current, u.UUIDs.Bitmap, u.UUIDs.History[0], u.UUIDs.History[1], u.Bits, u.Flags} {
		b = be.AppendUint64(b, v)
	}
	return b
}

func DecodeUUIDs(b []byte) (UUIDs, error) {
	if len(b) < 48 {
		return UUIDs{}, ErrShort
	}
	be := binary.BigEndian
	return UUIDs{
		UUIDs: state.UUIDs{Current: be.Uint64(b), Bitmap: be.Uint64(b[8:]), History: [2]uint64{be.Uint64(b[16:]), be.Uint64(b[24:])}},
		Bits:  be.Uint64(b[32:]), Flags: be.Uint64(b[40:]),
	}, nil
}

// Sizes is P_SIZES (without the optional queue limits).
type Sizes struct {
	DSize, USize, CSize uint64 // sectors: disk, user requested, current
	MaxBioSize          uint32
	QueueOrderType      uint16
	DDSFlags            uint16
}

func (s Sizes) Append(b []byte) []byte {
	be := binary.BigEndian
	b = be.AppendUint64(b, s.DSize)
	b = be.AppendUint64(b, s.USize)
	b = be.AppendUint64(b, s.CSize)
	b = be.AppendUint32(b, s.MaxBioSize)
	b = be.AppendUint16(b, s.QueueOrderType)
	return be.AppendUint16(b, s.DDSFlags)
}

func DecodeSizes(b []byte) (Sizes, error) {
	if len(b) < 32 {
		return Sizes{}, ErrShort
	}
	be := binary.BigEndian
	return Sizes{be.Uint64(b), be.Uint64(b[8:]), be.Uint64(b[16:]), be.Uint32(b[24:]), be.Uint16(b[28:]), be.Uint16(b[30:])}, nil
}

// EncodeState packs a state into union drbd_state's 32-bit layout:
// role:2 peer:2 conn:5 disk:4 pdsk:4 susp:1 aftr_isp:1 peer_isp:1
// user_isp:1 susp_nod:1 susp_fen:1, from bit 0.
func EncodeState(s state.State) uint32 {
	b := func(v bool, shift uint) uint32 {
		if v {
			return 1 << shift
		}
		return 0
	}
	return uint32(s.Role)&3 | (uint32(s.Peer)&3)<<2 | (uint32(s.Conn)&31)<<4 |
		(uint32(s.Disk)&15)<<9 | (uint32(s.PDsk)&15)<<13 |
		b(s.Susp, 17) | b(s.AftrIsp, 18) | b(s.PeerIsp, 19) | b(s.UserIsp, 20) | b(s.SuspNod, 21) | b(s.SuspFen, 22)
}

// ErrBadState is returned for a state word with out-of-range fields.
var ErrBadState = errors.New("drbd: invalid state in packet")

// DecodeState unpacks a state word.
func DecodeState(v uint32) (state.State, error) {
	s := state.State{
		Role: state.Role(v & 3), Peer: state.Role(v >> 2 & 3), Conn: state.Conn(v >> 4 & 31),
		Disk: state.Disk(v >> 9 & 15), PDsk: state.Disk(v >> 13 & 15),
		Susp: v>>17&1 != 0, AftrIsp: v>>18&1 != 0, PeerIsp: v>>19&1 != 0, UserIsp: v>>20&1 != 0,
		SuspNod: v>>21&1 != 0, SuspFen: v>>22&1 != 0,
	}
	if s.Role > state.Secondary || s.Peer > state.Secondary || s.Conn > state.Behind || s.Disk > state.UpToDate || s.PDsk > state.UpToDate {
		return s, fmt.Errorf("%w: 0x%08x", ErrBadState, v)
	}
	return s, nil
}

// DataHeader is struct p_data, before the data of P_DATA, P_DATA_REPLY
// and P_RS_DATA_REPLY.
type DataHeader struct {
	Sector  uint64
	BlockID uint64
	SeqNum  uint32
	DPFlags uint32
}

// Data packet flags (DP_*).
const (
	DPRWSync         = 2
	DPMaySetInSync   = 4
	DPFUA            = 16
	DPFlush          = 32
	DPDiscard        = 64
	DPSendReceiveAck = 128 // protocol B
	DPSendWriteAck   = 256 // protocol C
)

const dataHeaderSize = 24

// DataHeaderSize is the size of p_data's header, before the block.
const DataHeaderSize = dataHeaderSize

func (d DataHeader) Append(b []byte) []byte {
	be := binary.BigEndian
	b = be.AppendUint64(b, d.Sector)
	b = be.AppendUint64(b, d.BlockID)
	b = be.AppendUint32(b, d.SeqNum)
	return be.AppendUint32(b, d.DPFlags)
}

// DecodeData splits a data packet's payload into its header and data.
func DecodeData(b []byte) (DataHeader, []byte, error) {
	if len(b) < dataHeaderSize {
		return DataHeader{}, nil, ErrShort
	}
	be := binary.BigEndian
	return DataHeader{be.Uint64(b), be.Uint64(b[8:]), be.Uint32(b[16:]), be.Uint32(b[20:])}, b[dataHeaderSize:], nil
}

// BlockAck is struct p_block_ack (P_RECV_ACK, P_WRITE_ACK, P_RS_WRITE_ACK,
// P_NEG_ACK, ...).
type BlockAck struct {
	Sector  uint64
	BlockID uint64
	BlkSize uint32
	SeqNum  uint32
}

func (a BlockAck) Append(b []byte) []byte {
	be := binary.BigEndian
	b = be.AppendUint64(b, a.Sector)
	b = be.AppendUint64(b, a.BlockID)
	b = be.AppendUint32(b, a.BlkSize)
	return be.AppendUint32(b, a.SeqNum)
}

func DecodeBlockAck(b []byte) (BlockAck, error) {
	if len(b) < 24 {
		return BlockAck{}, ErrShort
	}
	be := binary.BigEndian
	return BlockAck{be.Uint64(b), be.Uint64(b[8:]), be.Uint32(b[16:]), be.Uint32(b[20:])}, nil
}

// BlockReq is struct p_block_req (P_DATA_REQUEST, P_RS_DATA_REQUEST,
// P_OV_REQUEST).
type BlockReq struct {
	Sector  uint64
	BlockID uint64
	BlkSize uint32
}

func (r BlockReq) Append(b []byte) []byte {
	be := binary.BigEndian
	b = be.AppendUint64(b, r.Sector)
	b = be.AppendUint64(b, r.BlockID)
	b = be.AppendUint32(b, r.BlkSize)
	return be.AppendUint32(b, 0)
}

func DecodeBlockReq(b []byte) (BlockReq, error) {
	if len(b) < 24 {
		return BlockReq{}, ErrShort
	}
	be := binary.BigEndian
	return BlockReq{be.Uint64(b), be.Uint64(b[8:]), be.Uint32(b[16:])}, nil
}

// Barrier is P_BARRIER; BarrierAck is P_BARRIER_ACK.
type (
	Barrier    struct{ Barrier uint32 }
	BarrierAck struct{ Barrier, SetSize uint32 }
)

func (p Barrier) Append(b []byte) []byte {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(b, p.Barrier), 0)
}

func DecodeBarrier(b []byte) (Barrier, error) {
	if len(b) < 8 {
		return Barrier{}, ErrShort
	}
	return Barrier{binary.BigEndian.Uint32(b)}, nil
}

func (p BarrierAck) Append(b []byte) []byte {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(b, p.Barrier), p.SetSize)
}

func DecodeBarrierAck(b []byte) (BarrierAck, error) {
	if len(b) < 8 {
		return BarrierAck{}, ErrShort
	}
	return BarrierAck{binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])}, nil
}

// StateChgReq is P_STATE_CHG_REQ / P_CONN_ST_CHG_REQ: mask and value of
// the requested change.
type StateChgReq struct{ Mask, Val uint32 }

func (r StateChgReq) Append(b []byte) []byte {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(b, r.Mask), r.Val)
}

func DecodeStateChgReq(b []byte) (StateChgReq, error) {
	if len(b) < 8 {
		return StateChgReq{}, ErrShort
	}
	return StateChgReq{binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])}, nil
}

// DecodeU32 and DecodeU64 read single-field payloads (P_STATE,
// P_STATE_CHG_REPLY, P_SYNC_UUID).
func DecodeU32(b []byte) (uint32, error) {
	if len(b) < 4 {
		return 0, ErrShort
	}
	return binary.BigEndian.Uint32(b), nil
}

func DecodeU64(b []byte) (uint64, error) {
	if len(b) < 8 {
		return 0, ErrShort
	}
	return binary.BigEndian.Uint64(b), nil
}
