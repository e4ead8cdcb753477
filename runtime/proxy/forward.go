package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicegw/sluice/runtime/httperr"
	"github.com/sluicegw/sluice/runtime/httpguard"
)

// ForwardOptions are the per-route settings of one Forward call.
type ForwardOptions struct {
	// Timeout is the route's timeout; 0 uses the upstream's. It bounds the
	// whole exchange: connecting, every retry, the response headers and the
	// body. For an upgrade it bounds only the wait for the 101: the switched
	// connection lives as long as both sides keep it open.
	Timeout time.Duration
}

// copyBufs recycles the buffers that carry response bodies, so streaming a
// response costs no allocation.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Forward proxies r to an endpoint of the pool and streams the response to w.
//
// r.URL.Path and r.URL.RawQuery are sent as they are (the router has
// already rewritten the path); r.Header is read, never modified. The
// upstream sees its own host as Host, the original in X-Forwarded-Host.
//
// It returns nil once a response has been written to w, whatever its status:
// that includes an upstream's 5xx passed through after the retries ran out.
// When nothing was written it returns an *httperr.Error: 503 when no endpoint
// is healthy and not ejected, 502 when the upstream failed (refused, reset,
// malformed response), 504 when the deadline passed before the response
// headers, httperr.StatusClientClosedRequest when the client went away. A failure
// after the headers were sent cannot be reported with a status any more: the
// client connection is aborted with panic(http.ErrAbortHandler), which
// net/http turns into a cut connection (HTTP/1) or a stream reset (HTTP/2),
// so the client cannot mistake a truncated body for a whole one. Callers
// must let that panic through. The exception is a gRPC response to an
// HTTP/2 client: it ends with a grpc-status trailer instead (grpcstream.go),
// which tells the client the same thing and why.
func (p *Pool) Forward(w http.ResponseWriter, r *http.Request, opt ForwardOptions) error {
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = p.timeout
	}
	// A gRPC call's deadline counts from when the node received it; what
	// is left of it (and of the route's timeout) at each attempt is the
	// grpc-timeout the upstream gets.
	d, isCall := grpcTimeout(r)
	if isCall {
		left := time.Until(receivedAt(r).Add(d))
		if left <= 0 {
			return p.deadlineSpent(0)
		}
		if timeout <= 0 || left < timeout {
			timeout = left
		}
	}
	upgrade := httpguard.UpgradeOf(r) // the edge dropped a stray Upgrade header already

	var ctx context.Context
	var cancel context.CancelFunc
	var headerTimer *time.Timer
	switch {
	case upgrade != "" && timeout > 0:
		// The deadline must end at the 101, not bound the switched
		// connection, so it is a timer that can be stopped.
		c, cancelCause := context.WithCancelCause(r.Context())
		ctx, cancel = c, func() { cancelCause(context.Canceled) }
		headerTimer = time.AfterFunc(timeout, func() { cancelCause(context.DeadlineExceeded) })
		defer headerTimer.Stop()
	case timeout > 0:
		ctx, cancel = context.WithTimeout(r.Context(), timeout)
	default:
		ctx, cancel = context.WithCancel(r.Context())
	}
	// A response body or an upgraded connection handed to the engine
	// outlives this call: its end cancels the context instead.
	handedOff := false
	defer func() {
		if !handedOff {
			cancel()
		}
	}()

	rp := replayOf(r)
	if !rp.empty && r.ProtoMajor == 1 {
		// By default an HTTP/1 server stops reading the request body once
		// the response starts; an upstream may answer before it has read
		// the whole body, and the transport must be able to finish sending.
		_ = http.NewResponseController(w).EnableFullDuplex()
	}
	hdr := outboundHeader(r, upgrade)
	if p.h2 != nil && httpguard.HasToken(r.Header["Te"], "trailers") {
		hdr["Te"] = teTrailers // HTTP/2 allows this one TE; gRPC servers ask for it
	}

	e := p.pick(r, nil)
	if e == nil {
		return httperr.Wrap(http.StatusServiceUnavailable, reasonNoEndpoint,
			fmt.Errorf("upstream %q: none of %d endpoints is healthy and not ejected", p.name, len(p.set.Load().endpoints)))
	}
	var tried []*endpoint
	for attempt := 0; ; attempt++ {
		if isCall {
			var spent *httperr.Error
			if hdr, spent = p.withCallTimeout(ctx, hdr, attempt); spent != nil {
				return spent
			}
		}
		body, err := attemptBody(r, attempt, rp)
		if err != nil {
			return httperr.Wrap(http.StatusBadGateway, reasonFailed,
				fmt.Errorf("upstream %q: replay request body for retry %d: %w", p.name, attempt, err))
		}
		e.inflight.Add(1)
		var start int64
		if p.trackLatency {
			start = monotonic()
		}
		span := p.traceAttempt(r.Context(), e, attempt, hdr)
		var res upstreamResponse
		var resp *http.Response
		if p.h2 != nil && upgrade == "" {
			resp, err = p.h2.RoundTrip(outboundRequest(ctx, r, e, hdr, body))
			if err == nil {
				res = upstreamResponse{status: resp.StatusCode, header: resp.Header, length: resp.ContentLength, body: resp.Body, resp: resp}
			}
		} else if upgrade == "" {
			var f *fastResponse
			f, err = p.fastRoundTrip(ctx, r, e, hdr, body)
			if err == nil {
				res = upstreamResponse{status: f.status, header: f.header, length: f.length, declared: f.declared, body: f}
				if len(f.declared) > 0 {
					res.trailers = f.trailers
				}
			}
		} else {
			resp, err = p.transport.RoundTrip(outboundRequest(ctx, r, e, hdr, body))
			if err == nil {
				res = upstreamResponse{status: resp.StatusCode, header: resp.Header, length: resp.ContentLength, body: resp.Body, resp: resp}
				if len(resp.Trailer) > 0 {
					for k := range resp.Trailer {
						res.declared = append(res.declared, k)
					}
					res.trailers = func() http.Header { return resp.Trailer }
				}
			}
		}
		if err != nil {
			endAttempt(span, 0, err)
			e.inflight.Add(-1)
			fail, retryable := p.attemptFailed(ctx, r, e, err, start, timeout, rp)
			if !retryable || attempt >= p.retry.attempts {
				return fail
			}
			tried = append(tried, e)
			if e = p.pick(r, tried); e == nil {
				return fail
			}
			continue
		}
		p.observe(e, res.status, start)
		endAttempt(span, res.status, nil)

		if res.status == http.StatusSwitchingProtocols {
			if upgrade == "" {
				res.body.Close()
				e.inflight.Add(-1)
				return httperr.Wrap(http.StatusBadGateway, reasonFailed,
					fmt.Errorf("upstream %q: endpoint %s: 101 Switching Protocols to a request that asked for no upgrade", p.name, e.raw))
			}
			if headerTimer != nil {
				headerTimer.Stop()
			}
			handedOff, err = p.switchProtocols(ctx, cancel, w, resp, e, upgrade)
			return err
		}
		if attempt < p.retry.attempts && rp.anyFail && p.retry.onStatus(res.status) {
			tried = append(tried, e)
			// Pick before draining: with nowhere else to go, this response
			// is the upstream's answer and goes to the client.
			if next := p.pick(r, tried); next != nil {
				discard(res.body)
				e.inflight.Add(-1)
				e = next
				continue
			}
		}
		handedOff = p.writeResponse(ctx, cancel, w, r, res, e)
		return nil
	}
}

