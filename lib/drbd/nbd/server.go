package nbd

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"

	"github.com/linux-ha-go/ha/lib/drbd/iobuf"
)

// Backend is the storage behind an export.
type Backend interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Size() int64
	// Flush makes every completed write durable.
	Flush() error
	// Trim discards a range (it may read back as zeroes or as before).
	Trim(off, length int64) error
}

// Zeroer is an optional Backend method for WRITE_ZEROES; without it the
// server writes zero buffers.
type Zeroer interface {
	WriteZeroes(off, length int64) error
}

// Export is one named export.
type Export struct {
	Name        string
	Description string
	Backend     Backend
	ReadOnly    bool
}

// Options tune the server.
type Options struct {
	// Workers is the number of requests served at once per connection
	// (default 16: enough for a queue depth of 16).
	Workers int
	// MaxRequest is the largest read or write accepted (default 32 MiB).
	MaxRequest uint32
	Log        *slog.Logger
}

// Server serves exports. The export "" is the default one.
type Server struct {
	mu      sync.Mutex
	exports map[string]*Export
	order   []string
	opt     Options
	bufs    bufPool
}

// NewServer returns a server for the given exports.
func NewServer(opt Options, exports ...*Export) *Server {
	if opt.Workers <= 0 {
		opt.Workers = 16
	}
	if opt.MaxRequest == 0 {
		opt.MaxRequest = 32 << 20
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{exports: map[string]*Export{}, opt: opt}
	for _, e := range exports {
		s.exports[e.Name] = e
		s.order = append(s.order, e.Name)
	}
	return s
}

// Serve accepts connections until ctx ends or the listener fails.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.ServeConn(ctx, c); err != nil {
				s.opt.Log.Debug("nbd connection ended", "err", err)
			}
		}()
	}
}

func (s *Server) flags(e *Export) uint16 {
	f := FlagHasFlags | FlagSendFlush | FlagSendFUA | FlagSendTrim | FlagWriteZeroes | FlagCanMultiConn
	if e.ReadOnly {
		f |= FlagReadOnly
	}
	return f
}

// conn is one client connection.
type conn struct {
	s    *Server
	rw   io.ReadWriter
	r    *bufio.Reader
	wmu  sync.Mutex
	w    *bufio.Writer
	noZ  bool
	exp  *Export
	hdr  [requestSize]byte
	rep  [simpleRepSize]byte // reply header, under wmu
	err  error
	errM sync.Mutex
	// async counts streamed writes and flushes not answered yet.
	async sync.WaitGroup
}

// ServeConn runs the negotiation and then serves requests until the
// client disconnects. It closes c.
func (s *Server) ServeConn(ctx context.Context, c io.ReadWriteCloser) error {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	cn := &conn{s: s, rw: c, r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10)}
	exp, err := cn.negotiate()
	if err != nil || exp == nil {
		return err
	}
	cn.exp = exp
	return cn.transmit()
}

