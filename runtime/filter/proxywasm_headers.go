package filter

import (
	"context"
	"encoding/binary"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Header maps as proxy-wasm guests see them: lowercase names, the request's
// pseudo-headers :method, :path (path and query), :authority and :scheme
// first, the response's :status first; an http call's response as map
// types 6 and 7. Request maps are writable in the request phase, response
// maps in the response phase (and a local response replaces both), an
// http call's response never. A header repeated in net/http reads as its
// values joined by ",", as one field line would carry them.

// pwEncodePairs serializes header pairs as the ABI lays them out:
//
//	u32 count, count × (u32 name_len, u32 value_len),
//	then each name and value followed by a NUL
//
// Example: [("a","1")] = 01000000 01000000 01000000 'a' 00 '1' 00.
func pwEncodePairs(pairs [][2]string) []byte {
	n := 4 + 8*len(pairs)
	for _, p := range pairs {
		n += len(p[0]) + len(p[1]) + 2
	}
	b := make([]byte, 4+8*len(pairs), n)
	binary.LittleEndian.PutUint32(b, uint32(len(pairs)))
	for j, p := range pairs {
		binary.LittleEndian.PutUint32(b[4+8*j:], uint32(len(p[0])))
		binary.LittleEndian.PutUint32(b[8+8*j:], uint32(len(p[1])))
	}
	for _, p := range pairs {
		b = append(append(append(append(b, p[0]...), 0), p[1]...), 0)
	}
	return b
}

// pwDecodePairs parses pwEncodePairs' layout; ok is false when the lengths
// do not fit the buffer. An empty buffer is no pairs.
func pwDecodePairs(b []byte) (pairs [][2]string, ok bool) {
	if len(b) == 0 {
		return nil, true
	}
	if len(b) < 4 {
		return nil, false
	}
	count := binary.LittleEndian.Uint32(b)
	if uint64(count)*8+4 > uint64(len(b)) {
		return nil, false
	}
	data := b[4+8*int(count):]
	pairs = make([][2]string, 0, count)
	for j := range int(count) {
		kl := binary.LittleEndian.Uint32(b[4+8*j:])
		vl := binary.LittleEndian.Uint32(b[8+8*j:])
		if uint64(kl)+uint64(vl)+2 > uint64(len(data)) {
			return nil, false
		}
		k, v := string(data[:kl]), string(data[kl+1:kl+1+vl])
		data = data[kl+vl+2:]
		pairs = append(pairs, [2]string{k, v})
	}
	return pairs, true
}

// pwPairs returns the map of type t as pairs, or ok=false if there is none
// now (an http call's response outside its callback, a trailer map never
// sent).
func (i *Instance) pwPairs(t pwMapType) (pairs [][2]string, ok bool) {
	switch t {
	case pwRequestHeaders:
		if i.x == nil {
			return nil, false
		}
		r := i.x.Req
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		pairs = [][2]string{{":authority", r.Host}, {":path", r.URL.RequestURI()}, {":method", r.Method}, {":scheme", scheme}}
		return appendHeaderPairs(pairs, r.Header), true
	case pwResponseHeaders:
		if i.x == nil || i.pw.inReqBody { // no response yet, and the edge's to write
			return nil, false
		}
		status := i.x.Resp.Status
		if status == 0 {
			status = http.StatusOK
		}
		return appendHeaderPairs([][2]string{{":status", strconv.Itoa(status)}}, i.x.Resp.Header), true
	case pwRequestTrailers:
		if i.x == nil {
			return nil, false
		}
		return appendHeaderPairs(nil, i.x.Req.Trailer), true
	case pwResponseTrailers:
		if i.x == nil || i.pw.inReqBody {
			return nil, false
		}
		return appendHeaderPairs(nil, i.x.Resp.Trailer), true
	case pwHTTPCallResponseHeaders, pwHTTPCallResponseTrailer:
		c := i.pw.callResp
		if c == nil {
			return nil, false
		}
		if t == pwHTTPCallResponseTrailer {
			return appendHeaderPairs(nil, c.trailer), true
		}
		if c.status == 0 {
			return nil, true // the call failed: no headers, as Envoy reports it
		}
		return appendHeaderPairs([][2]string{{":status", strconv.Itoa(c.status)}}, c.header), true
	}
	return nil, false
}

// appendHeaderPairs appends h's fields, names lowercased, in a stable order.
func appendHeaderPairs(pairs [][2]string, h http.Header) [][2]string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			pairs = append(pairs, [2]string{strings.ToLower(k), v})
		}
	}
	return pairs
}

