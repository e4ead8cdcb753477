package filter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// The request body through a proxy-wasm guest streams, as in Envoy: each
// chunk the client sends goes to proxy_on_request_body(size, eos) as it
// arrives, and what the guest lets through (Continue) goes on at once. A
// guest that returns Pause (StopIterationAndBuffer) makes the host keep
// the chunks: the next call's buffer is everything kept plus the new
// chunk, until a call continues or the body ends. So the node holds at
// most one chunk for a guest that continues, and at most maxBodyBytes for
// one that pauses (413 beyond, as before).
//
// While on_request_headers holds the request (it did not continue), the
// chunks are pulled in HandleRequest: the request waits, its headers still
// writable, until a body callback continues. After that the upstream's
// transport pulls the rest through pwRequestStream on its own goroutine,
// the instance being pinned; pwInstance.mu keeps those calls apart from
// the response phase, which detaches the stream (the upstream answered:
// the rest of the body passes unseen, and Envoy would go on calling the
// guest). Headers are read-only then: the request's went upstream.

// pwChunkBytes is the most the host reads from the client for one
// proxy_on_request_body: the unit of the guest calls and of the memory a
// streamed body holds.
const pwChunkBytes = 64 << 10

// StreamError is the error a request body streaming through a proxy-wasm
// guest fails with, after the request went on, when the guest's body
// callback failed (Err, wrapping this package's sentinels: ErrTooLarge for
// a held body past the limit) or answered the request (Answer, its
// proxy_send_local_response, which the edge sends instead of the
// upstream's answer, as Envoy sends a local reply). The client's own read
// errors pass through unwrapped.
type StreamError struct {
	Filter string
	Err    error
	Answer *Response
}

func (e *StreamError) Error() string {
	if e.Answer != nil {
		return fmt.Sprintf("filter %q answered the request from its body callback", e.Filter)
	}
	return e.Err.Error()
}

func (e *StreamError) Unwrap() error { return e.Err }

// pwRequestStream is the request body a proxy-wasm guest sees chunk by
// chunk. Its fields are the reader's own; the instance's state is touched
// only under pwInstance.mu, and only while the stream is the instance's
// current one (pwInstance.reqStream).
type pwRequestStream struct {
	i       *Instance
	ctx     context.Context // the request's, without cancellation (the calls are bounded by the filter's timeout)
	src     io.ReadCloser
	scratch []byte
	held    []byte // what the guest held back when the stream was detached
	out     []byte // let through by the guest, not yet read
	done    bool   // src ended or failed; err is what Read returns after out
	err     error
}

// pwStreamRequest makes the rest of the request's body a stream through
// the guest, after out (what the guest already let through). Its length is
// unknown (the guest may rewrite chunks), so it goes upstream chunked.
func (i *Instance) pwStreamRequest(ctx context.Context, r *http.Request, out []byte) {
	s := &pwRequestStream{i: i, ctx: context.WithoutCancel(ctx), src: r.Body, scratch: make([]byte, pwChunkBytes), out: out}
	i.pw.reqStream = s
	r.Body, r.GetBody, r.ContentLength = s, nil, -1
	r.Header.Del("Content-Length")
}

// detachRequestStream ends the guest's part in the request body: the
// response phase began, or the instance's stream ended. The caller holds
// mu or is the only user of the instance.
func (p *pwInstance) detachRequestStream() {
	if s := p.reqStream; s != nil {
		s.held, p.reqBody = p.reqBody, nil
		p.reqStream = nil
	}
}

func (s *pwRequestStream) Read(b []byte) (int, error) {
	for len(s.out) == 0 {
		if s.done {
			return 0, s.err
		}
		s.step()
	}
	n := copy(b, s.out)
	s.out = s.out[n:]
	if len(s.out) == 0 && s.done && s.err == io.EOF {
		// The end comes with the last bytes, so a guest reading this
		// stream (the next proxy-wasm filter's) sees them with
		// end_of_stream, as Envoy passes it on, not an empty call after.
		return n, io.EOF
	}
	return n, nil
}

func (s *pwRequestStream) Close() error { return s.src.Close() }

// step reads one chunk from the client (without the lock: a slow client
// must not hold up the response phase) and hands it to the guest.
func (s *pwRequestStream) step() {
	n, err := s.src.Read(s.scratch)
	eos := errors.Is(err, io.EOF)
	if err != nil && !eos {
		s.out, s.done, s.err = nil, true, err
		return
	}
	p := s.i.pw
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reqStream != s {
		// Detached: the rest passes as the client sends it, after what
		// the guest held back.
		s.out = append(s.held, s.scratch[:n]...)
		s.held = nil
		s.done, s.err = eos, io.EOF
		return
	}
	if n == 0 && !eos {
		return
	}
	out, _, err := s.i.pwRequestChunk(s.ctx, s.scratch[:n], eos)
	s.out = out
	if err == nil && p.local != nil {
		err = &StreamError{Filter: s.i.m.name, Answer: p.local}
	} else if err != nil {
		err = &StreamError{Filter: s.i.m.name, Err: err}
	}
	if err != nil || eos {
		p.reqStream, p.reqBody = nil, nil // don't pin the array in an idle instance
		s.done, s.err = true, err
		if err == nil {
			s.err = io.EOF
		}
	}
}

