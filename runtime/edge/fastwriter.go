package edge

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// fastWriter is the http.ResponseWriter the pipeline writes to when the
// fasthttp engine serves the request. fasthttp writes a response after the
// handler returns, so the writer keeps the status and header map the stages
// expect (the same map type net/http gives them) and copies them into the
// RequestCtx once: at the first body write, or when the handler ends.
//
// A body written with Write is buffered in the RequestCtx. A body that must
// stream (a 1 GiB download, server-sent events) is handed over as a reader
// with StreamBody, and fasthttp copies it to the client after the handler
// returns, flushing each chunk; the proxy does that for every upstream
// response it streams. An upgrade hands the connection over the same way,
// with SwitchProtocols.
type fastWriter struct {
	ctx       *fasthttp.RequestCtx
	header    http.Header
	status    int
	committed bool
	// switched is set once the connection was handed to an upgrade: the
	// 101 is the whole response.
	switched bool
	// direct is set once a Flush sent the response straight to the
	// connection (see Flush); body writes then go there as chunks.
	direct  *bufio.Writer
	chunked bool
	failed  error
}

func (w *fastWriter) reset(ctx *fasthttp.RequestCtx) {
	clear(w.header)
	w.ctx, w.status, w.committed, w.switched = ctx, 0, false, false
	w.direct, w.chunked, w.failed = nil, false, nil
}

func (w *fastWriter) Header() http.Header { return w.header }

// WriteHeader records the status; informational ones (100, 103) are not
// sent: fasthttp answers Expect: 100-continue itself.
func (w *fastWriter) WriteHeader(code int) {
	if w.committed || (code >= 100 && code < 200 && code != http.StatusSwitchingProtocols) {
		return
	}
	w.status = code
	w.commit()
}

func (w *fastWriter) Write(p []byte) (int, error) {
	if !w.committed {
		w.WriteHeader(http.StatusOK)
	}
	if w.switched || !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.direct != nil {
		return w.writeDirect(p)
	}
	w.ctx.Response.AppendBody(p)
	return len(p), nil
}

// WriteString saves a copy for the handlers that write strings (errors).
func (w *fastWriter) WriteString(s string) (int, error) {
	if !w.committed {
		w.WriteHeader(http.StatusOK)
	}
	if w.switched || !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.direct != nil {
		return w.writeDirect([]byte(s))
	}
	w.ctx.Response.AppendBodyString(s)
	return len(s), nil
}

// Flush sends what was written so far to the client now. fasthttp only
// writes a response after the handler returns, so a handler that streams
// through a stage transforming the body (compression of server-sent
// events) takes the response out of fasthttp's hands: the head and every
// later write go straight to the connection, chunked, and the connection
// closes after it (fasthttp cannot resume reading requests behind a
// response it did not write). Bodies the proxy streams as they are never
// come here: they are handed over with StreamBody and keep the connection.
func (w *fastWriter) Flush() {
	if !w.committed {
		w.WriteHeader(http.StatusOK)
	}
	if w.switched || w.ctx.Response.IsBodyStream() || w.failed != nil {
		return
	}
	if w.direct == nil {
		w.startDirect()
	}
	if w.failed == nil {
		w.failed = w.direct.Flush()
	}
}

func (w *fastWriter) startDirect() {
	resp := &w.ctx.Response
	body := append([]byte(nil), resp.Body()...)
	resp.ResetBody()
	resp.Header.SetConnectionClose()
	w.chunked = w.ctx.Request.Header.IsHTTP11() && bodyAllowed(w.status) && !w.ctx.IsHead()
	if w.chunked {
		resp.Header.SetContentLength(-1)
	} else {
		resp.Header.SetContentLength(-2) // the end of the connection ends the body
	}
	for _, k := range declaredTrailers(w.header) {
		_ = resp.Header.AddTrailer(k)
	}
	w.direct = bufio.NewWriterSize(w.ctx.Conn(), 4<<10)
	_, w.failed = w.direct.Write(resp.Header.Header())
	if len(body) > 0 && w.failed == nil {
		_, w.failed = w.writeDirect(body)
	}
	// fasthttp sends nothing for this request and closes the connection.
	w.ctx.HijackSetNoResponse(true)
	w.ctx.Hijack(func(net.Conn) {})
}

