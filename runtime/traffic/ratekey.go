package traffic

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/sluicegw/sluice/runtime/auth"
	"github.com/sluicegw/sluice/runtime/config"
)

// KeyFunc returns the rate-limit key of a request. A request without the
// key's source (no such header, no identity) gets "": such requests share one
// bucket, so leaving the header out is no way around the limit.
type KeyFunc func(r *http.Request, id *auth.Identity) string

// KeyFor returns the KeyFunc of a rate_limit key, once per route. The key
// was parsed by the config (config.ParseRateKey), which also gave an unset
// one its default.
func KeyFor(k config.RateKey) (KeyFunc, error) {
	name := k.Name
	switch k.Kind {
	case config.RateKeyClientIP:
		return clientIPKey, nil
	case config.RateKeyConsumer:
		return consumerKey, nil
	case config.RateKeyHeader:
		canon := http.CanonicalHeaderKey(name)
		return func(r *http.Request, _ *auth.Identity) string {
			if vs := r.Header[canon]; len(vs) > 0 {
				return vs[0]
			}
			return ""
		}, nil
	case config.RateKeyClaim:
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
	// Only a RateKey built by hand gets here: the config refuses bad ones.
	return nil, fmt.Errorf("rate limit key %q: not a kind of config.ParseRateKey", k)
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