// pwWritable returns the http.Header that map t's writes go to (creating
// it), or a status when t cannot be written now.
func (i *Instance) pwWritable(t pwMapType) (http.Header, pwStatus) {
	if i.x == nil {
		return nil, pwNotFound
	}
	if i.pw.inReqBody {
		// A body callback after the request went on runs on the upstream
		// transport's goroutine: the request's headers are sent and the
		// response's belong to the edge. Envoy refuses such writes too.
		return nil, pwBadArgument
	}
	var h *http.Header
	switch t {
	case pwRequestHeaders, pwRequestTrailers:
		if i.phase != phaseRequest {
			return nil, pwBadArgument // the request went on already
		}
		h = &i.x.Req.Header
		if t == pwRequestTrailers {
			h = &i.x.Req.Trailer
		}
	case pwResponseHeaders, pwResponseTrailers:
		if t == pwResponseHeaders && i.pw.respStream && !i.pw.respHeld {
			return nil, pwBadArgument // sent: the body is streaming
		}
		h = &i.x.Resp.Header
		if t == pwResponseTrailers {
			h = &i.x.Resp.Trailer
		}
	default:
		return nil, pwBadArgument
	}
	if *h == nil {
		*h = http.Header{}
	}
	return *h, pwOK
}

// pwCheckHeader validates a field a guest writes and counts it against the
// exchange's header budget (maxHeaderBytes), which a guest cannot exceed.
func (i *Instance) pwCheckHeader(fn, name, value string) pwStatus {
	if !strings.HasPrefix(name, ":") && !httpguts.ValidHeaderFieldName(name) || !httpguts.ValidHeaderFieldValue(value) {
		return pwBadArgument
	}
	if i.headerBytes+len(name)+len(value) > maxHeaderBytes {
		i.fail("%s: more than %d header bytes set in one request", fn, maxHeaderBytes)
	}
	i.headerBytes += len(name) + len(value)
	return pwOK
}

// pwSetField sets (or, with add, adds) one field of map t, pseudo-headers
// included.
func (i *Instance) pwSetField(fn string, t pwMapType, name, value string, add bool) pwStatus {
	h, st := i.pwWritable(t)
	if st != pwOK {
		return st
	}
	name = strings.ToLower(name)
	if st := i.pwCheckHeader(fn, name, value); st != pwOK {
		return st
	}
	if strings.HasPrefix(name, ":") {
		return i.pwSetPseudo(t, name, value)
	}
	if t == pwRequestHeaders && name == "host" {
		i.x.Req.Host = value
		return pwOK
	}
	key := textproto.CanonicalMIMEHeaderKey(name)
	if !add {
		deleteFold(h, key)
	}
	h[key] = append(h[key], value)
	return pwOK
}

// pwSetPseudo writes a pseudo-header into the request line or the status.
func (i *Instance) pwSetPseudo(t pwMapType, name, value string) pwStatus {
	r := i.x.Req
	switch {
	case t == pwRequestHeaders && name == ":path":
		u, err := url.ParseRequestURI(value)
		if err != nil || u.Host != "" || u.Scheme != "" {
			return pwBadArgument
		}
		r.URL.Path, r.URL.RawPath, r.URL.RawQuery = u.Path, u.RawPath, u.RawQuery
	case t == pwRequestHeaders && name == ":method":
		if !httpguts.ValidHeaderFieldName(value) { // a token, as a method is
			return pwBadArgument
		}
		r.Method = value
	case t == pwRequestHeaders && name == ":authority":
		r.Host = value
	case t == pwRequestHeaders && name == ":scheme":
		if (value == "https") != (r.TLS != nil) || value != "https" && value != "http" {
			return pwBadArgument // the scheme is the connection's: it can be set only to itself
		}
	case t == pwResponseHeaders && name == ":status":
		code, err := strconv.Atoi(value)
		if err != nil || code < 100 || code > 999 {
			return pwBadArgument
		}
		i.x.Resp.Status = code
	default:
		return pwBadArgument // a pseudo-header the map has not
	}
	return pwOK
}