// upstreamResponse is a response from either client: fasthttp's for plain
// requests, http.Transport's for upgrade requests it did not switch.
type upstreamResponse struct {
	status   int
	header   http.Header
	length   int64 // -1 when unknown
	declared []string
	body     io.ReadCloser
	// trailers returns the trailers once body has ended; nil when none
	// were declared.
	trailers func() http.Header
	resp     *http.Response // http.Transport's response, if it is one
}

// endTrailers returns the trailers that came with the end of the body,
// announced or not.
func (u *upstreamResponse) endTrailers() http.Header {
	switch {
	case u.resp != nil:
		return u.resp.Trailer
	case u.trailers != nil:
		return u.trailers()
	}
	if f, ok := u.body.(*fastResponse); ok {
		return f.trailer
	}
	return nil
}

// outboundRequest is r addressed to e: a shallow copy (the caller's request
// is untouched) with the upstream's URL, the prepared header and the body of
// this attempt. Host is left empty so the transport sends e's host.
func outboundRequest(ctx context.Context, r *http.Request, e *endpoint, hdr http.Header, body io.ReadCloser) *http.Request {
	out := r.WithContext(ctx)
	out.URL = &url.URL{
		Scheme:   e.scheme,
		Host:     e.host,
		Path:     r.URL.Path,
		RawPath:  r.URL.RawPath,
		RawQuery: r.URL.RawQuery,
	}
	out.Host = ""
	out.Header = hdr
	out.Body = body
	if body == nil {
		out.ContentLength = 0 // a nil body with length 0 is sent without framing headers
	}
	out.RequestURI = ""
	out.Close = false // the client's connection handling is not the upstream's
	out.Proto, out.ProtoMajor, out.ProtoMinor = "HTTP/1.1", 1, 1
	return out
}