// pwRequestChunk hands chunk to proxy_on_request_body (and, at the end of
// a body with trailers, the trailers to proxy_on_request_trailers) and
// returns what goes on: nothing while the guest pauses, the buffer it saw
// when it continues (cont). The caller holds pwInstance.mu, or is
// HandleRequest.
func (i *Instance) pwRequestChunk(ctx context.Context, chunk []byte, eos bool) (out []byte, cont bool, err error) {
	p := i.pw
	if len(p.reqBody)+len(chunk) > maxBodyBytes {
		i.clientErr = errors.New("body too large")
		return nil, false, fmt.Errorf("filter %q: %s: %w: %w: the request body it holds is over %d bytes",
			i.m.name, pwOnRequestBody.name, ErrClientBody, ErrTooLarge, maxBodyBytes)
	}
	p.reqBody = appendHeld(p.reqBody, chunk)
	trailers := 0
	if eos {
		trailers = len(appendHeaderPairs(nil, i.x.Req.Trailer)) // known once the body is read
	}
	p.inReqBody, p.bodyEOS = i.phase != phaseRequest, eos && trailers == 0
	defer func() { p.inReqBody, p.bodyEOS = false, true }()
	op, action, err := i.pwBodyCall(ctx, pwOnRequestBody, pwOnRequestTrailers, len(p.reqBody), trailers)
	switch {
	case err != nil:
		return nil, false, err
	case p.local != nil:
		return nil, false, nil
	case action == pwContinue || p.continued:
		// The next chunk reuses the array: out is read to its end (or
		// is the whole body, at eos) before another chunk comes.
		out, p.reqBody = p.reqBody, p.reqBody[:0]
		return out, true, nil
	case eos:
		return nil, false, filterError(i.m.name, op.name, ErrTrap, "stopped the request at its end and nothing resumed it (proxy_continue_stream)")
	}
	return nil, false, nil
}

// pwBodyCall calls a body callback with the size of the body the guest
// sees and whether it ended (p.bodyEOS), then, when it ended with trailers
// and the guest did not answer, the trailers callback: what one chunk of a
// request or a response costs the guest. It returns the last callback
// called and its action.
func (i *Instance) pwBodyCall(ctx context.Context, body, trailersOp pwExport, size, trailers int) (pwExport, uint32, error) {
	p := i.pw
	timeout := i.m.opts.Timeout
	op := body
	p.continued = false
	action, err := i.pwInvoke(ctx, op, timeout, p.ctxID, uint32(size), b2u(p.bodyEOS))
	if err == nil {
		err = i.pwSendCalls(ctx)
	}
	if err == nil && p.local == nil && trailers > 0 {
		op = trailersOp
		p.continued = false
		action, err = i.pwInvoke(ctx, op, timeout, p.ctxID, uint32(trailers))
		if err == nil {
			err = i.pwSendCalls(ctx)
		}
	}
	return op, action, err
}

// appendHeld appends chunk to a body a guest holds, doubling the array
// when it must grow: append grows a large slice by about 1.25 times, which
// would copy a held body many times over (BENCHMARKS.md, 2026-12-03).
func appendHeld(held, chunk []byte) []byte {
	if need := len(held) + len(chunk); need > cap(held) {
		grown := make([]byte, len(held), max(need, 2*cap(held)))
		copy(grown, held)
		held = grown
	}
	return append(held, chunk...)
}

// pwHoldRequest runs the body callbacks in HandleRequest while the guest
// holds the request (on_request_headers did not continue), until one
// continues or the body ends. The request then goes on with the whole
// body, or with what the guest let through followed by the stream of the
// rest. A local response is left in pwInstance.local.
func (i *Instance) pwHoldRequest(ctx context.Context) error {
	r := i.x.Req
	if set := i.x.SetReadDeadline; set != nil && i.m.opts.Timeout > 0 {
		// A slow client fails its own request, not the instance's.
		if set(time.Now().Add(max(i.m.opts.Timeout, minBodyReadTimeout))) == nil {
			defer set(time.Time{})
		}
	}
	scratch := make([]byte, pwChunkBytes)
	for {
		n, rerr := r.Body.Read(scratch)
		eos := errors.Is(rerr, io.EOF)
		if rerr != nil && !eos {
			i.clientErr = rerr
			return fmt.Errorf("filter %q: %s: %w: %w", i.m.name, pwOnRequestBody.name, ErrClientBody, rerr)
		}
		if n == 0 && !eos {
			continue
		}
		out, cont, err := i.pwRequestChunk(ctx, scratch[:n], eos)
		switch {
		case err != nil, i.pw.local != nil:
			if i.clientErr == nil {
				// fail_open goes on without the filter: with what it held
				// (rewritten or not), then the rest.
				held, rest := i.pw.reqBody, r.Body
				i.pw.reqBody = nil
				r.Body = struct {
					io.Reader
					io.Closer
				}{io.MultiReader(bytes.NewReader(held), rest), rest}
				r.GetBody, r.ContentLength = nil, -1
				r.Header.Del("Content-Length")
			}
			return err
		case eos:
			setBody(r, out)
			i.pw.reqBody = nil // out is the body now
			return nil
		case cont:
			i.pwStreamRequest(ctx, r, out)
			return nil
		}
	}
}
