package httpclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	readBufferSize = 4 << 10
	maxHeaderBytes = 1 << 20
)

// rawSession is the HTTP/1.1 keep-alive path: one connection per endpoint
// (in practice one per virtual user), requests written as pre-serialized
// bytes, responses parsed in place.
type rawSession struct {
	client      *Client
	connsMu     sync.Mutex // the owner appends under it; Interrupt reads under it
	conns       []*rawConn
	interrupted atomic.Bool
}

func (s *rawSession) Do(req *Request, capture Capture, res *Result) {
	c := s.conn(req.Endpoint)
	c.do(req, capture, res)
}

func (s *rawSession) conn(ep Endpoint) *rawConn {
	for _, c := range s.conns {
		if c.ep == ep {
			return c
		}
	}
	c := &rawConn{session: s, ep: ep}
	s.connsMu.Lock()
	s.conns = append(s.conns, c)
	s.connsMu.Unlock()
	return c
}

func (s *rawSession) Connect(ep Endpoint) error {
	c := s.conn(ep)
	if c.nc != nil {
		return nil
	}
	var deadline time.Time
	if t := s.client.opts.Timeout; t > 0 {
		deadline = time.Now().Add(t)
	}
	if err := c.dial(deadline); err != nil {
		return err
	}
	c.idled = true
	return nil
}

func (s *rawSession) Interrupt() {
	s.interrupted.Store(true)
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	for _, c := range s.conns {
		c.interrupt()
	}
}

func (s *rawSession) Close() {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	for _, c := range s.conns {
		c.close()
	}
	s.conns = nil
}

// rawConn is one keep-alive connection and its read buffer.
type rawConn struct {
	session *rawSession
	ep      Endpoint
	mu      sync.Mutex // guards nc for Interrupt; the owner goroutine is the only writer
	nc      net.Conn
	// idled: nc has sat idle before the next request (kept alive after a
	// response, or opened ahead by Connect), so the server may have closed it.
	idled bool
	buf   []byte
	r, w  int
	// fast path on the socket itself (plain TCP on Linux), see rawio_linux.go
	fd fdIO
	// per response
	bytesIn   int64
	firstByte time.Time
	header    http.Header
	body      []byte
}

func (c *rawConn) interrupt() {
	c.mu.Lock()
	if c.nc != nil {
		_ = c.nc.SetDeadline(time.Unix(1, 0))
	}
	c.mu.Unlock()
}

func (c *rawConn) close() {
	c.mu.Lock()
	if c.nc != nil {
		_ = c.nc.Close()
		c.nc = nil
	}
	c.mu.Unlock()
	c.fd.detach()
	c.idled = false
	c.r, c.w = 0, 0
}

func (c *rawConn) do(req *Request, capture Capture, res *Result) {
	*res = Result{Start: time.Now()}
	timeout := c.session.client.opts.Timeout
	if req.Timeout > 0 {
		timeout = req.Timeout
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = res.Start.Add(timeout)
	}
	for attempt := 0; ; attempt++ {
		if c.session.interrupted.Load() {
			res.Err = errInterrupted
			break
		}
		if c.nc == nil {
			if err := c.dial(deadline); err != nil {
				res.Err = err
				break
			}
			res.Reconnected = true
		}
		idled := c.idled
		if err := c.roundTrip(req, capture, deadline, res); err != nil {
			c.close()
			// A connection the server closed while it sat idle fails before
			// any response byte; retry such a request once on a fresh
			// connection, as browsers and net/http do.
			if idled && attempt == 0 && res.BytesIn == 0 && isStale(err) {
				res.BytesOut, res.Sent = 0, false
				continue
			}
			if c.session.interrupted.Load() {
				err = fmt.Errorf("%w (%v)", errInterrupted, err)
			}
			res.Err = err
			break
		}
		// A proxy that timed out a connection we opened ahead or kept
		// alive answers 408 and closes it (HAProxy does, unless
		// http-ignore-probes); the answer waited in the socket for our
		// next request. The request never reached the application, so it
		// goes again on a fresh connection, as net/http does and RFC 9110
		// (15.5.9) allows.
		if idled && attempt == 0 && res.Status == http.StatusRequestTimeout {
			c.close()
			*res = Result{Start: res.Start}
			continue
		}
		break
	}
	res.End = time.Now()
}

func isStale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func (c *rawConn) dial(deadline time.Time) error {
	client := c.session.client
	ctx := context.Background()
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	addr, err := client.resolver.Resolve(ctx, c.ep.HostPort)
	if err != nil {
		return err
	}
	// No TCP keep-alive probes: request timeouts catch dead peers, and
	// thousands of VU connections need four fewer system calls each.
	d := net.Dialer{KeepAlive: -1}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	if c.ep.TLS {
		cfg := client.tlsConfig.Clone()
		cfg.ServerName = c.ep.Host
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return err
		}
		nc = tc
	}
	c.mu.Lock()
	c.nc = nc
	c.mu.Unlock()
	// Interrupt may have run between the check in do and the assignment above.
	if c.session.interrupted.Load() {
		c.close()
		return errInterrupted
	}
	c.idled = false
	c.r, c.w = 0, 0
	if c.buf == nil {
		c.buf = make([]byte, readBufferSize)
	}
	c.fd.attach(nc)
	return nil
}

