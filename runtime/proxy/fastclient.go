package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// The upstream client for plain (non-upgrade) requests: fasthttp's HTTP/1.1
// codec (request writing with a streamed body, response parsing with a
// streamed body and trailers) over connections this package pools per
// endpoint. One goroutine per exchange, the caller's: no read and write
// loops per connection and no handoffs between them, which is what
// http.Transport costs (BENCHMARKS.md). The connection pool is ours rather
// than fasthttp.HostClient's so that the request's context can cut the
// connection it uses (deadline, client gone) and so that Close leaves no
// goroutine behind (HostClient's idle cleaner sleeps for the idle timeout).
// Upgrades stay on http.Transport (upgrade.go).

// Buffer sizes of an upstream connection. A response head larger than the
// read buffer grows it once, up to maxResponseHeader (see readResponse).
const (
	upReadBuffer  = 8 << 10
	upWriteBuffer = 4 << 10
)

// upConn is one upstream connection with its buffers.
type upConn struct {
	net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt int64 // monotonic, set when pooled
	// grown is set when the read buffer was enlarged for a large head; the
	// connection is then not pooled, so the large buffer is not kept.
	grown bool
}

// connPool keeps the idle connections of one endpoint: last in, first out,
// at most maxIdleConnsPerHost, each closed after idleConnTimeout unused. A
// timer (no goroutine while it waits) sweeps expired ones.
type connPool struct {
	addr string      // host:port to dial
	tls  *tls.Config // nil for http endpoints

	mu       sync.Mutex
	idle     []*upConn
	sweeping bool
	sweep    *time.Timer
	closed   bool
}

// syncBodyMax is the largest request body of known length written before
// the response is read instead of beside it.
const syncBodyMax = 8 << 10

func newConnPool(scheme, host string, tlsBase *tls.Config) *connPool {
	cp := &connPool{addr: fasthttp.AddMissingPort(host, scheme == "https")}
	if scheme == "https" {
		// The upstream's tls block (loadUpstreamTLS; the system roots
		// without one), the endpoint's host as server name unless the
		// block names one, no ALPN (HTTP/1.1).
		name := host
		if h, _, err := net.SplitHostPort(host); err == nil {
			name = h
		}
		if tlsBase == nil {
			tlsBase = &tls.Config{}
		}
		cp.tls = endpointTLS(tlsBase, name)
	}
	return cp
}

// get returns an idle connection (reused true) or dials a new one.
func (cp *connPool) get(ctx context.Context) (c *upConn, reused bool, err error) {
	now := monotonic()
	var stale []*upConn
	cp.mu.Lock()
	for n := len(cp.idle); n > 0; n-- {
		c = cp.idle[n-1]
		cp.idle[n-1] = nil
		cp.idle = cp.idle[:n-1]
		if now-c.idleAt <= int64(idleConnTimeout) {
			break
		}
		stale = append(stale, c)
		c = nil
	}
	cp.mu.Unlock()
	for _, s := range stale {
		s.Close()
	}
	if c != nil {
		return c, true, nil
	}
	c, err = cp.dial(ctx)
	return c, false, err
}