func (c *conn) negotiate() (*Export, error) {
	var b [18]byte
	be := binary.BigEndian
	be.PutUint64(b[0:], nbdMagic)
	be.PutUint64(b[8:], optMagic)
	be.PutUint16(b[16:], flagFixedNewstyle|flagNoZeroes)
	c.w.Write(b[:])
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	var cf [4]byte
	if _, err := io.ReadFull(c.r, cf[:]); err != nil {
		return nil, err
	}
	clientFlags := be.Uint32(cf[:])
	if clientFlags&clientFixedNewstyle == 0 {
		return nil, errors.New("client does not support fixed newstyle negotiation")
	}
	c.noZ = clientFlags&clientNoZeroes != 0
	var oh [16]byte
	for {
		if _, err := io.ReadFull(c.r, oh[:]); err != nil {
			return nil, err
		}
		if be.Uint64(oh[:]) != optMagic {
			return nil, errors.New("bad option magic")
		}
		opt, n := be.Uint32(oh[8:]), be.Uint32(oh[12:])
		if n > 64<<10 {
			return nil, fmt.Errorf("option %d of %d bytes is too large", opt, n)
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(c.r, data); err != nil {
			return nil, err
		}
		switch opt {
		case optExportName:
			e := c.s.lookup(string(data))
			if e == nil {
				return nil, fmt.Errorf("unknown export %q", data)
			}
			var r [10]byte
			be.PutUint64(r[:], uint64(e.Backend.Size()))
			be.PutUint16(r[8:], c.s.flags(e))
			c.w.Write(r[:])
			if !c.noZ {
				c.w.Write(make([]byte, 124))
			}
			return e, c.w.Flush()
		case optAbort:
			c.reply(opt, repAck, nil)
			return nil, c.w.Flush()
		case optList:
			if n != 0 {
				c.reply(opt, repErrInvalid, []byte("NBD_OPT_LIST takes no data"))
				break
			}
			for _, name := range c.s.order {
				d := make([]byte, 4+len(name))
				be.PutUint32(d, uint32(len(name)))
				copy(d[4:], name)
				c.reply(opt, repServer, d)
			}
			c.reply(opt, repAck, nil)
		case optInfo, optGo:
			req, err := parseInfoRequest(data)
			if err != nil {
				c.reply(opt, repErrInvalid, []byte(err.Error()))
				break
			}
			e := c.s.lookup(req.name)
			if e == nil {
				c.reply(opt, repErrUnknown, []byte("unknown export: "+req.name))
				break
			}
			var d [12]byte
			be.PutUint16(d[0:], infoExport)
			be.PutUint64(d[2:], uint64(e.Backend.Size()))
			be.PutUint16(d[10:], c.s.flags(e))
			c.reply(opt, repInfo, d[:])
			for _, want := range req.infos {
				switch want {
				case infoName:
					c.reply(opt, repInfo, append([]byte{0, byte(infoName)}, e.Name...))
				case infoDesc:
					if e.Description != "" {
						c.reply(opt, repInfo, append([]byte{0, byte(infoDesc)}, e.Description...))
					}
				case infoBlockSize:
					var bs [14]byte
					be.PutUint16(bs[0:], infoBlockSize)
					be.PutUint32(bs[2:], minBlockSize(e.Backend))
					be.PutUint32(bs[6:], 4096)
					be.PutUint32(bs[10:], c.s.opt.MaxRequest)
					c.reply(opt, repInfo, bs[:])
				}
			}
			c.reply(opt, repAck, nil)
			if opt == optGo {
				return e, c.w.Flush()
			}
		default:
			c.reply(opt, repErrUnsup, nil)
		}
		if err := c.w.Flush(); err != nil {
			return nil, err
		}
	}
}

func (c *conn) reply(opt, typ uint32, data []byte) {
	var h [20]byte
	be := binary.BigEndian
	be.PutUint64(h[0:], repMagic)
	be.PutUint32(h[8:], opt)
	be.PutUint32(h[12:], typ)
	be.PutUint32(h[16:], uint32(len(data)))
	c.w.Write(h[:])
	c.w.Write(data)
}

func (s *Server) lookup(name string) *Export {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.exports[name]; ok {
		return e
	}
	if name == "" && len(s.order) == 1 {
		return s.exports[s.order[0]]
	}
	return nil
}

// job is one request travelling from the reader to a worker.
type job struct {
	req Request
	buf *[]byte // pooled: the write payload or the read buffer
	err uint32  // an error found while reading the request
}

// transmit reads requests and hands them to a fixed set of workers; the
// reader reads write payloads into pooled buffers, so the I/O path does
// not allocate once the pool is warm.
func (c *conn) transmit() error {
	jobs := make(chan job, c.s.opt.Workers)
	var wg sync.WaitGroup
	for range c.s.opt.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				c.serve(j)
			}
		}()
	}
	err := c.readLoop(jobs)
	close(jobs)
	wg.Wait()
	c.async.Wait()
	if err == nil {
		err = c.firstErr()
	}
	return err
}

func (c *conn) setErr(err error) {
	c.errM.Lock()
	if c.err == nil {
		c.err = err
	}
	c.errM.Unlock()
}

func (c *conn) firstErr() error {
	c.errM.Lock()
	defer c.errM.Unlock()
	return c.err
}