func (c *rawConn) roundTrip(req *Request, capture Capture, deadline time.Time, res *Result) error {
	if !deadline.IsZero() {
		if err := c.nc.SetDeadline(deadline); err != nil {
			return err
		}
		// Interrupt may have set a past deadline just before ours replaced it.
		if c.session.interrupted.Load() {
			return errInterrupted
		}
	}
	c.bytesIn = 0
	c.firstByte = time.Time{}
	if c.fd.attached() {
		if err := c.makeRoom(); err != nil {
			return err
		}
		// Write the request and read the first bytes of the response in
		// one pass over the socket, without the speculative read that
		// would find nothing yet.
		written, n, err := c.fd.exchange(req.Wire, c.buf[c.w:])
		res.BytesOut += int64(written)
		res.Sent = res.Sent || written > 0
		c.received(n)
		if err != nil {
			res.BytesIn = c.bytesIn
			return err
		}
	} else {
		n, err := c.nc.Write(req.Wire)
		res.BytesOut += int64(n)
		res.Sent = res.Sent || n > 0
		if err != nil {
			return err
		}
	}
	err := c.readResponse(req, capture, res)
	res.BytesIn = c.bytesIn
	res.FirstByte = c.firstByte
	if err != nil {
		if errors.Is(err, io.EOF) && c.bytesIn > 0 {
			err = fmt.Errorf("connection closed mid-response: %w", io.ErrUnexpectedEOF)
		}
		return err
	}
	c.idled = true
	return nil
}

