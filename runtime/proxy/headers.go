package proxy

import (
	"net/http"
	"strings"
)

// hopHeaders belong to one connection, not to the message, and are never
// forwarded (RFC 9110 §7.6.1), plus the non-standard Proxy-Connection and
// Keep-Alive. "TE: trailers" is dropped too: upstreams are HTTP/1.1, where it
// changes nothing.
var hopHeaders = [...]string{
	"Connection",
	"Proxy-Connection",
	"Keep-Alive",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// removeHopByHop deletes hop-by-hop headers from h in place, including those
// named by Connection.
func removeHopByHop(h http.Header) {
	for _, v := range h["Connection"] {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			if tok = strings.TrimSpace(tok); tok != "" {
				delete(h, http.CanonicalHeaderKey(tok))
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

// Constant header values, shared between requests. Each slice has len ==
// cap, so an Add on a header holding one reallocates instead of writing
// into the shared array.
var (
	protoHTTP  = []string{"http"}
	protoHTTPS = []string{"https"}
	noValue    = []string{""}
	upgradeVal = []string{"Upgrade"}
	teTrailers = []string{"trailers"}
	viaOnly    = []string{viaHTTP1}
)

// Via values: the protocol version the hop received, then our pseudonym.
const (
	viaHTTP1 = "1.1 sluice"
	viaHTTP2 = "2 sluice"
)

// outboundHeader builds the header sent upstream: a new map sharing r's value
// slices (which are never modified, only replaced), so r.Header stays as the
// caller knows it. Hop-by-hop headers are dropped, except the upgrade pair
// when upgrade is set, and X-Forwarded-For/-Proto/-Host and Via are added.
func outboundHeader(r *http.Request, upgrade string) http.Header {
	h := make(http.Header, len(r.Header)+4)
	for k, vv := range r.Header {
		h[k] = vv
	}
	removeHopByHop(h)
	if upgrade != "" {
		h["Connection"] = upgradeVal
		h["Upgrade"] = []string{upgrade}
	}

	// One backing array for the three values that are usually new, each
	// slice capped so that appending to one cannot overwrite the next.
	vals := make([]string, 3)
	if ip := clientIP(r.RemoteAddr); ip != "" {
		if prior := h["X-Forwarded-For"]; len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		vals[0] = ip
		h["X-Forwarded-For"] = vals[0:1:1]
	}
	if r.TLS != nil {
		h["X-Forwarded-Proto"] = protoHTTPS
	} else {
		h["X-Forwarded-Proto"] = protoHTTP
	}
	vals[1] = r.Host
	h["X-Forwarded-Host"] = vals[1:2:2]
	via := viaHTTP1
	if r.ProtoMajor == 2 {
		via = viaHTTP2
	}
	if prior := h["Via"]; len(prior) > 0 {
		h["Via"] = appendValue(prior, via)
	} else {
		vals[2] = via
		h["Via"] = vals[2:3:3]
	}
	// Without a User-Agent the transport would add Go's own.
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = noValue
	}
	return h
}

// addVia appends our Via entry to a response header.
func addVia(h http.Header) {
	if prior := h["Via"]; len(prior) > 0 {
		h["Via"] = appendValue(prior, viaHTTP1)
	} else {
		h["Via"] = viaOnly
	}
}

// appendValue returns vv plus v without writing into vv's array, which may
// be shared with the caller's header.
func appendValue(vv []string, v string) []string {
	out := make([]string, len(vv)+1)
	copy(out, vv)
	out[len(vv)] = v
	return out
}

// copyResponseHeader adds the upstream response's headers to what earlier
// stages already set on the client response.
func copyResponseHeader(dst, src http.Header) {
	for k, vv := range src {
		if old := dst[k]; len(old) > 0 {
			dst[k] = append(old[:len(old):len(old)], vv...)
		} else {
			dst[k] = vv
		}
	}
}

// isEventStream reports a text/event-stream response, which must reach the
// client event by event.
func isEventStream(h http.Header) bool {
	ct := h["Content-Type"]
	if len(ct) == 0 {
		return false
	}
	const es = "text/event-stream"
	return len(ct[0]) >= len(es) && strings.EqualFold(ct[0][:len(es)], es)
}