func (c *conn) readLoop(jobs chan<- job) error {
	size := uint64(c.exp.Backend.Size())
	for {
		if _, err := io.ReadFull(c.r, c.hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		req, err := DecodeRequest(c.hdr[:])
		if err != nil {
			return err
		}
		switch req.Type {
		case CmdDisc:
			return nil
		case CmdWrite:
			if req.Length > c.s.opt.MaxRequest {
				// The payload cannot be skipped safely; end the connection.
				return fmt.Errorf("write of %d bytes exceeds the %d byte limit", req.Length, c.s.opt.MaxRequest)
			}
			if sw, ok := c.exp.Backend.(StreamWriter); ok && !c.exp.ReadOnly && req.Offset+uint64(req.Length) <= size && req.Offset+uint64(req.Length) >= req.Offset {
				done, err := c.streamWrite(sw, req)
				if err != nil {
					return err
				}
				if done {
					continue
				}
			}
			buf := c.s.bufs.get(int(req.Length))
			if _, err := io.ReadFull(c.r, *buf); err != nil {
				c.s.bufs.put(buf)
				return err
			}
			jobs <- job{req: req, buf: buf}
		case CmdRead:
			if req.Length > c.s.opt.MaxRequest || req.Offset+uint64(req.Length) > size || req.Offset+uint64(req.Length) < req.Offset {
				jobs <- job{req: req, err: errInval}
				continue
			}
			jobs <- job{req: req, buf: c.s.bufs.get(int(req.Length))}
		case CmdFlush:
			if f, ok := c.exp.Backend.(AsyncFlusher); ok {
				c.asyncFlush(f, req)
				continue
			}
			jobs <- job{req: req}
		default:
			jobs <- job{req: req}
		}
	}
}

func (c *conn) simpleReply(handle uint64, e uint32, data []byte) {
	be := binary.BigEndian
	c.wmu.Lock()
	defer c.wmu.Unlock()
	h := c.rep[:]
	be.PutUint32(h[0:], simpleMagic)
	be.PutUint32(h[4:], e)
	be.PutUint64(h[8:], handle)
	c.w.Write(h)
	if e == 0 {
		c.w.Write(data)
	}
	if err := c.w.Flush(); err != nil {
		c.setErr(err)
	}
}

func (c *conn) serve(j job) {
	req, b := j.req, c.exp.Backend
	size := uint64(b.Size())
	end := req.Offset + uint64(req.Length)
	inRange := end >= req.Offset && end <= size
	var e uint32
	if j.err != 0 {
		c.simpleReply(req.Handle, j.err, nil)
		return
	}
	switch req.Type {
	case CmdRead:
		n, err := b.ReadAt(*j.buf, int64(req.Offset))
		if err != nil && !errors.Is(err, io.EOF) {
			e = errIO
		}
		clear((*j.buf)[n:]) // a short read must not leak an older request's data
		c.simpleReply(req.Handle, e, *j.buf)
	case CmdWrite:
		switch {
		case c.exp.ReadOnly:
			e = errPerm
		case !inRange:
			e = errNoSpc
		default:
			if _, err := b.WriteAt(*j.buf, int64(req.Offset)); err != nil {
				e = errIO
			} else if req.Flags&CmdFlagFUA != 0 && b.Flush() != nil {
				e = errIO
			}
		}
		c.simpleReply(req.Handle, e, nil)
	case CmdFlush:
		if err := b.Flush(); err != nil {
			e = errIO
		}
		c.simpleReply(req.Handle, e, nil)
	case CmdTrim, CmdWriteZeroes:
		switch {
		case c.exp.ReadOnly:
			e = errPerm
		case !inRange:
			e = errNoSpc
		case req.Type == CmdTrim:
			if err := b.Trim(int64(req.Offset), int64(req.Length)); err != nil {
				e = errIO
			}
		default:
			if err := c.zero(b, int64(req.Offset), int64(req.Length)); err != nil {
				e = errIO
			}
		}
		if e == 0 && req.Flags&CmdFlagFUA != 0 && b.Flush() != nil {
			e = errIO
		}
		c.simpleReply(req.Handle, e, nil)
	case CmdCache:
		c.simpleReply(req.Handle, 0, nil)
	default:
		c.simpleReply(req.Handle, errInval, nil)
	}
	if j.buf != nil {
		c.s.bufs.put(j.buf)
	}
}

func (c *conn) zero(b Backend, off, n int64) error {
	if z, ok := b.(Zeroer); ok {
		if err := z.WriteZeroes(off, n); err == nil {
			return nil
		}
	}
	bp := c.s.bufs.get(int(min(n, 1<<20)))
	defer c.s.bufs.put(bp)
	buf := *bp
	clear(buf)
	for n > 0 {
		k := min(n, int64(len(buf)))
		if _, err := b.WriteAt(buf[:k], off); err != nil {
			return err
		}
		off += k
		n -= k
	}
	return nil
}

// bufPool hands out byte buffers by power-of-two size classes (4 KiB to
// 32 MiB), so request buffers are reused instead of allocated. Buffers
// travel as *[]byte so that returning one to the pool does not allocate.
type bufPool struct {
	classes [14]sync.Pool
}

func class(n int) int {
	c, sz := 0, 4096
	for sz < n && c < 13 {
		sz <<= 1
		c++
	}
	return c
}

func (p *bufPool) get(n int) *[]byte {
	if n > 4096<<13 {
		b := iobuf.Aligned(n)
		return &b
	}
	c := class(n)
	if v, ok := p.classes[c].Get().(*[]byte); ok {
		*v = (*v)[:n]
		return v
	}
	b := iobuf.Aligned(4096 << c)[:n]
	return &b
}

func (p *bufPool) put(b *[]byte) {
	c := cap(*b)
	if c < 4096 || c > 4096<<13 || 4096<<class(c) != c {
		return
	}
	p.classes[class(c)].Put(b)
}