// fill reads more bytes into the buffer, compacting or growing it when full.
func (c *rawConn) fill() error {
	if err := c.makeRoom(); err != nil {
		return err
	}
	var (
		n   int
		err error
	)
	if c.fd.attached() {
		n, err = c.fd.read(c.buf[c.w:])
	} else {
		n, err = c.nc.Read(c.buf[c.w:])
	}
	if n > 0 {
		c.received(n)
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

func (c *rawConn) received(n int) {
	if n <= 0 {
		return
	}
	if c.firstByte.IsZero() {
		c.firstByte = time.Now()
	}
	c.w += n
	c.bytesIn += int64(n)
}

// makeRoom makes space after c.w: it rewinds an empty buffer, compacts a
// full one, or grows it for a long response head.
func (c *rawConn) makeRoom() error {
	if c.r == c.w {
		c.r, c.w = 0, 0
	} else if c.w == len(c.buf) {
		if c.r > 0 {
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.r = 0
		} else {
			if len(c.buf) >= maxHeaderBytes {
				return fmt.Errorf("response line or headers longer than %d bytes", maxHeaderBytes)
			}
			nb := make([]byte, 2*len(c.buf))
			c.w = copy(nb, c.buf[c.r:c.w])
			c.r = 0
			c.buf = nb
		}
	}
	return nil
}

// line returns the next line without its line ending. The slice is valid
// until the next fill.
func (c *rawConn) line() ([]byte, error) {
	for {
		if i := bytes.IndexByte(c.buf[c.r:c.w], '\n'); i >= 0 {
			l := c.buf[c.r : c.r+i]
			c.r += i + 1
			if len(l) > 0 && l[len(l)-1] == '\r' {
				l = l[:len(l)-1]
			}
			return l, nil
		}
		if err := c.fill(); err != nil {
			return nil, err
		}
	}
}

// headEnd returns once the whole response head is in the buffer, so that
// its lines can be parsed without being invalidated by a buffer move.
func (c *rawConn) headEnd() error {
	for {
		b := c.buf[c.r:c.w]
		if bytes.Contains(b, []byte("\n\r\n")) || bytes.Contains(b, []byte("\n\n")) {
			return nil
		}
		if err := c.fill(); err != nil {
			return err
		}
	}
}

func (c *rawConn) readResponse(req *Request, capture Capture, res *Result) error {
	c.header = nil
	c.body = c.body[:0]
	for {
		if err := c.headEnd(); err != nil {
			return err
		}
		h, err := c.parseHead(capture.Header)
		if err != nil {
			return err
		}
		res.Status = h.status
		// 1xx responses other than 101 precede the real one.
		if h.status >= 100 && h.status < 200 && h.status != http.StatusSwitchingProtocols {
			continue
		}
		if capture.Header {
			res.Header = c.header
		}
		keepAlive := h.keepAlive
		switch {
		case req.NoBody || h.status == http.StatusNoContent || h.status == http.StatusNotModified:
		case h.chunked:
			err = c.readChunked(capture.Body)
		case h.contentLength >= 0:
			err = c.readBody(h.contentLength, capture.Body)
		default:
			err = c.readToEOF(capture.Body)
			keepAlive = false
		}
		if err != nil {
			return err
		}
		if capture.Body {
			res.Body = c.body
		}
		if !keepAlive {
			// The server will close; drop the connection now so the next
			// request dials a fresh one instead of failing on this one.
			c.close()
		}
		return nil
	}
}

type head struct {
	status        int
	contentLength int64
	chunked       bool
	keepAlive     bool
}

func (c *rawConn) parseHead(captureHeader bool) (head, error) {
	h := head{contentLength: -1}
	l, err := c.line()
	if err != nil {
		return h, err
	}
	// HTTP/1.x SSS reason
	if len(l) < 12 || !bytes.HasPrefix(l, []byte("HTTP/1.")) || l[8] != ' ' {
		return h, fmt.Errorf("malformed status line %q", truncate(l))
	}
	minor := l[7]
	for i := 9; i < 12; i++ {
		d := l[i]
		if d < '0' || d > '9' {
			return h, fmt.Errorf("malformed status line %q", truncate(l))
		}
		h.status = h.status*10 + int(d-'0')
	}
	if h.status < 100 || (len(l) > 12 && l[12] != ' ') {
		return h, fmt.Errorf("malformed status line %q", truncate(l))
	}
	h.keepAlive = minor == '1'
	if captureHeader {
		c.header = make(http.Header)
	}
	for {
		l, err := c.line()
		if err != nil {
			return h, err
		}
		if len(l) == 0 {
			return h, nil
		}
		colon := bytes.IndexByte(l, ':')
		if colon <= 0 {
			return h, fmt.Errorf("malformed header line %q", truncate(l))
		}
		name := l[:colon]
		value := bytes.TrimSpace(l[colon+1:])
		switch {
		case equalFold(name, "content-length"):
			n, ok := parseDecimal(value)
			if !ok {
				return h, fmt.Errorf("malformed Content-Length %q", truncate(value))
			}
			h.contentLength = n
		case equalFold(name, "transfer-encoding"):
			if containsFold(value, "chunked") {
				h.chunked = true
			}
		case equalFold(name, "connection"):
			if containsFold(value, "close") {
				h.keepAlive = false
			} else if containsFold(value, "keep-alive") {
				h.keepAlive = true
			}
		}
		if captureHeader {
			key := textproto.CanonicalMIMEHeaderKey(string(name))
			c.header[key] = append(c.header[key], string(value))
		}
	}
}

func (c *rawConn) readBody(n int64, capture bool) error {
	for n > 0 {
		if c.r == c.w {
			if err := c.fill(); err != nil {
				if errors.Is(err, io.EOF) {
					return fmt.Errorf("connection closed with %d body bytes missing: %w", n, io.ErrUnexpectedEOF)
				}
				return err
			}
		}
		take := min(int64(c.w-c.r), n)
		if capture {
			c.keep(c.buf[c.r : c.r+int(take)])
		}
		c.r += int(take)
		n -= take
	}
	return nil
}

func (c *rawConn) readToEOF(capture bool) error {
	for {
		if c.r < c.w {
			if capture {
				c.keep(c.buf[c.r:c.w])
			}
			c.r = c.w
		}
		if err := c.fill(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func (c *rawConn) readChunked(capture bool) error {
	for {
		l, err := c.line()
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(l, ';'); i >= 0 {
			l = l[:i]
		}
		size, ok := parseHex(bytes.TrimSpace(l))
		if !ok {
			return fmt.Errorf("malformed chunk size %q", truncate(l))
		}
		if size == 0 {
			// Trailers end with an empty line.
			for {
				t, err := c.line()
				if err != nil {
					return err
				}
				if len(t) == 0 {
					return nil
				}
			}
		}
		if err := c.readBody(size, capture); err != nil {
			return err
		}
		if l, err := c.line(); err != nil {
			return err
		} else if len(l) != 0 {
			return fmt.Errorf("chunk not followed by CRLF")
		}
	}
}

func (c *rawConn) keep(b []byte) {
	limit := c.session.client.opts.MaxCapture
	if room := limit - len(c.body); room > 0 {
		c.body = append(c.body, b[:min(room, len(b))]...)
	}
}

func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		ch := b[i]
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch != lower[i] {
			return false
		}
	}
	return true
}

func containsFold(b []byte, lower string) bool {
	for i := 0; i+len(lower) <= len(b); i++ {
		if equalFold(b[i:i+len(lower)], lower) {
			return true
		}
	}
	return false
}

func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, d := range b {
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int64(d-'0')
	}
	return n, true
}

func parseHex(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, d := range b {
		switch {
		case '0' <= d && d <= '9':
			d -= '0'
		case 'a' <= d && d <= 'f':
			d -= 'a' - 10
		case 'A' <= d && d <= 'F':
			d -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | int64(d)
	}
	return n, true
}

func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}
