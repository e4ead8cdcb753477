package traffic

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/sluicegw/sluice/runtime/auth"
)

// KeyFunc returns the rate-limit key of a request. A request without the
// key's source (no such header, no identity) gets "": such requests share one
// bucket, so leaving the header out is no way around the limit.
type KeyFunc func(r *http.Request, id *auth.Identity) string

// ParseKey turns a rate_limit key spec into a KeyFunc, once per route:
// client_ip, consumer, header:NAME or claim:NAME.
func ParseKey(spec string) (KeyFunc, error) {
	switch spec {
	case "", "client_ip":
		return clientIPKey, nil
	case "consumer":
		return consumerKey, nil
	}
	kind, name, _ := strings.Cut(spec, ":")
	if name == "" {
		return nil, fmt.Errorf("invalid rate limit key %q", spec)
	}
	switch kind {
	case "header":
		canon := http.CanonicalHeaderKey(name)
		return func(r *http.Request, _ *auth.Identity) string {
			if vs := r.Header[canon]; len(vs) > 0 {
				return vs[0]
			}
			return ""
		}, nil
	case "claim":
		return func(_ *http.Request, id *auth.Identity) string {
			if id == nil {
				return ""
			}
			switch v := id.Claims[name].(type) {
			case nil:
				return ""
			case string:
				return v
			case fmt.Stringer: // json.Number
				return v.String()
			default:
				return fmt.Sprint(v)
			}
		}, nil
	}
	return nil, fmt.Errorf("invalid rate limit key %q", spec)
}

// clientIPKey is the host part of RemoteAddr, sliced without allocating.
func clientIPKey(r *http.Request, _ *auth.Identity) string {
	a := r.RemoteAddr
	if i := strings.LastIndexByte(a, ':'); i > 0 && !strings.HasSuffix(a[:i], ":") {
		a = a[:i]
	}
	return strings.TrimSuffix(strings.TrimPrefix(a, "["), "]")
}

// consumerKey is who the request authenticated as: the API key's consumer,
// or a token's subject.
func consumerKey(_ *http.Request, id *auth.Identity) string {
	switch {
	case id == nil:
		return ""
	case id.Consumer != "":
		return id.Consumer
	}
	return id.Subject
}
