package sluice

import (
	"bytes"
	"errors"
	"strings"
	"unsafe"

	"github.com/sluicegw/sluice/sdk/internal/abi"
)

// CallRequest is a request a filter sends to an upstream with [Call].
type CallRequest struct {
	Method string              // "" is GET
	URI    string              // path and query, "/introspect?x=1"; "" is "/"
	Header map[string][]string // names in any case
	Body   []byte
}

// CallResponse is an upstream's whole answer to a [Call].
type CallResponse struct {
	StatusCode int
	Header     map[string][]string // names in lowercase
	Body       []byte
}

// HeaderValue returns the first value of the response header name (any
// case), "" when absent.
func (r *CallResponse) HeaderValue(name string) string {
	if vs := r.Header[strings.ToLower(name)]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// The kinds of a failed [Call]; test with errors.Is. The error's text
// gives the host's reason.
var (
	// ErrNotAllowed: the upstream is not on the filter's allow-list, the
	// `upstreams:` of the filter in the Sluice config.
	ErrNotAllowed = errors.New("upstream not allowed")
	// ErrCallTimeout: no answer before the filter's deadline. Sluice ends
	// the call a tenth of the filter's timeout early, so the filter can
	// still answer (503, say).
	ErrCallTimeout = errors.New("call timed out")
	// ErrTooLarge: the response body is larger than the host holds (1 MiB).
	ErrTooLarge = errors.New("response too large")
	// ErrUpstreamFailed: the upstream could not be reached or broke off
	// (refused, reset, no healthy endpoint). A response with any status,
	// 5xx included, is not an error.
	ErrUpstreamFailed = errors.New("upstream failed")
	// ErrInvalidCall: the request is malformed (method, URI, a header), or
	// Call was used outside a request (during initialisation).
	ErrInvalidCall = errors.New("invalid call")
	// ErrNoCalls: the host does not provide outbound calls (an http-wasm
	// host other than Sluice refuses to load a filter that uses Call, so
	// this is only seen with an unknown code).
	ErrNoCalls = errors.New("outbound calls unsupported")
)

// CallError is a failed [Call]: its kind (one of the Err variables) and the
// host's reason.
type CallError struct {
	Kind   error
	Reason string
}

func (e *CallError) Error() string { return "sluice: call: " + e.Kind.Error() + ": " + e.Reason }
func (e *CallError) Unwrap() error { return e.Kind }

var callKinds = map[int32]error{
	abi.CallNotAllowed: ErrNotAllowed,
	abi.CallTimeout:    ErrCallTimeout,
	abi.CallTooLarge:   ErrTooLarge,
	abi.CallFailed:     ErrUpstreamFailed,
	abi.CallInvalid:    ErrInvalidCall,
}

// Call sends req to the upstream named (a name under `upstreams:` in the
// Sluice config, which the filter's own `upstreams:` allow-list must hold)
// and waits for the whole answer. The host sends it through the upstream's
// pool, so its balancing, health checks, retries and TLS apply; it must end
// before the filter's deadline (`limits.timeout`, so raise it for a filter
// that calls out). Only during a request: in HandleRequest or
// HandleResponse.
func Call(upstream string, req CallRequest) (*CallResponse, error) {
	method, uri := req.Method, req.URI
	if method == "" {
		method = "GET"
	}
	if uri == "" {
		uri = "/"
	}
	var hdr strings.Builder
	for name, values := range req.Header {
		for _, v := range values {
			hdr.WriteString(name)
			hdr.WriteByte(0)
			hdr.WriteString(v)
			hdr.WriteByte(0)
		}
	}
	code := abi.HTTPCall(upstream, method, uri, hdr.String(), unsafe.String(unsafe.SliceData(req.Body), len(req.Body)))
	if code < 0 {
		kind, ok := callKinds[code]
		if !ok {
			kind = ErrNoCalls
		}
		return nil, &CallError{Kind: kind, Reason: string(callResult(abi.CallResultError))}
	}
	return &CallResponse{
		StatusCode: int(code),
		Header:     parseCallHeaders(callResult(abi.CallResultHeaders)),
		Body:       bytes.Clone(callResult(abi.CallResultBody)),
	}, nil
}

// callResult reads part of the last call's outcome into the shared buffer.
func callResult(kind abi.CallResultKind) []byte {
	return readHost(func(buf *byte, limit uint32) uint32 { return abi.HTTPCallResult(kind, buf, limit) })
}

// parseCallHeaders reads "name\0value\0..." pairs.
func parseCallHeaders(b []byte) map[string][]string {
	h := map[string][]string{}
	for len(b) > 0 {
		name, rest, ok := bytes.Cut(b, []byte{0})
		if !ok {
			break
		}
		value, rest2, ok := bytes.Cut(rest, []byte{0})
		if !ok {
			break
		}
		k := strings.ToLower(string(name))
		h[k] = append(h[k], string(value))
		b = rest2
	}
	return h
}