// attemptFailed classifies a transport error: the error to answer with and
// whether the retry policy allows another attempt.
func (p *Pool) attemptFailed(ctx context.Context, r *http.Request, e *endpoint, err error, start int64, timeout time.Duration, rp replay) (*httperr.Error, bool) {
	switch {
	case timedOut(ctx):
		// One deadline covers all attempts: nothing is left for a retry.
		if p.trackLatency {
			now := monotonic()
			e.latency.observe(float64(now-start), now)
		}
		p.outlierFailure(e, "timeout")
		return httperr.Wrap(http.StatusGatewayTimeout, reasonTimeout,
			fmt.Errorf("upstream %q: endpoint %s: no response within %v: %w", p.name, e.raw, timeout, err)), false
	case r.Context().Err() != nil:
		return httperr.ClientClosed(
			fmt.Errorf("upstream %q: endpoint %s: client went away: %w", p.name, e.raw, err)), false
	case p.h2 != nil && (notHTTP2(err) || p.h2.answeredHTTP1(e.host)):
		return httperr.Wrap(http.StatusBadGateway, reasonNotHTTP2,
			fmt.Errorf("upstream %q: endpoint %s: configured for %s, but it answers HTTP/1.1: %w", p.name, e.raw, p.protocol, err)), false
	case isConnectFailure(err):
		p.outlierFailure(e, "connect failure")
		return httperr.Wrap(http.StatusBadGateway, reasonFailed,
			fmt.Errorf("upstream %q: endpoint %s: %w", p.name, e.raw, err)), p.retry.onConnect && rp.onConnect
	default:
		// The request may have reached the upstream: answered as 502 and
		// retried only as a 502 would be.
		p.outlierFailure(e, "request failed")
		return httperr.Wrap(http.StatusBadGateway, reasonFailed,
			fmt.Errorf("upstream %q: endpoint %s: %w", p.name, e.raw, err)), p.retry.onStatus(http.StatusBadGateway) && rp.anyFail
	}
}

// observe feeds a response's status and latency to the passive policies.
func (p *Pool) observe(e *endpoint, status int, start int64) {
	if p.trackLatency {
		now := monotonic()
		e.latency.observe(float64(now-start), now)
	}
	if status >= 500 {
		if p.outlier.threshold > 0 {
			p.outlierFailure(e, "status "+strconv.Itoa(status))
		}
	} else {
		p.outlierSuccess(e)
	}
}