func (w *fastWriter) writeDirect(p []byte) (int, error) {
	if w.failed != nil {
		return 0, w.failed
	}
	if w.ctx.IsHead() || len(p) == 0 {
		return len(p), nil
	}
	if w.chunked {
		if _, err := fmt.Fprintf(w.direct, "%x\r\n", len(p)); err != nil {
			w.failed = err
			return 0, err
		}
	}
	if _, err := w.direct.Write(p); err != nil {
		w.failed = err
		return 0, err
	}
	if w.chunked {
		_, w.failed = w.direct.WriteString("\r\n")
	}
	return len(p), w.failed
}

// endDirect ends a response Flush sent straight to the connection.
func (w *fastWriter) endDirect() {
	if w.failed != nil {
		return
	}
	if w.chunked {
		_, _ = w.direct.WriteString("0\r\n")
		resp := &w.ctx.Response
		// Trailers not announced with the headers (an HTTP/2 upstream's,
		// whose response has no Trailer field) are known only now; the
		// chunked framing carries them all the same.
		for _, k := range declaredTrailers(w.header) {
			_ = resp.Header.AddTrailer(k)
		}
		setTrailers(resp, w.header)
		_, _ = w.direct.Write(resp.Header.TrailerHeader())
	}
	_ = w.direct.Flush()
}

// SetReadDeadline bounds reads of the request body (a filter reading it
// under its own deadline); fasthttp sets its own deadlines again before
// the next request.
func (w *fastWriter) SetReadDeadline(t time.Time) error {
	return w.ctx.Conn().SetReadDeadline(t)
}

// StreamBody hands the response body over as a reader: fasthttp copies it
// to the client after the handler returns (chunked when size < 0, flushing
// each chunk) and closes it. trailers, when set, is called once the body
// ended and returns the trailers to send after it.
func (w *fastWriter) StreamBody(body io.ReadCloser, size int64, trailers func() http.Header) bool {
	if !w.committed {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) || w.ctx.IsHead() {
		body.Close()
		return true
	}
	if trailers != nil {
		for _, k := range declaredTrailers(w.header) {
			_ = w.ctx.Response.Header.AddTrailer(k)
		}
		size = -1 // trailers need chunked framing
	}
	if size < 0 || eventStream(w.header) {
		// A stream's head goes out at once, as the net/http engine's
		// flush after it does: its body may not follow for a while (an
		// event stream waiting for its first event, a long poll).
		w.ctx.Response.ImmediateHeaderFlush = true
	}
	w.ctx.Response.SetBodyStream(&trailingBody{ReadCloser: body, resp: &w.ctx.Response, trailers: trailers}, int(size))
	return true
}

// Hijack exists so http.ResponseController callers get a clear error:
// the fasthttp engine hands a connection over after the handler returns.
var errUseSwitchProtocols = errors.New("fasthttp engine: a connection is handed over with SwitchProtocols, not Hijack")

func (w *fastWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, errUseSwitchProtocols
}

// SwitchProtocols sends a 101 with the header map as it is now and hands
// the client connection to session once the handler has returned. The 101
// is written from the hijacked connection, not by fasthttp, so session
// runs (and releases the upstream side) even when the client is already
// gone. Bytes the client sent after its request are read first from the
// connection session receives; fasthttp closes it when session returns.
func (w *fastWriter) SwitchProtocols(session func(client net.Conn)) bool {
	w.status, w.switched = http.StatusSwitchingProtocols, true
	w.commit()
	head := append([]byte(nil), w.ctx.Response.Header.Header()...)
	w.ctx.HijackSetNoResponse(true)
	w.ctx.Hijack(func(c net.Conn) {
		_, _ = c.Write(head) // a failed write ends the session at its first read
		session(c)
	})
	return true
}

