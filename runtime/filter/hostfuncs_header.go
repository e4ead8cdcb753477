package filter

import (
	"net/http"
	"net/textproto"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// The header functions take a header_kind (i32): 0 request headers,
// 1 response headers, 2 request trailers, 3 response trailers. Trailer kinds
// need FeatureTrailers: without it reads are empty and writes fail, as the
// ABI says. Names are matched case-insensitively; get_header_names returns
// them in lowercase, sorted. The request's Host (not a header in net/http)
// reads and writes as the "host" request header.

// headerMap returns the map for kind, or nil for a trailer read without the
// feature. Writes create missing maps and enforce the phase rules: request
// headers and trailers only in handle_request; response headers and trailers
// in either phase (a guest answering in handle_request writes them).
func (i *Instance) headerMap(fn string, kind headerKind, write bool) http.Header {
	i.needExchange(fn)
	if kind == headerRequestTrailers || kind == headerResponseTrailers {
		if !i.Features().Has(FeatureTrailers) {
			if write {
				i.fail("%s: trailers need the trailers feature (enable_features(4))", fn)
			}
			return nil
		}
	}
	x := i.x
	var h *http.Header
	switch kind {
	case headerRequest:
		h = &x.Req.Header
	case headerResponse:
		h = &x.Resp.Header
	case headerRequestTrailers:
		h = &x.Req.Trailer
	case headerResponseTrailers:
		h = &x.Resp.Trailer
	default:
		i.fail("%s: invalid header kind %d", fn, kind)
	}
	if write {
		if (kind == headerRequest || kind == headerRequestTrailers) && i.phase != phaseRequest {
			i.fail("%s: request headers can only be changed in handle_request", fn)
		}
		if *h == nil {
			*h = http.Header{}
		}
	}
	return *h
}

// get_header_names(kind i32, buf i32, buf_limit i32) -> count_len i64
func (i *Instance) getHeaderNames(stack []uint64) {
	const fn = "get_header_names"
	kind := headerKind(uint32(stack[0]))
	h := i.headerMap(fn, kind, false)
	names := make([]string, 0, len(h)+1)
	for k, v := range h {
		if len(v) > 0 {
			names = append(names, k)
		}
	}
	if kind == headerRequest && i.x.Req.Host != "" && len(h["Host"]) == 0 {
		names = append(names, "host")
	}
	slices.SortFunc(names, compareFold)
	stack[0] = i.writeNULTerminated(fn, uint32(stack[1]), uint32(stack[2]), names, true)
}

// get_header_values(kind i32, name i32, name_len i32, buf i32, buf_limit i32) -> count_len i64
func (i *Instance) getHeaderValues(stack []uint64) {
	const fn = "get_header_values"
	kind := headerKind(uint32(stack[0]))
	name := i.headerName(fn, uint32(stack[1]), uint32(stack[2]))
	h := i.headerMap(fn, kind, false)
	var values []string
	if kind == headerRequest && strings.EqualFold(name, "host") && len(h["Host"]) == 0 {
		if i.x.Req.Host != "" {
			values = []string{i.x.Req.Host}
		}
	} else {
		values = lookup(h, name)
	}
	stack[0] = i.writeNULTerminated(fn, uint32(stack[3]), uint32(stack[4]), values, false)
}

// set_header_value(kind i32, name i32, name_len i32, value i32, value_len i32)
//
// Replaces all values of the header with one.
func (i *Instance) setHeaderValue(stack []uint64) {
	const fn = "set_header_value"
	kind, name, value := i.headerWrite(fn, stack)
	h := i.headerMap(fn, kind, true)
	if kind == headerRequest && strings.EqualFold(name, "host") {
		i.x.Req.Host = value
		return
	}
	deleteFold(h, name)
	h[name] = []string{value}
}

// add_header_value(kind i32, name i32, name_len i32, value i32, value_len i32)
//
// Adds one value to the header.
func (i *Instance) addHeaderValue(stack []uint64) {
	const fn = "add_header_value"
	kind, name, value := i.headerWrite(fn, stack)
	h := i.headerMap(fn, kind, true)
	if kind == headerRequest && strings.EqualFold(name, "host") {
		i.x.Req.Host = value // a request has one host
		return
	}
	h[name] = append(h[name], value)
}

// remove_header(kind i32, name i32, name_len i32)
func (i *Instance) removeHeader(stack []uint64) {
	const fn = "remove_header"
	kind := headerKind(uint32(stack[0]))
	name := i.headerName(fn, uint32(stack[1]), uint32(stack[2]))
	h := i.headerMap(fn, kind, true)
	if kind == headerRequest && strings.EqualFold(name, "host") {
		i.x.Req.Host = ""
	}
	deleteFold(h, name)
}

// headerWrite reads and validates the name and value of a set or add, and
// charges them to the exchange's header budget.
func (i *Instance) headerWrite(fn string, stack []uint64) (headerKind, string, string) {
	kind := headerKind(uint32(stack[0]))
	name := i.headerName(fn, uint32(stack[1]), uint32(stack[2]))
	vlen := uint32(stack[4])
	if i.headerBytes+len(name)+int(vlen) > maxHeaderBytes {
		i.fail("%s: more than %d bytes of headers written in one request", fn, maxHeaderBytes)
	}
	value := i.readString(fn, "value", uint32(stack[3]), vlen)
	if !httpguts.ValidHeaderFieldValue(value) { // no CR, LF or other control characters but tab
		i.fail("%s: invalid value for %q: control characters", fn, name)
	}
	i.headerBytes += len(name) + len(value)
	return kind, name, value
}

// headerName reads a header name, which must be a non-empty HTTP token, and
// returns it in canonical form (the key net/http uses). Guests pass the same
// few names on every request, usually in lower case, so each instance
// remembers the canonical form of the names it has seen: the lookup by the
// bytes in guest memory allocates nothing, where copying the name and
// canonicalising it allocated twice per call.
func (i *Instance) headerName(fn string, ptr, n uint32) string {
	if n == 0 {
		i.fail("%s: empty header name", fn)
	}
	if n > maxHeaderBytes {
		i.fail("%s: header name of %d bytes", fn, n)
	}
	raw := i.view(fn, "name", ptr, n)
	if key, ok := i.names[string(raw)]; ok {
		return key
	}
	name := string(raw)
	if !httpguts.ValidHeaderFieldName(name) {
		i.fail("%s: invalid header name %q", fn, truncate(name))
	}
	key := textproto.CanonicalMIMEHeaderKey(name)
	if i.names == nil {
		i.names = make(map[string]string)
	}
	if len(i.names) < maxRememberedNames {
		i.names[name] = key
	}
	return key
}

// maxRememberedNames bounds an instance's name cache, so a guest inventing
// header names cannot grow it without limit.
const maxRememberedNames = 256

// compareFold orders strings as their ASCII lower-case forms would be
// ordered, without building those forms.
func compareFold(a, b string) int {
	for j := 0; j < len(a) && j < len(b); j++ {
		ca, cb := lowerASCII(a[j]), lowerASCII(b[j])
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// writeNULTerminated writes the strings, each followed by NUL, at buf when
// they fit limit, and returns count_len either way.
func (i *Instance) writeNULTerminated(fn string, buf, limit uint32, ss []string, lower bool) uint64 {
	total := 0
	for _, s := range ss {
		total += len(s) + 1
	}
	if total == 0 {
		return 0
	}
	if uint64(total) <= uint64(limit) {
		dst := i.view(fn, "buf", buf, uint32(total))
		off := 0
		for _, s := range ss {
			n := copy(dst[off:], s)
			if lower {
				for j := off; j < off+n; j++ {
					if c := dst[j]; 'A' <= c && c <= 'Z' {
						dst[j] = c + 'a' - 'A'
					}
				}
			}
			dst[off+n] = 0
			off += n + 1
		}
	}
	return packCountLen(uint32(len(ss)), uint32(total))
}

// lookup returns the values of the header with canonical key name,
// matching other spellings of it case-insensitively.
func lookup(h http.Header, name string) []string {
	if v, ok := h[name]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// deleteFold removes the canonical key name and every key equal to it
// ignoring case, so that a non-canonical key (set directly on the map) does
// not survive a set.
func deleteFold(h http.Header, name string) {
	delete(h, name)
	for k := range h {
		if strings.EqualFold(k, name) {
			delete(h, k)
		}
	}
}
