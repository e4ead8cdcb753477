package filter

import (
	"context"
	"encoding/binary"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Properties are Envoy's attributes (envoy's "Attributes" documentation),
// read by path: segments separated by NUL ("request\x00path"), as every
// SDK sends them; a path of one segment may also use dots
// ("request.path"). Strings are returned as bytes, integers as 8-byte
// little-endian int64, as Envoy does. Supported:
//
//	request.path, request.url_path, request.host, request.scheme,
//	request.method, request.headers (serialized pairs), request.headers.NAME, request.referer,
//	request.useragent, request.id, request.protocol, request.query,
//	request.size (Content-Length, when known)
//	response.code, response.headers.NAME, response.size (response phase)
//	source.address, source.port, destination.address, destination.port
//	plugin_name, plugin_root_id (the filter's name), plugin_vm_id ("")
//
// proxy_set_property stores any other path for the rest of the stream,
// where proxy_get_property finds it (Envoy's filter state).

// pwProperty returns the value of path, or ok=false.
func (i *Instance) pwProperty(path []string) (v []byte, ok bool) {
	key := strings.Join(path, "\x00")
	if v, ok := i.pw.props[key]; ok {
		return v, true
	}
	str := func(s string) ([]byte, bool) { return []byte(s), true }
	switch key {
	case "plugin_name", "plugin_root_id":
		return str(i.m.name)
	case "plugin_vm_id":
		return str("")
	}
	if i.x == nil || len(path) == 0 {
		return nil, false
	}
	r := i.x.Req
	switch path[0] {
	case "request":
		if len(path) == 3 && path[1] == "headers" {
			return headerProperty(r.Header, path[2])
		}
		if len(path) == 2 && path[1] == "headers" { // all of them, as header map pairs
			return pwEncodePairs(appendHeaderPairs(nil, r.Header)), true
		}
		if len(path) != 2 {
			return nil, false
		}
		switch path[1] {
		case "path":
			return str(r.URL.RequestURI())
		case "url_path":
			return str(r.URL.Path)
		case "query":
			return str(r.URL.RawQuery)
		case "host":
			return str(r.Host)
		case "scheme":
			if r.TLS != nil {
				return str("https")
			}
			return str("http")
		case "method":
			return str(r.Method)
		case "referer":
			return str(r.Referer())
		case "useragent":
			return str(r.UserAgent())
		case "protocol":
			return str(r.Proto)
		case "id":
			return str(i.x.RequestID)
		case "size":
			if r.ContentLength >= 0 {
				return int64Property(r.ContentLength)
			}
		}
	case "response":
		if i.phase != phaseResponse {
			return nil, false
		}
		if len(path) == 3 && path[1] == "headers" {
			return headerProperty(i.x.Resp.Header, path[2])
		}
		if len(path) == 2 && path[1] == "code" {
			status := i.x.Resp.Status
			if status == 0 {
				status = http.StatusOK
			}
			return int64Property(int64(status))
		}
		if len(path) == 2 && path[1] == "size" {
			return int64Property(int64(len(i.x.Resp.Body)))
		}
	case "source", "destination":
		addr := r.RemoteAddr
		if path[0] == "destination" {
			if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
				addr = a.String()
			} else {
				return nil, false
			}
		}
		if len(path) != 2 || addr == "" {
			return nil, false
		}
		switch path[1] {
		case "address":
			return str(addr)
		case "port":
			if _, port, err := net.SplitHostPort(addr); err == nil {
				if p, err := strconv.ParseInt(port, 10, 64); err == nil {
					return int64Property(p)
				}
			}
		}
	}
	return nil, false
}

func headerProperty(h http.Header, name string) ([]byte, bool) {
	vs := lookup(h, name)
	if vs == nil {
		return nil, false
	}
	return []byte(strings.Join(vs, ",")), true
}

func int64Property(v int64) ([]byte, bool) {
	return binary.LittleEndian.AppendUint64(nil, uint64(v)), true
}

// pwPath splits a property path: NUL-separated segments, or dots in a path
// without NULs.
func pwPath(p string) []string {
	p = strings.TrimSuffix(p, "\x00")
	if strings.Contains(p, "\x00") {
		return strings.Split(p, "\x00")
	}
	return strings.Split(p, ".")
}

// proxy_get_property(path i32, path_size i32, value_ptr_ptr i32, value_size_ptr i32)
func (i *Instance) pwGetProperty(ctx context.Context, stack []uint64) pwStatus {
	const fn = "proxy_get_property"
	path := pwPath(i.readString(fn, "path", uint32(stack[0]), uint32(stack[1])))
	v, ok := i.pwProperty(path)
	if !ok {
		return pwNotFound
	}
	return i.pwReturn(ctx, fn, v, uint32(stack[2]), uint32(stack[3]))
}

// proxy_set_property(path i32, path_size i32, value i32, value_size i32):
// kept for the stream (outside one, in proxy_on_tick or a queue callback,
// until the instance serves its next stream).
func (i *Instance) pwSetProperty(_ context.Context, stack []uint64) pwStatus {
	const fn = "proxy_set_property"
	path := pwPath(i.readString(fn, "path", uint32(stack[0]), uint32(stack[1])))
	value := i.view(fn, "value", uint32(stack[2]), uint32(stack[3]))
	if i.headerBytes+len(value) > maxHeaderBytes {
		i.fail("%s: more than %d bytes of properties set in one request", fn, maxHeaderBytes)
	}
	i.headerBytes += len(value)
	if i.pw.props == nil {
		i.pw.props = map[string][]byte{}
	}
	i.pw.props[strings.Join(path, "\x00")] = append([]byte(nil), value...)
	return pwOK
}
