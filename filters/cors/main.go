// Command cors implements CORS at the gateway. It answers preflight requests
// itself (204 with the Access-Control-Allow-* headers, or 403 for an origin,
// method or header it does not allow) and adds the CORS headers to the
// responses of actual cross-origin requests, replacing any the upstream set.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicegw/sluice/filters/internal/httpx"
	sluice "github.com/sluicegw/sluice/sdk"
)

func main() {} // never called: a filter runs from init (see the SDK docs)

// Not sluice.Stateless: HandleResponse reads what HandleRequest found of
// the Origin (f.origin, f.allowValue), so both must run on one instance.
func init() { sluice.HandleNew(newCORS) }

// config is the filter's `config:`.
type config struct {
	// AllowedOrigins are exact origins ("https://app.example.com"),
	// subdomain patterns ("https://*.example.com") or "*" for any.
	AllowedOrigins []string `json:"allowed_origins"`
	// AllowedMethods default to GET, HEAD and POST.
	AllowedMethods []string `json:"allowed_methods"`
	// AllowedHeaders are the request headers a page may send; "*" allows
	// any.
	AllowedHeaders []string `json:"allowed_headers"`
	// ExposedHeaders are the response headers a page may read.
	ExposedHeaders []string `json:"exposed_headers"`
	// AllowCredentials lets pages send cookies and credentials.
	AllowCredentials bool `json:"allow_credentials"`
	// MaxAge is how long a browser may cache a preflight answer: seconds or
	// a Go duration ("10m"). Zero sends no Access-Control-Max-Age.
	MaxAge maxAge `json:"max_age"`
}

type maxAge time.Duration

func (m *maxAge) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case float64:
		*m = maxAge(time.Duration(v * float64(time.Second)))
	case string:
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("max_age: %w", err)
		}
		*m = maxAge(d)
	default:
		return errors.New("max_age: want seconds or a duration such as \"10m\"")
	}
	if *m < 0 {
		return errors.New("max_age: negative")
	}
	return nil
}

type cors struct {
	anyOrigin   bool
	exact       []string // lowercase origins
	suffixes    []string // "https://" + "*.example.com" stored as scheme and ".example.com"
	schemes     []string
	credentials bool
	methods     []string
	anyHeader   bool
	headers     []string // lowercase
	allowMeths  string   // header values, built once
	allowHdrs   string
	expose      string
	maxAge      string

	// The current request's answer, for the response phase.
	origin     bool   // the request had an Origin header
	allowValue string // Access-Control-Allow-Origin to send, "" when not allowed
}

func newCORS() (sluice.Filter, error) {
	c := config{AllowedMethods: []string{"GET", "HEAD", "POST"}}
	if err := sluice.Config(&c); err != nil {
		return nil, err
	}
	f := &cors{credentials: c.AllowCredentials}
	if len(c.AllowedOrigins) == 0 {
		return nil, errors.New("config: allowed_origins: empty: list origins, or \"*\"")
	}
	for _, o := range c.AllowedOrigins {
		switch scheme, host, ok := strings.Cut(strings.ToLower(o), "://"); {
		case o == "*":
			f.anyOrigin = true
		case !ok || scheme == "" || host == "" || strings.ContainsAny(host, "/?#@ ") || strings.Contains(host[1:], "*"):
			return nil, fmt.Errorf("config: allowed_origins: %q is not an origin (scheme://host[:port]), a pattern (https://*.example.com) or \"*\"", o)
		case strings.HasPrefix(host, "*."):
			f.schemes = append(f.schemes, scheme+"://")
			f.suffixes = append(f.suffixes, host[1:])
		case strings.HasPrefix(host, "*"):
			return nil, fmt.Errorf("config: allowed_origins: %q: a pattern starts with \"*.\"", o)
		default:
			f.exact = append(f.exact, scheme+"://"+host)
		}
	}
	if f.anyOrigin && f.credentials {
		return nil, errors.New("config: allow_credentials with allowed_origins \"*\" would let any site make authenticated requests: list the origins")
	}
	for _, m := range c.AllowedMethods {
		if !httpx.ValidName(m) {
			return nil, fmt.Errorf("config: allowed_methods: %q is not a method", m)
		}
		f.methods = append(f.methods, strings.ToUpper(m))
	}
	for _, h := range c.AllowedHeaders {
		if h == "*" {
			f.anyHeader = true
			continue
		}
		if !httpx.ValidName(h) {
			return nil, fmt.Errorf("config: allowed_headers: %q is not a header name", h)
		}
		f.headers = append(f.headers, strings.ToLower(h))
	}
	for _, h := range c.ExposedHeaders {
		if !httpx.ValidName(h) {
			return nil, fmt.Errorf("config: exposed_headers: %q is not a header name", h)
		}
	}
	f.allowMeths = strings.Join(f.methods, ", ")
	f.allowHdrs = strings.Join(c.AllowedHeaders, ", ")
	f.expose = strings.Join(c.ExposedHeaders, ", ")
	if s := time.Duration(c.MaxAge) / time.Second; s > 0 {
		f.maxAge = strconv.FormatInt(int64(s), 10)
	}
	return f, nil
}

