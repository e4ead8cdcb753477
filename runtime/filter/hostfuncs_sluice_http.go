package filter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"
	"golang.org/x/net/http/httpguts"

	"github.com/sluicegw/sluice/runtime/httperr"
)

// Outbound HTTP: a filter sends a request to an upstream on its allow-list
// (the filter's `upstreams:` in the config) and reads the answer. The call
// goes through the snapshot's pool of that upstream, so balancing, health,
// retries and TLS apply, and it ends before the guest call's own deadline.
// See RATIONALE.md, "Outbound HTTP from filters".

// Upstream sends one outbound request of a filter to the upstream it names
// and writes the answer to w, within timeout. The edge gives a module one
// per upstream of its allow-list (ModuleOptions.Upstreams), over the
// upstream's pool. It returns an error when it wrote no response; it may
// panic with http.ErrAbortHandler when a response broke off after its
// headers, as the pool's Forward does.
type Upstream func(w http.ResponseWriter, r *http.Request, timeout time.Duration) error

// Limits of one http_call.
const (
	// MaxCallResponseBytes caps the response body of an http_call: the host
	// holds the whole answer until the guest reads it, in every instance
	// that is waiting on one. A larger answer is the guest's callTooLarge.
	MaxCallResponseBytes = 1 << 20
	// callReserveDivisor: an http_call ends a tenth of the guest call's
	// time limit before the guest's own deadline, so the guest still has
	// time to act on a timeout (answer 503, fall back) instead of being
	// stopped with it.
	callReserveDivisor = 10
)

// http_call results below 100 are errors (i32, negative); the guest reads
// the reason with http_call_result(callResultError, ...).
const (
	callNotAllowed int32 = -1 // the upstream is not on the filter's allow-list
	callTimeout    int32 = -2 // no complete answer before the deadline
	callTooLarge   int32 = -3 // the response body exceeds MaxCallResponseBytes
	callFailed     int32 = -4 // the upstream failed: refused, reset, no healthy endpoint
	callInvalid    int32 = -5 // a malformed request, or a call outside a request
)

// Kinds of http_call_result (i32).
const (
	callResultHeaders uint32 = 0 // the response headers: "name\0value\0" per value
	callResultBody    uint32 = 1 // the response body
	callResultError   uint32 = 2 // why the last http_call failed (UTF-8)
)

// outboundResult is the last http_call's answer, kept in its instance until
// the next http_call or the end of the exchange.
type outboundResult struct {
	headers, body, err string
}

func httpCallFuncs() []hostFunc {
	return []hostFunc{
		{"http_call",
			[]api.ValueType{i32, i32, i32, i32, i32, i32, i32, i32, i32, i32},
			[]string{"upstream", "upstream_len", "method", "method_len", "uri", "uri_len", "headers", "headers_len", "body", "body_len"},
			[]api.ValueType{i32}, (*Instance).httpCall},
		{"http_call_result", []api.ValueType{i32, i32, i32}, []string{"kind", "buf", "buf_limit"}, []api.ValueType{i32}, (*Instance).httpCallResult},
	}
}

// http_call(upstream i32, upstream_len i32, method i32, method_len i32,
//
//	uri i32, uri_len i32, headers i32, headers_len i32, body i32, body_len i32) -> i32
//
// Sends method uri (path and query, "/introspect?x=1") with the headers
// (a NUL-terminated sequence of names and values alternating:
// "Accept\0application/json\0") and the body to the upstream named, and
// waits for the whole answer. Returns its status code (100-599), or a
// negative error: -1 not on the allow-list, -2 timeout, -3 response too
// large, -4 upstream failed, -5 invalid request. The answer's headers and
// body, or the error's reason, are read with http_call_result. Pointers
// outside guest memory trap, as in the http_handler functions.
func (i *Instance) httpCall(stack []uint64) {
	const fn = "http_call"
	i.outbound = outboundResult{}
	upstream := i.readString(fn, "upstream", uint32(stack[0]), uint32(stack[1]))
	method := i.readString(fn, "method", uint32(stack[2]), uint32(stack[3]))
	uri := i.readString(fn, "uri", uint32(stack[4]), uint32(stack[5]))
	headers := i.view(fn, "headers", uint32(stack[6]), uint32(stack[7]))
	body := i.view(fn, "body", uint32(stack[8]), uint32(stack[9]))
	status, err := i.send(upstream, method, uri, headers, body)
	if err != nil {
		i.outbound.err = err.Error()
	}
	stack[0] = uint64(uint32(status))
}

