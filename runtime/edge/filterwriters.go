package edge

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/sluicegw/sluice/runtime/proxy"
)

// maxBufferedResponse bounds the upstream body kept in memory for a filter
// that enabled buffer_response; a larger response is answered 502.
const maxBufferedResponse = 16 << 20

var errResponseTooLarge = errors.New("upstream response larger than the filter buffer (16 MiB)")

// errBodySwallowed fails writes of an upstream body that a response filter
// replaced or that a failed filter's error response replaced.
var errBodySwallowed = errors.New("upstream body replaced by a filter")

// bufferWriter captures a whole upstream response for filters that read or
// rewrite the response body.
type bufferWriter struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	overflow bool
}

func newBufferWriter() *bufferWriter { return &bufferWriter{header: http.Header{}} }

func (b *bufferWriter) Header() http.Header { return b.header }

func (b *bufferWriter) WriteHeader(code int) {
	if b.status == 0 && code >= 200 {
		b.status = code
	}
}

func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	if b.body.Len()+len(p) > maxBufferedResponse {
		b.overflow = true
		return 0, errResponseTooLarge
	}
	return b.body.Write(p)
}

// Flush is a no-op: nothing reaches the client before the filters ran.
func (b *bufferWriter) Flush() {}

// headerHookWriter runs the response phase of a filter chain at the moment
// the upstream's status and headers are written, so filters that only touch
// headers never make the edge buffer a body: the body still streams.
type headerHookWriter struct {
	http.ResponseWriter
	run  *filterRun
	x    *Exchange // answers a failed response phase (writeError)
	done bool
	// swallow drops the upstream body: a filter replaced it, or failed.
	swallow bool
	err     error
	// prefix is the body filters wrote in the request phase, still to be
	// sent before the upstream's first byte (filter.TakeRequestPhaseBody).
	prefix []byte
	// heldStatus is the status of a response whose headers a proxy-wasm
	// guest holds (filterbody.go); 0 once they are sent.
	heldStatus int
	// cut is a streaming guest's failure after the headers were sent:
	// the response must be cut (responseCut).
	cut error
}

// responsePhase runs the response filters on the upstream's status and
// headers, with the headers filters set in the request phase under the
// upstream's.
func (h *headerHookWriter) responsePhase(code int) error {
	resp := h.run.x.Resp
	hdr := h.ResponseWriter.Header()
	for k, vs := range resp.Header {
		if _, ok := hdr[k]; !ok {
			hdr[k] = vs
		}
	}
	resp.Header, resp.Status = hdr, code
	h.prefix = resp.TakeRequestPhaseBody()
	return h.run.runResponseFilters(false)
}

func (h *headerHookWriter) WriteHeader(code int) {
	if h.done || code < 200 {
		h.ResponseWriter.WriteHeader(code)
		return
	}
	h.done = true
	if err := h.responsePhase(code); err != nil {
		h.err, h.swallow = err, true
		clear(h.ResponseWriter.Header())
		h.x.writeError(h.ResponseWriter, err)
		return
	}
	resp := h.run.x.Resp
	if resp.BodyWritten {
		h.swallow = true
		writeFilterResponse(h.ResponseWriter, resp)
		return
	}
	if h.run.streamsResponseBody() && (!bodyAllowed(resp.Status) || h.x.R.Method == http.MethodHead) {
		// No body follows: the guests' streams end here, and the
		// headers (a HEAD's Content-Length among them) go as they are.
		h.run.endResponseBodies()
	}
	if h.run.streamsResponseBody() {
		// A guest may resize the chunks it passes: the length is unknown.
		h.ResponseWriter.Header().Del("Content-Length")
		if h.run.responseHeadersHeld() {
			h.heldStatus = resp.Status // sent with the first chunk a guest lets go
			return
		}
	}
	if len(h.prefix) > 0 {
		h.lengthenBy(len(h.prefix), resp.Status)
	}
	writeTrailers(h.ResponseWriter, resp.Trailer)
	h.ResponseWriter.WriteHeader(resp.Status)
}

// lengthenBy makes room for the request phase's body in a response the
// upstream framed with a Content-Length; a status without a body drops
// that body instead.
func (h *headerHookWriter) lengthenBy(n, status int) {
	if !bodyAllowed(status) {
		h.prefix = nil
		return
	}
	hdr := h.ResponseWriter.Header()
	if cl := hdr.Get("Content-Length"); cl != "" {
		if size, err := strconv.ParseInt(cl, 10, 64); err == nil && size >= 0 {
			hdr.Set("Content-Length", strconv.FormatInt(size+int64(n), 10))
		}
	}
}

// writePrefix sends the request phase's body if it is still owed: before
// the upstream's first byte or flush, or at the end of a response whose
// upstream body was empty (finish).
func (h *headerHookWriter) writePrefix() error {
	if len(h.prefix) == 0 {
		return nil
	}
	p := h.prefix
	h.prefix = nil
	_, err := h.ResponseWriter.Write(p)
	return err
}

// finish completes a response whose upstream body did not carry the
// request phase's body out (an empty one), or whose body streams through
// guests: they get its end, and a failure there cuts the response.
func (h *headerHookWriter) finish() error {
	if h.done && !h.swallow && h.run.streamsResponseBody() {
		return h.endStreamedBody()
	}
	if h.done && !h.swallow {
		_ = h.writePrefix() // a client gone away is nothing left to answer
	}
	return nil
}

