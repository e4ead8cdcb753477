package filter

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Upstreams are the upstreams of the snapshot a module belongs to, for a
// proxy-wasm guest's proxy_http_call (its "cluster" is an upstream's name).
type Upstreams interface {
	// Has reports whether the snapshot has an upstream of that name.
	Has(name string) bool
	// Call sends req to the upstream and returns its whole response. The
	// response body is at most maxCallBody bytes; ctx bounds the call.
	Call(ctx context.Context, upstream string, req *http.Request) (*CallResponse, error)
}

// CallResponse is an upstream's answer to a guest's http call.
type CallResponse struct {
	Status          int
	Header, Trailer http.Header
	Body            []byte
}

// pwCall is an http call a callback made, sent when it returns.
type pwCall struct {
	token    uint32
	upstream string
	req      *http.Request
	timeout  time.Duration
}

const (
	// maxPendingCalls bounds the http calls one callback may leave to send.
	maxPendingCalls = 16
	// defaultCallTimeout bounds a call whose guest gave timeout 0.
	defaultCallTimeout = 5 * time.Second
)

// proxy_http_call(upstream i32, upstream_size i32, headers i32, headers_size i32,
// body i32, body_size i32, trailers i32, trailers_size i32, timeout_ms i32, token_ptr i32)
//
// The request's :method, :path and :authority come from its headers, as
// in Envoy; an upstream the snapshot does not have is BadArgument.
func (i *Instance) pwHTTPCall(_ context.Context, stack []uint64) pwStatus {
	const fn = "proxy_http_call"
	name := i.readString(fn, "upstream", uint32(stack[0]), uint32(stack[1]))
	ups := i.m.opts.SnapshotUpstreams
	if ups == nil || !ups.Has(name) {
		return pwBadArgument
	}
	pairs, ok := pwDecodePairs(i.view(fn, "headers", uint32(stack[2]), uint32(stack[3])))
	if !ok {
		return pwParseFailure
	}
	body := i.view(fn, "body", uint32(stack[4]), uint32(stack[5]))
	if len(body) > maxBodyBytes {
		i.fail("%s: body over the limit of %d bytes", fn, maxBodyBytes)
	}
	if len(i.pw.calls) >= maxPendingCalls {
		return pwInternalFailure
	}
	req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/"}, Header: http.Header{}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	for _, p := range pairs {
		if st := i.pwCheckHeader(fn, p[0], p[1]); st != pwOK {
			return st
		}
		switch strings.ToLower(p[0]) {
		case ":method":
			req.Method = p[1]
		case ":path":
			u, err := url.ParseRequestURI(p[1])
			if err != nil {
				return pwBadArgument
			}
			req.URL = u
		case ":authority":
			req.Host = p[1]
		case ":scheme":
		default:
			req.Header.Add(p[0], p[1])
		}
	}
	req.Body, req.ContentLength = http.NoBody, 0
	if len(body) > 0 {
		setBody(req, append([]byte(nil), body...))
	}
	timeout := time.Duration(uint32(stack[8])) * time.Millisecond
	if timeout <= 0 {
		timeout = defaultCallTimeout
	}
	i.pw.token++
	call := &pwCall{token: i.pw.token, upstream: name, req: req, timeout: timeout}
	i.pw.calls = append(i.pw.calls, call)
	i.pwPutU32(fn, uint32(stack[9]), call.token)
	return pwOK
}

// pwSendCalls sends the http calls the last callback made, one at a time,
// and hands each answer to proxy_on_http_call_response on the root context
// (the guest routes it to the stream with proxy_set_effective_context). A
// failed call is answered with no headers and no body, as Envoy does. Calls
// that callback makes are sent too, until none is left.
func (i *Instance) pwSendCalls(ctx context.Context) error {
	p := i.pw
	for len(p.calls) > 0 {
		c := p.calls[0]
		p.calls = p.calls[1:]
		cctx, cancel := context.WithTimeout(ctx, c.timeout)
		resp, err := i.m.opts.SnapshotUpstreams.Call(cctx, c.upstream, c.req.WithContext(cctx))
		cancel()
		if err != nil {
			i.m.logger.Warn("proxy-wasm http call failed", "upstream", c.upstream, "error", err.Error())
			resp = &CallResponse{}
		}
		p.callResp = resp
		var nh uint32
		if resp.Status != 0 {
			nh = uint32(len(resp.Header) + 1)
		}
		_, err = i.pwInvoke(ctx, pwOnHTTPCallResponse, i.m.opts.Timeout, pwRootContext, c.token, nh, uint32(len(resp.Body)), uint32(len(resp.Trailer)))
		p.callResp = nil
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil { // the client left, or the module is closing: send no more
			return fmt.Errorf("filter %q: %s: %w", i.m.name, pwOnHTTPCallResponse.name, err)
		}
	}
	return nil
}
