package traffic

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// cacheControl is what a Cache-Control header says, as far as a shared
// cache cares (RFC 9111 5.2). Ages are seconds; -1 = absent.
type cacheControl struct {
	noStore, noCache, private, public, mustRevalidate, proxyRevalidate bool
	maxAge, sMaxAge                                                    int64
}

// parseCacheControl reads Cache-Control header values. A directive with
// field names (private="Set-Cookie", no-cache="X") is taken whole: the
// cache does not strip fields, so it treats the response as not storable.
func parseCacheControl(values []string) cacheControl {
	cc := cacheControl{maxAge: -1, sMaxAge: -1}
	for _, v := range values {
		for v != "" {
			var d string
			d, v, _ = strings.Cut(v, ",")
			name, arg, _ := strings.Cut(d, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			arg = strings.Trim(strings.TrimSpace(arg), `"`)
			switch name {
			case "no-store":
				cc.noStore = true
			case "no-cache":
				cc.noCache = true
			case "private":
				cc.private = true
			case "public":
				cc.public = true
			case "must-revalidate":
				cc.mustRevalidate = true
			case "proxy-revalidate":
				cc.proxyRevalidate = true
			case "max-age":
				cc.maxAge = parseSeconds(arg)
			case "s-maxage":
				cc.sMaxAge = parseSeconds(arg)
			}
		}
	}
	return cc
}

// parseSeconds reads a delta-seconds value; an invalid one counts as 0,
// that is stale (RFC 9111 1.2.2), never as fresh.
func parseSeconds(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		if err != nil && len(s) > 0 && strings.Trim(s, "0123456789") == "" {
			return 1<<31 - 1 // too large: as good as forever (RFC 9111 1.2.2)
		}
		return 0
	}
	return n
}

// heuristicStatus lists the statuses a cache may store without explicit
// freshness (RFC 9110 15.1), the ones the route's ttl can apply to.
func heuristicStatus(code int) bool {
	switch code {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// requestPolicy is what a request allows the cache to do.
type requestPolicy struct {
	lookup bool // may be answered from the cache
	store  bool // its response may be stored
}

// requestCachePolicy reads a request: only GET responses are stored (RFC
// 9111 2: safe methods), and HEAD is answered from them (its own responses
// have no body to keep); a Range request bypasses the cache; no-cache and
// max-age=0 ask for a fresh answer (which is then stored); no-store forbids
// storing.
func requestCachePolicy(r *http.Request) requestPolicy {
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || r.Header.Get("Range") != "" {
		return requestPolicy{}
	}
	p := requestPolicy{lookup: true, store: r.Method == http.MethodGet}
	cc := r.Header["Cache-Control"]
	if len(cc) == 0 {
		if hasToken(r.Header["Pragma"], "no-cache") {
			p.lookup = false
		}
		return p
	}
	c := parseCacheControl(cc)
	if c.noCache || c.maxAge == 0 {
		p.lookup = false
	}
	if c.noStore {
		p.lookup, p.store = false, false
	}
	return p
}

// freshness returns how long a response may be served from the cache, and
// false when it must not be stored at all. ttl caps an explicit lifetime and
// is the lifetime of a response that states none. authorized says the
// request carried credentials: then only a response marked public (or with
// s-maxage or must-revalidate, RFC 9111 3.5) is stored.
func freshness(code int, h http.Header, authorized bool, ttl time.Duration, now time.Time) (time.Duration, bool) {
	if !heuristicStatus(code) {
		return 0, false
	}
	cc := parseCacheControl(h["Cache-Control"])
	if cc.noStore || cc.private || cc.noCache {
		return 0, false // no-cache would need revalidation on every use, which this cache does not do
	}
	if authorized && !cc.public && cc.sMaxAge < 0 && !cc.mustRevalidate {
		return 0, false
	}
	if _, ok := h["Set-Cookie"]; ok {
		return 0, false // one client's cookie must not reach another
	}
	if hasToken(h["Vary"], "*") {
		return 0, false
	}
	if isEventStream(h) {
		return 0, false
	}
	life := ttl
	switch {
	case cc.sMaxAge >= 0:
		life = time.Duration(cc.sMaxAge) * time.Second
	case cc.maxAge >= 0:
		life = time.Duration(cc.maxAge) * time.Second
	case h.Get("Expires") != "":
		exp, err := http.ParseTime(h.Get("Expires"))
		if err != nil {
			return 0, false // an invalid Expires means already expired
		}
		date := now
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			date = d
		}
		life = exp.Sub(date)
	}
	if age := h.Get("Age"); age != "" {
		life -= time.Duration(parseSeconds(age)) * time.Second
	}
	life = min(life, ttl)
	return life, life > 0
}

func isEventStream(h http.Header) bool {
	ct, _, _ := strings.Cut(h.Get("Content-Type"), ";")
	return strings.EqualFold(strings.TrimSpace(ct), "text/event-stream")
}
