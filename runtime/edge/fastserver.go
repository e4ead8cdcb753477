package edge

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sluicegw/sluice/runtime/httperr"
	"github.com/sluicegw/sluice/runtime/httpguard"
)

// fastReadAhead is how much of a request body fasthttp reads before the
// handler runs; the rest streams from the connection as the pipeline reads
// it. One byte: a body then costs no memory beyond the read buffer, and a
// client that stalls mid-body meets the pipeline's deadlines (a filter's
// 408), not only the engine's read timeout.
const fastReadAhead = 1

// fastServer is the fasthttp engine's server. It serves HTTP/1.x only; the
// dispatcher sends HTTP/2 connections to net/http.
func (n *Node) fastServer() *fasthttp.Server {
	return &fasthttp.Server{
		Handler:      n.serveFast,
		ErrorHandler: n.fastRefuse,
		// The guard answers 431 with a JSON body for heads over the limit;
		// the read buffer holds a head up to the limit with room for the
		// request line, and fastRefuse answers 431 above it.
		ReadBufferSize:                2*n.opts.MaxHeaderBytes + 4<<10,
		ReadTimeout:                   n.opts.ReadHeaderTimeout,
		IdleTimeout:                   n.opts.IdleTimeout,
		StreamRequestBody:             true,
		MaxRequestBodySize:            fastReadAhead,
		DisablePreParseMultipartForm:  true,
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		DisableHeaderNamesNormalizing: false,
		CloseOnShutdown:               true,
		ConnState:                     n.trackFastConn,
		Logger:                        fastLogger{n.log},
	}
}

// serveFast fills a request view from the RequestCtx and runs the same
// pipeline as net/http requests.
func (n *Node) serveFast(ctx *fasthttp.RequestCtx) {
	fc := fastConnOf(ctx)
	x := fastExchanges.Get().(*fastExchange)
	defer fastExchanges.Put(x)
	r, err := x.fill(ctx, fc)
	if err != nil {
		ctx.Response.Header.SetConnectionClose()
		x.w.reset(ctx)
		httperr.Write(&x.w, http.StatusBadRequest, "malformed request target", requestID(""))
		x.w.finish()
		return
	}
	x.w.reset(ctx)
	if fc != nil {
		// The head is read: like net/http's ReadHeaderTimeout, the engine's
		// deadline does not bound the body, which streams as long as the
		// route's stages allow.
		_ = fc.SetReadDeadline(time.Time{})
		// Watch for the client leaving once the body was read (fastwatch.go).
		fc.beginWatch(r.Body == http.NoBody)
	}
	defer func() {
		if fc != nil {
			fc.stopWatch()
		}
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				n.log.Error("panic serving request", "panic", p, "stack", string(debug.Stack()))
			}
			// Whatever was buffered must not reach the client as if whole:
			// the connection is cut without a response.
			ctx.HijackSetNoResponse(true)
			ctx.Hijack(func(net.Conn) {})
			return
		}
		if fc != nil && fc.watch.gone && !x.w.committed {
			// The client left before an answer (a 499): nobody reads one.
			ctx.HijackSetNoResponse(true)
			ctx.Hijack(func(net.Conn) {})
			return
		}
		x.w.finish()
	}()
	n.ServeHTTP(&x.w, r)
}

// fastRefuse answers a request fasthttp could not parse. The guard has
// usually seen why, and its reason is the answer; otherwise a head too
// large for the read buffer is a 431 and anything else a 400.
func (n *Node) fastRefuse(ctx *fasthttp.RequestCtx, err error) {
	v := httpguard.Verdict{Status: http.StatusBadRequest, Reason: "malformed request"}
	var tooBig *fasthttp.ErrSmallBuffer
	if errors.As(err, &tooBig) || errors.Is(err, fasthttp.ErrSmallReadBuffer) {
		v = httpguard.Verdict{Status: http.StatusRequestHeaderFieldsTooLarge, Reason: "request head too large"}
	}
	if fc := fastConnOf(ctx); fc != nil && fc.info.guard != nil {
		if gv := fc.info.guard.Verdict(int(fc.info.requests.Load())); !gv.OK() {
			v = gv
		}
	}
	var w fastWriter
	w.header = make(http.Header, 2)
	w.reset(ctx)
	ctx.Response.Reset()
	w.Header().Set("Connection", "close")
	httperr.Write(&w, v.Status, v.Reason, requestID(""))
	w.finish()
	ctx.Response.Header.SetConnectionClose()
}

// fastConn is an HTTP/1 connection of the fasthttp engine with the state
// the pipeline keeps per connection.
type fastConn struct {
	net.Conn
	info   connInfo
	remote string
	// ctx is the context of every request on the connection; cancel ends
	// it when the client leaves or the connection closes.
	ctx    context.Context
	cancel context.CancelCauseFunc
	watch  clientWatch
}

