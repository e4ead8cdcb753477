package filter

import "context"

// The response body streams through a proxy-wasm guest that has a
// proxy_on_response_body callback, as the request body does
// (proxywasm_reqbody.go): HandleResponse runs on_response_headers and
// leaves the stream open (ResponseBodyPending); the edge then hands each
// chunk of the upstream's body to ResponseChunk as it arrives, the last
// one with eos, and ends the stream with EndResponse before it releases
// the instance. A guest that pauses makes the host keep the chunks (up to
// maxBodyBytes), and its next call sees them all; Continue lets what it
// saw go on. Until on_response_headers or a body callback continues, the
// edge holds the response's headers and the guest may still change them;
// once they are sent, writes to them are refused (BadArgument), as Envoy
// refuses them. When the edge buffered the whole response for another
// filter (Response.Buffered), the guest gets it in one call instead.

// ResponseBodyPending reports that HandleResponse left the response's body
// to stream through the guest: see ResponseChunk and EndResponse.
func (i *Instance) ResponseBodyPending() bool { return i.pw != nil && i.pw.respStream }

// ResponseHeadersHeld reports that the guest has not let the response's
// headers go yet: the edge keeps them, still writable, until a chunk
// comes out of ResponseChunk.
func (i *Instance) ResponseHeadersHeld() bool { return i.ResponseBodyPending() && i.pw.respHeld }

// ResponseChunk hands chunk of the upstream's response body to
// proxy_on_response_body (and at its end, eos, the response's trailers,
// Exchange.Resp.Trailer, to proxy_on_response_trailers) and returns what
// goes on to the client: nothing while the guest pauses. An error fails
// the response (ErrTooLarge: a held body past the limit); the edge ends
// the stream with EndResponse all the same.
func (i *Instance) ResponseChunk(ctx context.Context, chunk []byte, eos bool) ([]byte, error) {
	p := i.pw
	p.mu.Lock()
	defer p.mu.Unlock()
	if !i.ResponseBodyPending() {
		return chunk, nil
	}
	if len(p.respBody)+len(chunk) > maxBodyBytes {
		return nil, filterError(i.m.name, pwOnResponseBody.name, ErrTooLarge, "the response body it holds is over the limit")
	}
	p.respBody = appendHeld(p.respBody, chunk)
	trailers := 0
	if eos {
		trailers = len(appendHeaderPairs(nil, i.x.Resp.Trailer))
	}
	p.bodyEOS = eos && trailers == 0
	defer func() { p.bodyEOS = true }()
	op, action, err := i.pwBodyCall(ctx, pwOnResponseBody, pwOnResponseTrailers, len(p.respBody), trailers)
	switch {
	case err != nil:
		return nil, err
	case p.local != nil:
		// Envoy resets a stream whose response began; the edge fails it.
		return nil, filterError(i.m.name, op.name, ErrTrap, "answered the request (proxy_send_local_response) after its response began")
	case action == pwContinue || p.continued:
		// The next chunk reuses the array: the edge writes out before it
		// passes another chunk.
		out := p.respBody
		p.respBody, p.respHeld = p.respBody[:0], false
		return out, nil
	case eos:
		return nil, filterError(i.m.name, op.name, ErrTrap, "stopped the response at its end and nothing resumed it (proxy_continue_stream)")
	}
	return nil, nil
}

// EndResponse ends a response whose body streamed through the guest
// (ResponseBodyPending), at its end or when it failed: proxy_on_done,
// proxy_on_log, proxy_on_delete. The instance may be released after it.
func (i *Instance) EndResponse(ctx context.Context) error {
	p := i.pw
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.respStream {
		return nil
	}
	p.respStream, p.respBody = false, nil
	err := i.pwEndStream(ctx, true)
	i.end()
	return err
}