// dial connects to the endpoint. A failure to connect is a connectError (the
// request never left); a failed TLS handshake is not, as with
// http.Transport.
func (cp *connPool) dial(ctx context.Context) (*upConn, error) {
	d := net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", cp.addr)
	if err != nil {
		return nil, &connectError{err}
	}
	if cp.tls != nil {
		tc := tls.Client(nc, cp.tls)
		hctx, cancel := context.WithTimeout(ctx, tlsHandshakeTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		nc = tc
	}
	return &upConn{
		Conn: nc,
		br:   bufio.NewReaderSize(nc, upReadBuffer),
		bw:   bufio.NewWriterSize(nc, upWriteBuffer),
	}, nil
}

// put gives back a connection whose exchange ended cleanly.
func (cp *connPool) put(c *upConn) {
	if c.grown {
		c.Close()
		return
	}
	c.idleAt = monotonic()
	cp.mu.Lock()
	if cp.closed || len(cp.idle) >= maxIdleConnsPerHost {
		cp.mu.Unlock()
		c.Close()
		return
	}
	cp.idle = append(cp.idle, c)
	if !cp.sweeping {
		cp.sweeping = true
		if cp.sweep == nil {
			cp.sweep = time.AfterFunc(idleConnTimeout, cp.sweepIdle)
		} else {
			cp.sweep.Reset(idleConnTimeout)
		}
	}
	cp.mu.Unlock()
}

// sweepIdle closes connections idle for longer than idleConnTimeout and
// sets the timer for the next one to expire.
func (cp *connPool) sweepIdle() {
	now := monotonic()
	var expired []*upConn
	cp.mu.Lock()
	i := 0
	for i < len(cp.idle) && now-cp.idle[i].idleAt > int64(idleConnTimeout) {
		i++
	}
	expired = append(expired, cp.idle[:i]...)
	n := copy(cp.idle, cp.idle[i:])
	clear(cp.idle[n:])
	cp.idle = cp.idle[:n]
	if n > 0 && !cp.closed {
		next := time.Duration(cp.idle[0].idleAt+int64(idleConnTimeout)-now) + time.Millisecond
		cp.sweep.Reset(next)
	} else {
		cp.sweeping = false
	}
	cp.mu.Unlock()
	for _, c := range expired {
		c.Close()
	}
}

// close closes the idle connections; connections in use are closed when
// their exchange ends.
func (cp *connPool) close() {
	cp.mu.Lock()
	cp.closed = true
	idle := cp.idle
	cp.idle = nil
	if cp.sweep != nil {
		cp.sweep.Stop()
	}
	cp.sweeping = false
	cp.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// fastResponse is an upstream response read by the fasthttp codec. Its
// body streams from the connection; Close returns the connection to the
// pool when the body was read to its end, and releases the fasthttp
// objects. Nothing of them is kept after Close.
type fastResponse struct {
	cp   *connPool
	c    *upConn
	stop func() bool // unregisters the context's cut of c
	resp *fasthttp.Response

	status   int
	length   int64
	header   http.Header
	declared []string // trailer names the Trailer header announced

	wdone   chan error // the request body's writer reports here; nil without one
	stream  io.Reader  // nil when the response has no body
	done    bool       // the body was read to its end
	read    int64      // body bytes read so far
	failed  bool
	noReuse bool
	closed  bool
	trailer http.Header
}

func (f *fastResponse) Read(p []byte) (int, error) {
	if f.closed {
		return 0, errors.New("read of a closed upstream response body")
	}
	if f.done {
		return 0, io.EOF
	}
	if f.stream == nil {
		f.finish()
		return 0, io.EOF
	}
	n, err := f.stream.Read(p)
	f.read += int64(n)
	switch {
	case err == io.EOF:
		f.finish()
	case err != nil:
		f.failed = true
	case f.length >= 0 && f.read >= f.length:
		// A reader that copies exactly the announced length (fasthttp
		// does) never asks for the EOF: the body is whole here.
		f.finish()
	}
	return n, err
}

// finish records the end of the body and the trailers that came with it,
// and gives the connection back at once: the next request must find it
// idle, not wait for the engine to get round to closing the body (a
// client's next request can arrive before that).
func (f *fastResponse) finish() {
	f.done = true
	for _, k := range f.resp.Header.PeekTrailerKeys() {
		key := http.CanonicalHeaderKey(string(k))
		if f.trailer == nil {
			f.trailer = make(http.Header, len(f.declared))
		}
		if _, ok := f.trailer[key]; ok {
			continue
		}
		for _, v := range f.resp.Header.PeekAllTrailer(key) {
			f.trailer[key] = append(f.trailer[key], string(v))
		}
	}
	f.release()
}

// trailers returns the trailers once the body has ended: the declared
// names, with the values that arrived.
func (f *fastResponse) trailers() http.Header {
	t := make(http.Header, len(f.declared)+len(f.trailer))
	for _, k := range f.declared {
		t[k] = nil
	}
	for k, vv := range f.trailer {
		t[k] = vv
	}
	return t
}

func (f *fastResponse) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	f.release()
	return nil
}

// release returns the connection to the pool when the exchange on it is
// complete and clean, and closes it otherwise; later calls do nothing.
func (f *fastResponse) release() {
	if f.c == nil {
		return
	}
	// stop reports false once the context's cut has started: the
	// connection is closed or about to be, and not pooled.
	whole := f.done || f.stream == nil // a response without a body is whole unread
	reuse := f.stop() && whole && !f.failed && !f.noReuse && !f.resp.ConnectionClose()
	if f.wdone != nil {
		// A request body still being written (the upstream answered
		// early) leaves the connection unusable: closing it ends the write.
		select {
		case err := <-f.wdone:
			reuse = reuse && err == nil
		default:
			reuse = false
		}
	}
	fasthttp.ReleaseResponse(f.resp)
	f.resp, f.stream = nil, nil
	if reuse {
		f.cp.put(f.c)
	} else {
		f.c.Close()
	}
	f.c = nil
}

// writeBody sends the request body: size bytes, or chunked when size is -1,
// flushing after every read so a streamed body reaches the upstream as it
// arrives. It reports the outcome on done. When the body itself failed, the
// upstream would wait for the rest: the connection is closed, so the
// exchange waiting for the response ends too. A failed write is left to the
// reader, which may still find the upstream's answer (a 413 sent before it
// read the body) before the connection's end.
func writeBody(c *upConn, body io.ReadCloser, size int64, done chan<- error) {
	bp := copyBufs.Get().(*[]byte)
	err := copyBody(c.bw, body, size, *bp)
	copyBufs.Put(bp)
	body.Close()
	done <- err
	var be *bodyError
	if errors.As(err, &be) {
		c.Close()
	}
}

// bodyError is a failure of the request body, not of the upstream: a read
// error, or a length that differs from the declared one.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "request body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// errBodyLength is a request body that did not match its Content-Length.
var errBodyLength = &bodyError{errors.New("length differs from its Content-Length")}

func copyBody(bw *bufio.Writer, body io.Reader, size int64, buf []byte) error {
	chunked := size < 0
	left := size
	for {
		if !chunked && left < int64(len(buf)) {
			buf = buf[:left+1] // one more byte shows a body longer than declared
		}
		n, rerr := body.Read(buf)
		if n > 0 {
			if !chunked {
				if int64(n) > left {
					return errBodyLength
				}
				left -= int64(n)
			} else if _, err := fmt.Fprintf(bw, "%x\r\n", n); err != nil {
				return err
			}
			if _, err := bw.Write(buf[:n]); err != nil {
				return err
			}
			if chunked {
				if _, err := bw.WriteString("\r\n"); err != nil {
					return err
				}
			}
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return &bodyError{rerr}
		}
	}
	if chunked {
		if _, err := bw.WriteString("0\r\n\r\n"); err != nil {
			return err
		}
		return bw.Flush()
	}
	if left != 0 {
		return errBodyLength
	}
	return nil
}

// fastRoundTrip sends one attempt to e and reads the response head. The
// request's context cuts the connection when it ends (deadline or client
// gone), whether the exchange is waiting for the head or streaming the
// body. A request without a body that fails on a reused connection before
// any response (the upstream closed it while idle) is sent once more on a
// new connection, as http.Transport does.
func (p *Pool) fastRoundTrip(ctx context.Context, r *http.Request, e *endpoint, hdr http.Header, body io.ReadCloser) (*fastResponse, error) {
	for try := 0; ; try++ {
		f, reused, err := p.fastExchange(ctx, r, e, hdr, body, try > 0)
		if err == nil || !reused || body != nil || !idempotent(r.Method) || ctx.Err() != nil || !staleConn(err) {
			return f, err
		}
	}
}

// staleConn reports the errors of a pooled connection the upstream closed.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, fasthttp.ErrConnectionClosed)
}