// proxy_get_header_map_pairs(type i32, ptr_ptr i32, size_ptr i32)
func (i *Instance) pwGetHeaderMapPairs(ctx context.Context, stack []uint64) pwStatus {
	pairs, ok := i.pwPairs(pwMapType(stack[0]))
	if !ok {
		return pwNotFound
	}
	return i.pwReturn(ctx, "proxy_get_header_map_pairs", pwEncodePairs(pairs), uint32(stack[1]), uint32(stack[2]))
}

// proxy_get_header_map_size(type i32, size_ptr i32): the serialized size.
func (i *Instance) pwGetHeaderMapSize(_ context.Context, stack []uint64) pwStatus {
	pairs, ok := i.pwPairs(pwMapType(stack[0]))
	if !ok {
		return pwNotFound
	}
	i.pwPutU32("proxy_get_header_map_size", uint32(stack[1]), uint32(len(pwEncodePairs(pairs))))
	return pwOK
}

// proxy_set_header_map_pairs(type i32, ptr i32, size i32): replaces the
// whole map (pseudo-headers given are applied, absent ones kept). A pair
// that cannot be set leaves the map and the request line as they were.
func (i *Instance) pwSetHeaderMapPairs(_ context.Context, stack []uint64) pwStatus {
	const fn = "proxy_set_header_map_pairs"
	t := pwMapType(stack[0])
	pairs, ok := pwDecodePairs(i.view(fn, "pairs", uint32(stack[1]), uint32(stack[2])))
	if !ok {
		return pwParseFailure
	}
	h, st := i.pwWritable(t)
	if st != pwOK {
		return st
	}
	saved := h.Clone()
	r, resp := i.x.Req, i.x.Resp
	method, host, u, status := r.Method, r.Host, *r.URL, resp.Status
	clear(h)
	for _, p := range pairs {
		if st := i.pwSetField(fn, t, p[0], p[1], true); st != pwOK {
			replaceHeaderMap(h, saved)
			r.Method, r.Host, *r.URL, resp.Status = method, host, u, status
			return st
		}
	}
	return pwOK
}

func replaceHeaderMap(dst, src http.Header) {
	clear(dst)
	for k, v := range src {
		dst[k] = v
	}
}

// proxy_get_header_map_value(type i32, key i32, key_size i32, value_ptr_ptr i32, value_size_ptr i32)
func (i *Instance) pwGetHeaderMapValue(ctx context.Context, stack []uint64) pwStatus {
	const fn = "proxy_get_header_map_value"
	name := strings.ToLower(i.readString(fn, "key", uint32(stack[1]), uint32(stack[2])))
	pairs, ok := i.pwPairs(pwMapType(stack[0]))
	if !ok {
		return pwNotFound
	}
	var values []string
	for _, p := range pairs {
		if p[0] == name {
			values = append(values, p[1])
		}
	}
	if values == nil {
		return pwNotFound
	}
	return i.pwReturn(ctx, fn, []byte(strings.Join(values, ",")), uint32(stack[3]), uint32(stack[4]))
}

// proxy_add_header_map_value(type i32, key i32, key_size i32, value i32, value_size i32)
func (i *Instance) pwAddHeaderMapValue(_ context.Context, stack []uint64) pwStatus {
	const fn = "proxy_add_header_map_value"
	name := i.readString(fn, "key", uint32(stack[1]), uint32(stack[2]))
	value := i.readString(fn, "value", uint32(stack[3]), uint32(stack[4]))
	return i.pwSetField(fn, pwMapType(stack[0]), name, value, true)
}

// proxy_replace_header_map_value(type i32, key i32, key_size i32, value i32, value_size i32)
func (i *Instance) pwReplaceHeaderMapValue(_ context.Context, stack []uint64) pwStatus {
	const fn = "proxy_replace_header_map_value"
	name := i.readString(fn, "key", uint32(stack[1]), uint32(stack[2]))
	value := i.readString(fn, "value", uint32(stack[3]), uint32(stack[4]))
	return i.pwSetField(fn, pwMapType(stack[0]), name, value, false)
}

// proxy_remove_header_map_value(type i32, key i32, key_size i32)
func (i *Instance) pwRemoveHeaderMapValue(_ context.Context, stack []uint64) pwStatus {
	const fn = "proxy_remove_header_map_value"
	name := strings.ToLower(i.readString(fn, "key", uint32(stack[1]), uint32(stack[2])))
	h, st := i.pwWritable(pwMapType(stack[0]))
	if st != pwOK {
		return st
	}
	if strings.HasPrefix(name, ":") {
		return pwBadArgument
	}
	deleteFold(h, name)
	return pwOK
}