func newFastConn(c net.Conn) *fastConn {
	fc := &fastConn{Conn: c, remote: c.RemoteAddr().String()}
	fc.info.guard = guardOf(c)
	if fc.info.guard != nil {
		fc.info.guard.EndAtBad()
	}
	fc.ctx, fc.cancel = context.WithCancelCause(context.WithValue(context.Background(), connStateKey, &fc.info))
	return fc
}

// fastListener wraps each connection the engine accepts in a fastConn.
type fastListener struct{ net.Listener }

func (l fastListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newFastConn(c), nil
}

func fastConnOf(ctx *fasthttp.RequestCtx) *fastConn {
	fc, _ := ctx.Conn().(*fastConn)
	return fc
}

// fastExchange is the reused state of one request on the fasthttp engine:
// the request view and the response writer.
type fastExchange struct {
	req    http.Request
	url    url.URL
	header http.Header
	w      fastWriter
}

var fastExchanges = sync.Pool{New: func() any {
	return &fastExchange{header: make(http.Header, 16), w: fastWriter{header: make(http.Header, 8)}}
}}

// fill makes the net/http request view of ctx: the type every stage, the
// policy input and the filter host already read. Keys are canonical
// (fasthttp normalizes them as net/http does); Host and Transfer-Encoding
// are not headers there either.
func (x *fastExchange) fill(ctx *fasthttp.RequestCtx, fc *fastConn) (*http.Request, error) {
	clear(x.header)
	h := &ctx.Request.Header
	for k, v := range h.All() {
		key := headerKey(k)
		if key == "Host" || key == "Transfer-Encoding" {
			continue
		}
		x.header[key] = append(x.header[key], string(v))
	}
	rawURI := string(h.RequestURI())
	x.url = url.URL{}
	if rawURI == "*" {
		x.url.Path = "*"
	} else {
		u, err := url.ParseRequestURI(rawURI)
		if err != nil {
			return nil, err
		}
		x.url = *u
	}
	r := &x.req
	*r = http.Request{
		Method:     string(h.Method()),
		URL:        &x.url,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     x.header,
		Host:       string(h.Host()),
		RequestURI: rawURI,
		Close:      h.ConnectionClose(),
	}
	if !h.IsHTTP11() {
		r.Proto, r.ProtoMinor = "HTTP/1.0", 0
	}
	if x.url.Host != "" {
		r.Host = x.url.Host
	}
	switch cl := h.ContentLength(); {
	case cl == -1:
		r.ContentLength = -1
		r.TransferEncoding = []string{"chunked"}
		r.Body = &fastBody{r: ctx.RequestBodyStream(), fc: fc, left: -1}
	case cl > 0:
		r.ContentLength = int64(cl)
		r.Body = &fastBody{r: ctx.RequestBodyStream(), fc: fc, left: int64(cl)}
	default:
		r.Body = http.NoBody
	}
	ctxc := context.Background()
	if fc != nil {
		r.RemoteAddr = fc.remote
		ctxc = fc.ctx
	} else {
		r.RemoteAddr = ctx.RemoteAddr().String()
	}
	return r.WithContext(ctxc), nil
}

// headerKey returns the common header names without allocating.
func headerKey(k []byte) string {
	if s, ok := commonHeaderKeys[string(k)]; ok {
		return s
	}
	return string(k)
}

var commonHeaderKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
		"Connection", "Content-Length", "Content-Type", "Cookie", "Expect", "Host",
		"If-Modified-Since", "If-None-Match", "Origin", "Pragma", "Referer", "Te",
		"Transfer-Encoding", "Upgrade", "User-Agent", "X-Api-Key", "X-Forwarded-For",
		"X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "X-Request-Id",
		"Traceparent", "Tracestate", "Sec-Websocket-Key", "Sec-Websocket-Version",
		"Sec-Websocket-Protocol", "Sec-Websocket-Extensions",
	} {
		m[k] = k
	}
	return m
}()

func (n *Node) trackFastConn(_ net.Conn, st fasthttp.ConnState) {
	switch st {
	case fasthttp.StateNew:
		n.connOpened()
	case fasthttp.StateClosed, fasthttp.StateHijacked:
		n.connClosed()
	}
}

// fastLogger sends fasthttp's own messages (rare: errors it cannot answer)
// to the node's log at debug level.
type fastLogger struct{ log *slog.Logger }

func (l fastLogger) Printf(format string, args ...any) {
	l.log.Debug("fasthttp", "msg", format, "args", args)
}
