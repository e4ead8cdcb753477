package edge

import (
	"bufio"
	"io"
	"net"
	"net/http"

	"github.com/sluicegw/sluice/runtime/proxy"
)

// recorder remembers the status and size of a response for logs and
// metrics. It exposes the wrapped writer through Unwrap, so
// http.NewResponseController still finds Flush and Hijack.
type recorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
	err         error
	// handed is set when the engine took the body to copy after the
	// handler (StreamBody); stream counts it.
	handed bool
	stream *streamedBody
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader && code >= 200 || code == http.StatusSwitchingProtocols {
		r.status = code
		r.wroteHeader = true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wroteHeader = true
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush is here directly because the proxy flushes streamed responses often
// and a type assertion is cheaper than a ResponseController walk.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		r.wroteHeader = true
		f.Flush()
	}
}

// Hijack hands the connection to the proxy for an upgrade; the proxy only
// hijacks after the upstream answered 101, which is then what gets logged.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil {
		r.status, r.wroteHeader = http.StatusSwitchingProtocols, true
	}
	return c, rw, err
}

// StreamBody passes a body handed over as a reader to an engine that
// streams it after the handler (fasthttp). The body is counted as it is
// copied, and the exchange is logged when it ends (streamedBody).
func (r *recorder) StreamBody(body io.ReadCloser, size int64, trailers func() http.Header) bool {
	bs, ok := r.ResponseWriter.(proxy.BodyStreamer)
	if !ok || r.stream == nil {
		return false
	}
	sb := r.stream
	sb.ReadCloser, sb.n, sb.err, sb.closed, sb.waiting = body, 0, nil, false, false
	if !bs.StreamBody(sb, size, trailers) {
		sb.ReadCloser = nil
		return false
	}
	r.wroteHeader, r.handed = true, true
	return true
}

// SwitchProtocols passes an upgrade to an engine that hands the connection
// over after the handler (fasthttp); the 101 is what gets logged.
func (r *recorder) SwitchProtocols(session func(net.Conn)) bool {
	sw, ok := r.ResponseWriter.(proxy.ProtocolSwitcher)
	if !ok || !sw.SwitchProtocols(session) {
		return false
	}
	r.status, r.wroteHeader = http.StatusSwitchingProtocols, true
	return true
}
