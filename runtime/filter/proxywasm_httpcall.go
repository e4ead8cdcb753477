package filter

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// pwCallResponse is an upstream's answer to a guest's http call; status 0
// when the call failed.
type pwCallResponse struct {
	status          int
	header, trailer http.Header
	body            []byte
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
// The "cluster" is an upstream on the filter's allow-list
// (filters.NAME.upstreams, ModuleOptions.Upstreams), as for http-wasm's
// http_call; another name is BadArgument. The request's :method, :path and
// :authority come from its headers, as in Envoy.
func (i *Instance) pwHTTPCall(_ context.Context, stack []uint64) pwStatus {
	const fn = "proxy_http_call"
	name := i.readString(fn, "upstream", uint32(stack[0]), uint32(stack[1]))
	if i.m.opts.Upstreams[name] == nil {
		i.m.logger.Warn("proxy_http_call refused: the upstream is not on the filter's allow-list",
			"upstream", name, "allow_list", "filters."+i.m.name+".upstreams")
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
		resp := i.pwForward(ctx, c)
		p.callResp = resp
		var nh uint32
		if resp.status != 0 {
			nh = uint32(len(appendHeaderPairs(nil, resp.header)) + 1) // and :status
		}
		nt := uint32(len(appendHeaderPairs(nil, resp.trailer)))
		_, err := i.pwInvoke(ctx, pwOnHTTPCallResponse, i.m.opts.Timeout, pwRootContext, c.token, nh, uint32(len(resp.body)), nt)
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

// pwForward sends one call through the upstream's pool (balancing, health,
// retries and TLS as for routed requests), its answer capped at
// MaxCallResponseBytes like http-wasm's. A failure is logged and reads as
// no answer.
func (i *Instance) pwForward(ctx context.Context, c *pwCall) *pwCallResponse {
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req := c.req.WithContext(cctx)
	req.RemoteAddr = "127.0.0.1:0" // from the node itself (a tick, a queue callback)
	if i.x != nil {
		req.RemoteAddr = i.x.Req.RemoteAddr // the upstream sees the client in X-Forwarded-For
		if id := i.x.RequestID; id != "" && req.Header.Get("X-Request-Id") == "" {
			req.Header.Set("X-Request-Id", id) // one id across the request and its filters' calls
		}
	}
	w := &callWriter{header: http.Header{}}
	err := forward(i.m.opts.Upstreams[c.upstream], w, req, c.timeout)
	if err == nil && w.overflow {
		err = fmt.Errorf("answered more than %d bytes", MaxCallResponseBytes)
	}
	if err != nil {
		i.m.logger.Warn("proxy-wasm http call failed", "upstream", c.upstream, "error", err.Error())
		return &pwCallResponse{}
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return &pwCallResponse{status: w.status, header: w.header, body: w.body.Bytes()}
}