// send builds, checks and sends one http_call: the status, or an error
// code with its reason.
func (i *Instance) send(upstream, method, uri string, headers, body []byte) (int32, error) {
	if i.x == nil {
		return callInvalid, errors.New("http_call is only possible during a request (not while the filter initialises)")
	}
	up, ok := i.m.opts.Upstreams[upstream]
	if !ok {
		return callNotAllowed, fmt.Errorf("upstream %q is not on filter %q's allow-list (filters.%s.upstreams)", upstream, i.m.name, i.m.name)
	}
	hdr, err := parseCallHeaders(headers)
	switch {
	case err != nil:
		return callInvalid, err
	case !httpguts.ValidHeaderFieldName(method):
		return callInvalid, fmt.Errorf("invalid method %q", method)
	case !strings.HasPrefix(uri, "/"):
		return callInvalid, fmt.Errorf("uri %q must start with /", uri)
	case len(body) > maxBodyBytes:
		return callInvalid, fmt.Errorf("request body of %d bytes exceeds %d", len(body), maxBodyBytes)
	}
	ctx, cancel, timeout, ok := i.callContext()
	defer cancel()
	if !ok {
		return callTimeout, errors.New("no time left before the filter's deadline")
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+upstream+uri, bytes.NewReader(bytes.Clone(body)))
	if err != nil {
		return callInvalid, fmt.Errorf("uri %q: %v", uri, err)
	}
	req.Header = hdr
	if id := i.x.Req.Header.Get("X-Request-Id"); id != "" && hdr.Get("X-Request-Id") == "" {
		req.Header.Set("X-Request-Id", id) // one id across the request and its filters' calls
	}
	req.RemoteAddr = i.x.Req.RemoteAddr // the upstream sees the client in X-Forwarded-For

	w := &callWriter{header: http.Header{}}
	err = forward(up, w, req, timeout)
	switch {
	case w.overflow:
		return callTooLarge, fmt.Errorf("upstream %q answered more than %d bytes", upstream, MaxCallResponseBytes)
	case err != nil && (ctx.Err() != nil || isGatewayTimeout(err)):
		return callTimeout, fmt.Errorf("upstream %q did not answer within %v", upstream, timeout.Round(time.Millisecond))
	case err != nil:
		return callFailed, fmt.Errorf("upstream %q: %v", upstream, err)
	}
	i.outbound.headers = encodeCallHeaders(w.header)
	i.outbound.body = w.body.String()
	return int32(w.status), nil
}

// callContext bounds an http_call: it must end by the guest call's
// deadline less the reserve, or, for a filter without a time limit, by the
// upstream's own timeout (timeout 0). ok is false when no time is left.
func (i *Instance) callContext() (ctx context.Context, cancel context.CancelFunc, timeout time.Duration, ok bool) {
	parent := i.cc.Context
	if parent == nil {
		parent = context.Background()
	}
	if i.deadline.IsZero() {
		ctx, cancel = context.WithCancel(parent)
		return ctx, cancel, 0, true
	}
	end := i.deadline.Add(-i.m.opts.Timeout / callReserveDivisor)
	ctx, cancel = context.WithDeadline(parent, end)
	timeout = time.Until(end)
	return ctx, cancel, timeout, timeout > 0
}

// forward calls up, turning the panic of an answer cut short into an error.
func forward(up Upstream, w http.ResponseWriter, r *http.Request, timeout time.Duration) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("response cut short: %v", p)
		}
	}()
	return up(w, r, timeout)
}

func isGatewayTimeout(err error) bool {
	var he *httperr.Error
	return errors.As(err, &he) && he.Status == http.StatusGatewayTimeout
}

// http_call_result(kind i32, buf i32, buf_limit i32) -> len i32
//
// Writes part of the last http_call's outcome at buf if it fits buf_limit
// and returns its length: kind 0 the response headers (a NUL-terminated
// sequence of names and values alternating, one pair per value), 1 the
// response body, 2 the reason of a failed call. All are empty before the
// first call of a request. Another kind traps.
func (i *Instance) httpCallResult(stack []uint64) {
	const fn = "http_call_result"
	var v string
	switch kind := uint32(stack[0]); kind {
	case callResultHeaders:
		v = i.outbound.headers
	case callResultBody:
		v = i.outbound.body
	case callResultError:
		v = i.outbound.err
	default:
		i.fail("%s: unknown kind %d (0 headers, 1 body, 2 error)", fn, kind)
	}
	stack[0] = uint64(i.writeIfFits(fn, uint32(stack[1]), uint32(stack[2]), v))
}

// hostOwned are the headers a guest may not set on a call: the host frames
// the request and addresses it to the upstream's endpoint, and a guest's
// value there would disagree with what is sent.
var hostOwned = map[string]bool{"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true}

// parseCallHeaders reads "name\0value\0..." into a header.
func parseCallHeaders(b []byte) (http.Header, error) {
	h := http.Header{}
	if len(b) == 0 {
		return h, nil
	}
	if b[len(b)-1] != 0 {
		return nil, errors.New("headers must end with a NUL")
	}
	fields := strings.Split(string(b[:len(b)-1]), "\x00")
	if len(fields)%2 != 0 {
		return nil, fmt.Errorf("headers hold %d strings, want name and value pairs", len(fields))
	}
	for j := 0; j < len(fields); j += 2 {
		name, value := fields[j], fields[j+1]
		if !httpguts.ValidHeaderFieldName(name) {
			return nil, fmt.Errorf("invalid header name %q", name)
		}
		if hostOwned[http.CanonicalHeaderKey(name)] {
			return nil, fmt.Errorf("header %q is set by the host (from the upstream and the body)", name)
		}
		if !httpguts.ValidHeaderFieldValue(value) {
			return nil, fmt.Errorf("invalid value for header %q", name)
		}
		h.Add(name, value)
	}
	return h, nil
}

// encodeCallHeaders writes h as "name\0value\0" per value, names in
// lowercase (as get_header_names gives them).
func encodeCallHeaders(h http.Header) string {
	var b strings.Builder
	for name, values := range h {
		for _, v := range values {
			b.WriteString(strings.ToLower(name))
			b.WriteByte(0)
			b.WriteString(v)
			b.WriteByte(0)
		}
	}
	return b.String()
}

// callWriter holds an http_call's answer, up to MaxCallResponseBytes.
type callWriter struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	overflow bool
}

func (w *callWriter) Header() http.Header { return w.header }

func (w *callWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *callWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.body.Len()+len(p) > MaxCallResponseBytes {
		w.overflow = true
		return 0, fmt.Errorf("answer larger than %d bytes", MaxCallResponseBytes)
	}
	return w.body.Write(p)
}