func (p *Pool) fastExchange(ctx context.Context, r *http.Request, e *endpoint, hdr http.Header, body io.ReadCloser, fresh bool) (_ *fastResponse, reused bool, err error) {
	var c *upConn
	if fresh {
		c, err = e.conns.dial(ctx)
	} else {
		c, reused, err = e.conns.get(ctx)
	}
	if err != nil {
		return nil, false, err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	fail := func(err error) (*fastResponse, bool, error) {
		stop()
		c.Close()
		return nil, reused, err
	}

	// The head goes out now. A body is written by its own goroutine while
	// this one waits for the response: an upstream may answer before it
	// read the whole body, and keep reading while it answers (full duplex).
	req := fasthttp.AcquireRequest()
	fillRequest(req, r, e, hdr)
	var wdone chan error
	var size int64
	if body != nil {
		size = r.ContentLength
		if size < 0 || size > int64(^uint(0)>>1) {
			size = -1
		}
		req.Header.SetContentLength(int(size)) // -1 is chunked
		err = req.Header.Write(c.bw)
	} else {
		err = req.Write(c.bw)
	}
	if err == nil {
		err = c.bw.Flush()
	}
	fasthttp.ReleaseRequest(req)
	if err != nil {
		if body != nil {
			body.Close()
		}
		return fail(err)
	}
	switch {
	case body != nil && size >= 0 && size <= syncBodyMax:
		// A small body of known length fits the socket's buffers: written
		// here, it needs no goroutine, and the connection is whole (and
		// reusable) as soon as the response is.
		done := make(chan error, 1)
		writeBody(c, body, size, done)
		if err := <-done; err != nil {
			return fail(err)
		}
	case body != nil:
		wdone = make(chan error, 1)
		go writeBody(c, body, size, wdone)
	}
	var werr error // the body's failure, once known

	resp := fasthttp.AcquireResponse()
	resp.StreamBody = true
	resp.Header.SetNoDefaultContentType(true)
	resp.SkipBody = r.Method == http.MethodHead
	if err := readResponse(c, resp); err != nil {
		fasthttp.ReleaseResponse(resp)
		// A body that failed closed the connection after reporting why.
		select {
		case werr = <-wdone:
		default:
		}
		if werr != nil {
			err = werr
		}
		return fail(err)
	}
	f := &fastResponse{
		cp:      e.conns,
		c:       c,
		stop:    stop,
		resp:    resp,
		status:  resp.StatusCode(),
		length:  int64(resp.Header.ContentLength()),
		stream:  resp.BodyStream(),
		wdone:   wdone,
		noReuse: resp.StatusCode() == http.StatusSwitchingProtocols,
	}
	switch {
	case resp.SkipBody:
		// A HEAD's length is the one declared, as http.Response has it.
	case f.stream == nil:
		f.length = 0 // 1xx, 204, 304: no body whatever the header says
	}
	if f.length < 0 {
		f.length = -1
	}
	f.header = responseHeader(resp, &f.declared)
	return f, reused, nil
}

// readResponse reads the response head (skipping 1xx interim responses)
// and sets up the streamed body. A head that does not fit the connection's
// read buffer gets one larger buffer of maxResponseHeader; beyond that the
// response is refused, as http.Transport refuses it.
func readResponse(c *upConn, resp *fasthttp.Response) error {
	err := resp.ReadLimitBody(c.br, 0)
	if err == nil || !smallBuffer(err) || c.grown {
		if err != nil && smallBuffer(err) {
			return fmt.Errorf("response head larger than %d bytes", maxResponseHeader)
		}
		return err
	}
	c.grown = true
	c.br = bufio.NewReaderSize(c.br, maxResponseHeader+4<<10)
	err = resp.ReadLimitBody(c.br, 0)
	if err != nil && smallBuffer(err) {
		return fmt.Errorf("response head larger than %d bytes", maxResponseHeader)
	}
	return err
}

func smallBuffer(err error) bool {
	var sb *fasthttp.ErrSmallBuffer
	return errors.As(err, &sb) || errors.Is(err, fasthttp.ErrSmallReadBuffer)
}

// fillRequest writes the outbound request: r's method and target, e's host,
// the prepared header. Header names go out as they are in hdr, like
// http.Transport sends them; fasthttp adds no User-Agent or Content-Type.
func fillRequest(req *fasthttp.Request, r *http.Request, e *endpoint, hdr http.Header) {
	h := &req.Header
	h.DisableNormalizing()
	h.SetNoDefaultContentType(true)
	h.SetMethod(r.Method)
	u := url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	h.SetRequestURI(u.RequestURI())
	h.SetHost(e.host)
	for k, vv := range hdr {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			continue // framing and routing are the client's to write
		}
		for _, v := range vv {
			h.Add(k, v)
		}
	}
}

// responseHeader converts the response head to the header map the writers
// take. Keys are canonical (fasthttp normalizes response names as net/http
// does); the Trailer header's names are returned in declared.
func responseHeader(resp *fasthttp.Response, declared *[]string) http.Header {
	h := make(http.Header, 12)
	for k, v := range resp.Header.All() {
		key, ok := commonResponseKeys[string(k)]
		if !ok {
			key = string(k)
		}
		h[key] = append(h[key], string(v))
	}
	for t := range resp.Header.Trailers() {
		*declared = append(*declared, http.CanonicalHeaderKey(string(t)))
	}
	return h
}

var commonResponseKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept-Ranges", "Age", "Cache-Control", "Connection", "Content-Encoding", "Content-Language",
		"Content-Length", "Content-Type", "Date", "Etag", "Expires", "Keep-Alive", "Last-Modified",
		"Location", "Server", "Set-Cookie", "Trailer", "Transfer-Encoding", "Vary", "Via",
		"X-Request-Id", "X-Content-Type-Options", "X-Frame-Options", "Strict-Transport-Security",
	} {
		m[k] = k
	}
	return m
}()