// allowOrigin returns the Access-Control-Allow-Origin value for origin, ""
// when it is not allowed.
func (f *cors) allowOrigin(origin string) string {
	if origin == "" || !httpx.ValidValue(origin) {
		return ""
	}
	if f.anyOrigin {
		return "*" // never with credentials: refused at load
	}
	o := strings.ToLower(origin)
	for _, e := range f.exact {
		if o == e {
			return origin
		}
	}
	for i, s := range f.suffixes {
		if rest, ok := strings.CutPrefix(o, f.schemes[i]); ok && len(rest) > len(s) && strings.HasSuffix(rest, s) {
			if host := strings.TrimSuffix(rest, s); !strings.ContainsAny(host, "/:@") {
				return origin
			}
		}
	}
	return ""
}

func (f *cors) HandleRequest(req sluice.Request, resp sluice.Response) bool {
	origin, ok := req.Header().Get("Origin")
	f.origin, f.allowValue = ok, ""
	if !ok {
		return true // not a cross-origin request
	}
	f.allowValue = f.allowOrigin(origin)
	if req.Method() != "OPTIONS" {
		return true // an actual request: headers added in the response phase
	}
	method, ok := req.Header().Get("Access-Control-Request-Method")
	if !ok {
		return true // a plain OPTIONS request, not a preflight
	}
	return f.preflight(req, resp, method)
}

// preflight answers a preflight request.
func (f *cors) preflight(req sluice.Request, resp sluice.Response, method string) bool {
	h := resp.Header()
	h.Set("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
	if f.allowValue == "" {
		httpx.Error(resp, 403, "CORS: origin not allowed", "")
		return false
	}
	if !slices.Contains(f.methods, method) {
		httpx.Error(resp, 403, "CORS: method not allowed", "")
		return false
	}
	requested := strings.Join(req.Header().Values("Access-Control-Request-Headers"), ",")
	for _, name := range strings.Split(requested, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "" && !f.anyHeader && !slices.Contains(f.headers, name) {
			httpx.Error(resp, 403, "CORS: header "+name+" not allowed", "")
			return false
		}
	}
	resp.SetStatusCode(204)
	h.Set("Access-Control-Allow-Origin", f.allowValue)
	h.Set("Access-Control-Allow-Methods", f.allowMeths)
	switch {
	case f.anyHeader && strings.TrimSpace(requested) != "":
		h.Set("Access-Control-Allow-Headers", requested) // "*" is not honoured with credentials
	case f.allowHdrs != "":
		h.Set("Access-Control-Allow-Headers", f.allowHdrs)
	}
	if f.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if f.maxAge != "" {
		h.Set("Access-Control-Max-Age", f.maxAge)
	}
	return false
}

// HandleResponse sets the CORS headers of an actual request's response. The
// gateway owns CORS: whatever the upstream sent is replaced.
func (f *cors) HandleResponse(_ sluice.Request, resp sluice.Response, _ bool) {
	if !f.origin {
		return
	}
	h := resp.Header()
	for _, n := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Expose-Headers"} {
		h.Remove(n)
	}
	if !f.anyOrigin && !varies(h.Values("Vary"), "origin") {
		h.Add("Vary", "Origin") // the answer depends on the origin: caches must key on it
	}
	if f.allowValue == "" {
		return
	}
	h.Set("Access-Control-Allow-Origin", f.allowValue)
	if f.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if f.expose != "" {
		h.Set("Access-Control-Expose-Headers", f.expose)
	}
}

// varies reports whether Vary values already name the header (or "*").
func varies(values []string, name string) bool {
	for _, v := range values {
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n == "*" || strings.EqualFold(n, name) {
				return true
			}
		}
	}
	return false
}