func (h *headerHookWriter) Write(p []byte) (int, error) {
	if !h.done {
		h.WriteHeader(http.StatusOK)
	}
	if h.swallow {
		// Fail the write, so the forwarder stops reading an upstream body
		// nobody will see (an endless stream would never end otherwise).
		return 0, errBodySwallowed
	}
	if h.run.streamsResponseBody() {
		return h.writeStreamed(p)
	}
	if err := h.writePrefix(); err != nil {
		return 0, err
	}
	return h.ResponseWriter.Write(p)
}

func (h *headerHookWriter) Flush() {
	if h.swallow || h.heldStatus != 0 {
		return
	}
	if h.writePrefix() != nil {
		return // the next Write reports it
	}
	if f, ok := h.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (h *headerHookWriter) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// Hijack is where an upgrade's 101 is sent (the forwarder writes it on the
// hijacked connection), so the response phase runs here: the guests see
// status 101 and its headers and may change headers, and their instances
// are released instead of being held for the whole session. A 101 carries
// no body and no other status: what a guest writes there is ignored.
func (h *headerHookWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if err := h.switching(); err != nil {
		return nil, nil, err
	}
	return http.NewResponseController(h.ResponseWriter).Hijack()
}

// SwitchProtocols is Hijack for an engine that sends the 101 itself.
func (h *headerHookWriter) SwitchProtocols(session func(net.Conn)) bool {
	sw, ok := h.ResponseWriter.(proxy.ProtocolSwitcher)
	if !ok {
		return false
	}
	if h.switching() != nil {
		// The filter's error is the answer: the session ends before it
		// began, which releases the upstream side.
		session(nil)
		return true
	}
	return sw.SwitchProtocols(session)
}

// switching runs the response phase at a 101.
func (h *headerHookWriter) switching() error {
	if h.done {
		return nil
	}
	h.done = true
	err := h.responsePhase(http.StatusSwitchingProtocols)
	// No body follows a 101: a guest's body stream ends here, and its
	// instance is not held for the session.
	h.run.endResponseBodies()
	if err != nil {
		h.err, h.swallow = err, true
		clear(h.ResponseWriter.Header())
		h.x.writeError(h.ResponseWriter, err)
		return err
	}
	return nil
}

// StreamBody passes the upstream body on to an engine that streams it,
// once the header hook ran (at WriteHeader); a body the filters replaced
// is dropped.
func (h *headerHookWriter) StreamBody(body io.ReadCloser, size int64, trailers func() http.Header) bool {
	bs, ok := h.ResponseWriter.(proxy.BodyStreamer)
	if !ok {
		return false
	}
	if !h.done {
		h.WriteHeader(http.StatusOK)
	}
	if h.swallow {
		body.Close()
		return true
	}
	if h.run.streamsResponseBody() {
		return false // the chunks go through the guests: Write
	}
	if len(h.prefix) == 0 {
		return bs.StreamBody(body, size, trailers)
	}
	if size >= 0 {
		size += int64(len(h.prefix))
	}
	prefixed := &prefixedBody{Reader: io.MultiReader(bytes.NewReader(h.prefix), body), Closer: body}
	if !bs.StreamBody(prefixed, size, trailers) {
		return false // the caller writes the body, and Write sends the prefix first
	}
	h.prefix = nil
	return true
}

// prefixedBody is an upstream body with the request phase's body before it.
type prefixedBody struct {
	io.Reader
	io.Closer
}

// fillFromBuffer moves a captured upstream response into the exchange for
// the response phase.
func fillFromBuffer(run *filterRun, b *bufferWriter) {
	resp := run.x.Resp
	prefix := resp.TakeRequestPhaseBody()
	for k, vs := range resp.Header {
		if _, ok := b.header[k]; !ok {
			b.header[k] = vs
		}
	}
	resp.Header = b.header
	resp.Status = b.status
	if resp.Status == 0 {
		resp.Status = http.StatusOK
	}
	resp.Body, resp.Buffered = b.body.Bytes(), true
	if len(prefix) > 0 && bodyAllowed(resp.Status) {
		resp.Body = append(prefix, resp.Body...)
	}
	resp.Header.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	// The upstream's trailers (written by the forwarder after the body, in
	// net/http's prefix form) become Resp.Trailer for the guests.
	delete(resp.Header, "Trailer")
	for k, vs := range resp.Header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			if resp.Trailer == nil {
				resp.Trailer = http.Header{}
			}
			resp.Trailer[http.CanonicalHeaderKey(name)] = vs
			delete(resp.Header, k)
		}
	}
}

// writeTrailers has trailers sent after the body, in net/http's prefix
// form (HTTP/1.1 chunked and HTTP/2 alike). Call it before WriteHeader:
// net/http decides between Content-Length and chunked framing from the
// headers as they are then, and a response it frames with a length has no
// trailers.
func writeTrailers(w http.ResponseWriter, trailers http.Header) {
	if len(trailers) == 0 {
		return
	}
	h := w.Header()
	h.Del("Content-Length")
	for k, vs := range trailers {
		h[http.TrailerPrefix+k] = vs
	}
}
