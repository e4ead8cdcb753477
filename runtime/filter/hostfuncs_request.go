package filter

import (
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// needExchange fails the call when there is no request: during
// initialisation.
func (i *Instance) needExchange(fn string) {
	if i.x == nil {
		i.fail("%s: no request during initialisation", fn)
	}
}

// needRequestPhase fails a request mutation outside handle_request: once the
// next handler ran, changing the request would have no effect, and the ABI's
// reference host traps too.
func (i *Instance) needRequestPhase(fn string) {
	i.needExchange(fn)
	if i.phase != phaseRequest {
		i.fail("%s: the request can only be changed in handle_request", fn)
	}
}

// get_method(buf i32, buf_limit i32) -> len i32
func (i *Instance) getMethod(stack []uint64) {
	i.needExchange("get_method")
	m := i.x.Req.Method
	if m == "" {
		m = "GET"
	}
	stack[0] = uint64(i.writeIfFits("get_method", uint32(stack[0]), uint32(stack[1]), m))
}

// set_method(method i32, method_len i32)
//
// The method must be a non-empty HTTP token.
func (i *Instance) setMethod(stack []uint64) {
	i.needRequestPhase("set_method")
	m := i.readString("set_method", "method", uint32(stack[0]), uint32(stack[1]))
	if !httpguts.ValidHeaderFieldName(m) { // a method is a token
		i.fail("set_method: invalid method %q", truncate(m))
	}
	i.x.Req.Method = m
}

// get_uri(buf i32, buf_limit i32) -> len i32
//
// The URI is the escaped path and query of Req.URL, e.g. "/v1/hi?name=a+b";
// "/" when empty.
func (i *Instance) getURI(stack []uint64) {
	i.needExchange("get_uri")
	u := i.x.Req.URL.RequestURI()
	if u == "" {
		u = "/"
	}
	stack[0] = uint64(i.writeIfFits("get_uri", uint32(stack[0]), uint32(stack[1]), u))
}

// set_uri(uri i32, uri_len i32)
//
// Replaces the path and query of Req.URL (a URI without "?" clears the
// query). The URI must be escaped and absolute-path ("/..."); empty means "/".
func (i *Instance) setURI(stack []uint64) {
	i.needRequestPhase("set_uri")
	s := i.readString("set_uri", "uri", uint32(stack[0]), uint32(stack[1]))
	if s == "" {
		s = "/"
	}
	if !strings.HasPrefix(s, "/") || strings.ContainsAny(s, " \t\r\n\x00#") {
		i.fail("set_uri: invalid URI %q", truncate(s))
	}
	u, err := url.ParseRequestURI(s)
	if err != nil {
		i.fail("set_uri: invalid URI %q: %v", truncate(s), err)
	}
	dst := i.x.Req.URL
	dst.Path, dst.RawPath, dst.RawQuery, dst.ForceQuery = u.Path, u.RawPath, u.RawQuery, u.ForceQuery
}

// get_protocol_version(buf i32, buf_limit i32) -> len i32
//
// "HTTP/1.0", "HTTP/1.1" or "HTTP/2.0" (Req.Proto; "HTTP/1.1" if unset).
func (i *Instance) getProtocolVersion(stack []uint64) {
	i.needExchange("get_protocol_version")
	p := i.x.Req.Proto
	if p == "" {
		p = "HTTP/1.1"
	}
	stack[0] = uint64(i.writeIfFits("get_protocol_version", uint32(stack[0]), uint32(stack[1]), p))
}

// get_source_addr(buf i32, buf_limit i32) -> len i32
//
// The client address, Req.RemoteAddr, e.g. "1.2.3.4:12345" or "[::1]:80".
func (i *Instance) getSourceAddr(stack []uint64) {
	i.needExchange("get_source_addr")
	stack[0] = uint64(i.writeIfFits("get_source_addr", uint32(stack[0]), uint32(stack[1]), i.x.Req.RemoteAddr))
}

// truncate shortens a guest string quoted in an error message.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