// commit copies the status and headers into the RequestCtx.
func (w *fastWriter) commit() {
	if w.committed {
		return
	}
	w.committed = true
	if w.status == 0 {
		w.status = http.StatusOK
	}
	resp := &w.ctx.Response
	resp.SetStatusCode(w.status)
	for k, vv := range w.header {
		if strings.HasPrefix(k, http.TrailerPrefix) || k == "Trailer" {
			continue // sent after the body (finish)
		}
		for _, v := range vv {
			resp.Header.Add(k, v)
		}
	}
}

// finish completes the response when the handler returns: the status and
// headers if nothing was written, and trailers of a buffered body.
func (w *fastWriter) finish() {
	if !w.committed {
		w.WriteHeader(http.StatusOK)
	}
	if w.direct != nil {
		w.endDirect()
		return
	}
	if w.switched || w.ctx.Response.IsBodyStream() {
		return
	}
	names := declaredTrailers(w.header)
	if len(names) == 0 {
		return
	}
	resp := &w.ctx.Response
	for _, k := range names {
		_ = resp.Header.AddTrailer(k)
	}
	setTrailers(resp, w.header)
}

// declaredTrailers lists the trailer names a handler announced, by either
// of net/http's two forms: the Trailer header or the TrailerPrefix keys.
func declaredTrailers(h http.Header) []string {
	var names []string
	for _, v := range h["Trailer"] {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				names = append(names, http.CanonicalHeaderKey(k))
			}
		}
	}
	for k := range h {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			names = append(names, http.CanonicalHeaderKey(name))
		}
	}
	return names
}

// setTrailers gives the response the trailer values written in h, in
// either form: announced keys set after the body, or TrailerPrefix keys.
func setTrailers(resp *fasthttp.Response, h http.Header) {
	for _, k := range declaredTrailers(h) {
		vv, ok := h[http.TrailerPrefix+k]
		if !ok {
			vv = h[k]
		}
		for i, v := range vv {
			if i == 0 {
				resp.Header.Set(k, v)
			} else {
				resp.Header.Add(k, v)
			}
		}
	}
}

// trailingBody sets the trailers when the streamed body ends, before
// fasthttp writes the trailer section.
type trailingBody struct {
	io.ReadCloser
	resp     *fasthttp.Response
	trailers func() http.Header
	done     bool
}

func (b *trailingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done && b.trailers != nil {
		b.done = true
		t := b.trailers()
		for k, vv := range t {
			for _, v := range vv {
				b.resp.Header.Add(k, v)
			}
		}
	}
	return n, err
}

// streamBufs are the buffers trailingBody copies with.
var streamBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// SupportsBodyWriteTo makes fasthttp copy the body with WriteTo.
func (b *trailingBody) SupportsBodyWriteTo() bool { return true }

// WriteTo copies the body to the client 32 KiB at a time, as the net/http
// engine's copy does; fasthttp's own copy reads 4 KiB at a time, and
// sends (and flushes, when chunked) each as it is, which halves the
// throughput of a large download. Every read is still written at once:
// a chunked body (server-sent events) reaches the client as it arrives.
func (b *trailingBody) WriteTo(w io.Writer) (int64, error) {
	bp := streamBufs.Get().(*[]byte)
	defer streamBufs.Put(bp)
	var total int64
	for {
		n, err := b.Read(*bp)
		if n > 0 {
			m, werr := w.Write((*bp)[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// eventStream reports a text/event-stream response.
func eventStream(h http.Header) bool {
	const es = "text/event-stream"
	ct := h["Content-Type"]
	return len(ct) > 0 && len(ct[0]) >= len(es) && strings.EqualFold(ct[0][:len(es)], es)
}

// bodyAllowed reports whether a status may carry a body (RFC 9110 §6.4.1).
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}