// discard drains a little of a response that will not be used, so its
// connection can go back to the pool, and closes it.
func discard(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, 64<<10)
	body.Close()
}

// writeResponse streams resp to the client. Responses of unknown length and
// event streams are flushed after every read, so each chunk reaches the
// client as soon as the upstream sent it; others go through the server's
// buffering. A writer that takes the body as a reader (BodyStreamer) gets
// it, with the endpoint and the context released when it is closed; then
// writeResponse reports true.
func (p *Pool) writeResponse(ctx context.Context, cancel context.CancelFunc, w http.ResponseWriter, r *http.Request, res upstreamResponse, e *endpoint) bool {
	removeHopByHop(res.header)
	h := w.Header()
	copyResponseHeader(h, res.header)
	addVia(h)
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = nil // no sniffing: the client sees what the upstream sent
	}
	if len(res.declared) > 0 {
		h["Trailer"] = []string{strings.Join(res.declared, ", ")}
	}
	w.WriteHeader(res.status)

	if bs, ok := w.(BodyStreamer); ok {
		body := &handedBody{p: p, ctx: ctx, cancel: cancel, body: res.body, e: e, rid: r.Header.Get("X-Request-Id")}
		if bs.StreamBody(body, res.length, res.trailers) {
			return true
		}
	}
	defer e.inflight.Add(-1)
	defer res.body.Close()

	stream := res.length < 0 || isEventStream(res.header)
	var rc *http.ResponseController
	if stream {
		rc = http.NewResponseController(w)
		_ = rc.Flush()
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		n, rerr := res.body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return false // the client went away; nobody is left to answer
			}
			if stream {
				_ = rc.Flush() // a failure shows up on the next Write
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if r.Context().Err() != nil && !timedOut(ctx) {
				return false // the client went away, which canceled the read
			}
			if grpcStream(r, res.header) {
				p.bodyFailed(ctx, e, r.Header.Get("X-Request-Id"), rerr, "ending the gRPC stream with a status")
				httperr.EndGRPCStream(w, midStreamFailure(ctx, rerr))
				return false
			}
			p.bodyFailed(ctx, e, r.Header.Get("X-Request-Id"), rerr, "aborting client response")
			panic(http.ErrAbortHandler)
		}
	}
	// Trailers arrive with the end of the body. The prefix form works for
	// HTTP/1 and HTTP/2 clients alike, announced or not.
	for k, vv := range res.endTrailers() {
		h[http.TrailerPrefix+k] = vv
	}
	return false
}

// bodyFailed records an upstream body that broke off after its headers.
// then says what the client gets.
func (p *Pool) bodyFailed(ctx context.Context, e *endpoint, rid string, err error, then string) {
	p.outlierFailure(e, "response body failed")
	p.log.Warn("upstream response cut short, "+then,
		"endpoint", e.raw, "request_id", rid, "timeout", timedOut(ctx), "err", err)
}

// handedBody is an upstream response body an engine streams after the
// handler returned. A read error other than the end reaches the engine,
// which cuts the client connection so a truncated body is never taken for
// a whole one; Close gives back the endpoint and the request's context.
type handedBody struct {
	p      *Pool
	ctx    context.Context
	cancel context.CancelFunc
	body   io.ReadCloser
	e      *endpoint
	rid    string
	failed bool
	closed bool
}

func (b *handedBody) Read(buf []byte) (int, error) {
	n, err := b.body.Read(buf)
	if err != nil && err != io.EOF && !b.failed {
		b.failed = true
		b.p.bodyFailed(b.ctx, b.e, b.rid, err, "aborting client response")
	}
	return n, err
}

func (b *handedBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	err := b.body.Close()
	b.e.inflight.Add(-1)
	b.cancel()
	return err
}
