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

// hasToken reports whether a comma-separated header holds token, ignoring case.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(tok), token) {
				return true
			}
		}
	}
	return false
}

// Constant header values, shared between requests. Each slice has len ==
// cap, so an Add on a header holding one reallocates instead of writing
// into the shared array.
var (
	protoHTTP  = []string{"http"}
	protoHTTPS = []string{"https"}
	noValue    = []string{""}
	upgradeVal = []string{"Upgrade"}
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

	if ip := clientIP(r.RemoteAddr); ip != "" {
		if prior := h["X-Forwarded-For"]; len(prior) > 0 {
			h["X-Forwarded-For"] = []string{strings.Join(prior, ", ") + ", " + ip}
		} else {
			h["X-Forwarded-For"] = []string{ip}
		}
	}
	if r.TLS != nil {
		h["X-Forwarded-Proto"] = protoHTTPS
	} else {
		h["X-Forwarded-Proto"] = protoHTTP
	}
	h["X-Forwarded-Host"] = []string{r.Host}
	via := viaHTTP1
	if r.ProtoMajor == 2 {
		via = viaHTTP2
	}
	h["Via"] = appendValue(h["Via"], via)
	// Without a User-Agent the transport would add Go's own.
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = noValue
	}
	return h
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

// upgradeProtocol returns the protocol an HTTP/1 request asks to switch to
// (Connection: upgrade plus Upgrade: X), or "". HTTP/2 has no Upgrade.
func upgradeProtocol(r *http.Request) string {
	if r.ProtoMajor != 1 || !hasToken(r.Header["Connection"], "upgrade") {
		return ""
	}
	if vs := r.Header["Upgrade"]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}
