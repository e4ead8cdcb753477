package filterkit

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicegw/sluice/runtime/filter"
)

// TryOptions describe one run of a filter on one request.
type TryOptions struct {
	// Name is the filter's name in errors and logs.
	Name string
	// Config is the filter's config as JSON; nil for none.
	Config []byte
	// Request is an HTTP/1.1 request as text: request line, headers, a
	// blank line, then the body (LF line ends are fine). Without a
	// Content-Length header, everything after the blank line is the body.
	Request []byte
	// Response is the upstream's response as text, in the same form, for
	// the response phase; nil means "200 OK" with an empty body.
	Response []byte
	// RemoteAddr is the client address the filter sees; "" means
	// 192.0.2.1:40000 (a documentation address).
	RemoteAddr string
	// Upstreams are the upstreams the filter's outbound calls may reach,
	// by name (filter.URLUpstream: `--upstream NAME=URL`); nil: none.
	Upstreams map[string]filter.Upstream
	// Timeout bounds each guest call, outbound calls included; 0 is a
	// node's default for a filter without limits.
	Timeout time.Duration
}

// TryResult is what one run did.
type TryResult struct {
	// Next is true when the filter passed the request on; Upstream is then
	// the request as the upstream would receive it, with UpstreamBody.
	Next         bool
	Upstream     *http.Request
	UpstreamBody []byte
	// Response is what the client receives: the filter's own answer, or the
	// upstream response after the filter's response phase.
	Response *filter.Response
}

// Try loads wasm as a gateway would and runs it on one request: the request
// phase, then (when the filter passes the request on) the response phase on
// the given upstream response.
func Try(ctx context.Context, rt *filter.Runtime, wasm []byte, opts TryOptions) (*TryResult, error) {
	req, err := ParseRequest(opts.Request)
	if err != nil {
		return nil, err
	}
	req.RemoteAddr = opts.RemoteAddr
	if req.RemoteAddr == "" {
		req.RemoteAddr = "192.0.2.1:40000"
	}
	upstream, upstreamBody, err := ParseResponse(opts.Response)
	if err != nil {
		return nil, err
	}
	name := opts.Name
	if name == "" {
		name = "filter"
	}
	m, err := rt.Load(ctx, wasm, filter.ModuleOptions{Name: name, Config: configOrEmpty(opts.Config), Upstreams: opts.Upstreams, Timeout: opts.Timeout})
	if err != nil {
		return nil, err
	}
	defer m.Close(ctx)
	inst, err := m.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer m.Release(inst)

	x := filter.NewExchange(req)
	next, err := inst.HandleRequest(ctx, x)
	if err != nil {
		return nil, err
	}
	res := &TryResult{Next: next, Response: x.Resp}
	if !next {
		return res, nil
	}
	if res.UpstreamBody, err = io.ReadAll(x.Req.Body); err != nil {
		return nil, fmt.Errorf("read the request body the filter passed on: %w", err)
	}
	res.Upstream = x.Req

	// As the edge does: the upstream's headers go over those the filter set
	// in the request phase, the body the filter wrote in the request phase
	// comes before the upstream's, and that body is visible to the guest
	// only when it asked to buffer the response.
	resp := x.Resp
	for k, vs := range resp.Header {
		if _, ok := upstream.Header[k]; !ok {
			upstream.Header[k] = vs
		}
	}
	resp.Header, resp.Status = upstream.Header, upstream.StatusCode
	body := append(resp.TakeRequestPhaseBody(), upstreamBody...)
	buffered := inst.Features().Has(filter.FeatureBufferResponse)
	if buffered {
		resp.Body = body
	}
	if err := inst.HandleResponse(ctx, x, false); err != nil {
		return nil, err
	}
	if !resp.BodyWritten && !buffered {
		resp.Body = body
	}
	return res, nil
}

// ParseRequest reads a request written as text. The body is what follows
// the blank line when no Content-Length says otherwise.
func ParseRequest(raw []byte) (*http.Request, error) {
	head, body := splitMessage(raw)
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
	if err != nil {
		return nil, fmt.Errorf("request file: %w", err)
	}
	body = bodyOf(req.Header, body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.TransferEncoding = nil
	req.RequestURI = ""
	return req, nil
}

// ParseResponse reads an upstream response written as text; nil or empty
// raw is a 200 with no body.
func ParseResponse(raw []byte) (*http.Response, []byte, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}}, nil, nil
	}
	head, body := splitMessage(raw)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(head)), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("response file: %w", err)
	}
	resp.Header.Del("Transfer-Encoding")
	return resp, bodyOf(resp.Header, body), nil
}

// splitMessage cuts a message at its first blank line and ends the head
// with one, so the standard parser reads only headers from it.
func splitMessage(raw []byte) (head, body []byte) {
	for _, sep := range []string{"\r\n\r\n", "\n\n"} {
		if i := bytes.Index(raw, []byte(sep)); i >= 0 {
			return append(bytes.Clone(raw[:i]), "\r\n\r\n"...), raw[i+len(sep):]
		}
	}
	return append(bytes.TrimRight(bytes.Clone(raw), "\r\n"), "\r\n\r\n"...), nil
}

// bodyOf honours a Content-Length header (cutting what follows) and sets it
// to the body's length otherwise.
func bodyOf(h http.Header, body []byte) []byte {
	if cl := h.Get("Content-Length"); cl != "" {
		if n, err := strconv.Atoi(cl); err == nil && n >= 0 && n <= len(body) {
			return body[:n]
		}
	}
	if len(body) > 0 {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	return body
}

// Print writes a result the way a person reads HTTP: what went upstream (if
// anything) and what the client gets.
func Print(w io.Writer, res *TryResult) {
	if res.Next {
		fmt.Fprintln(w, "--- request passed on to the upstream")
		r := res.Upstream
		fmt.Fprintf(w, "%s %s %s\n", r.Method, r.URL.RequestURI(), r.Proto)
		if r.Host != "" {
			fmt.Fprintf(w, "Host: %s\n", r.Host)
		}
		writeHeaders(w, r.Header, res.UpstreamBody)
		fmt.Fprintln(w, "--- response to the client (after the response phase)")
	} else {
		fmt.Fprintln(w, "--- answered by the filter (no upstream call)")
	}
	status := res.Response.Status
	if status == 0 {
		status = http.StatusOK
	}
	fmt.Fprintf(w, "HTTP/1.1 %d %s\n", status, http.StatusText(status))
	writeHeaders(w, res.Response.Header, res.Response.Body)
}

func writeHeaders(w io.Writer, h http.Header, body []byte) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(w, "%s: %s\n", textproto.CanonicalMIMEHeaderKey(k), v)
		}
	}
	fmt.Fprintln(w)
	if len(body) > 0 {
		s := string(body)
		fmt.Fprint(w, s)
		if !strings.HasSuffix(s, "\n") {
			fmt.Fprintln(w)
		}
	}
}
