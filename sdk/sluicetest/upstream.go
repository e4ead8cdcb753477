package sluicetest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	sluice "github.com/sluicegw/sluice/sdk"
	"github.com/sluicegw/sluice/sdk/internal/abi"
)

// WithUpstream puts the upstream name on the filter's allow-list and
// answers the filter's [sluice.Call]s to it with h, in memory (no network):
// h sees the call's method, URI, headers and body as an *http.Request.
// Without it, every Call fails with [sluice.ErrNotAllowed], as on a node
// whose config lists no `upstreams:` for the filter.
func WithUpstream(name string, h http.Handler) Option {
	return func(o *options) { o.upstreams = withUpstream(o.upstreams, name, upstreamStub{handler: h}) }
}

// WithUpstreamError makes every [sluice.Call] to name fail with err, one of
// sluice.ErrCallTimeout, ErrTooLarge, ErrUpstreamFailed or ErrNotAllowed:
// how a test sees its filter handle an upstream that is slow or down.
func WithUpstreamError(name string, err error) Option {
	return func(o *options) { o.upstreams = withUpstream(o.upstreams, name, upstreamStub{err: err}) }
}

type upstreamStub struct {
	handler http.Handler
	err     error
}

func withUpstream(m map[string]upstreamStub, name string, s upstreamStub) map[string]upstreamStub {
	if m == nil {
		m = map[string]upstreamStub{}
	}
	m[name] = s
	return m
}

var errorCodes = map[error]int32{
	sluice.ErrNotAllowed:     abi.CallNotAllowed,
	sluice.ErrCallTimeout:    abi.CallTimeout,
	sluice.ErrTooLarge:       abi.CallTooLarge,
	sluice.ErrUpstreamFailed: abi.CallFailed,
	sluice.ErrInvalidCall:    abi.CallInvalid,
}

// callHandler serves the in-memory host's http_call from the stubs.
func callHandler(stubs map[string]upstreamStub) func(upstream, method, uri string, header map[string][]string, body []byte) (int32, string, []byte, string) {
	return func(upstream, method, uri string, header map[string][]string, body []byte) (int32, string, []byte, string) {
		s, ok := stubs[upstream]
		if !ok {
			return abi.CallNotAllowed, "", nil, `upstream "` + upstream + `" is not on the filter's allow-list (sluicetest.WithUpstream)`
		}
		if s.err != nil {
			code, ok := errorCodes[s.err]
			if !ok {
				code = abi.CallFailed
			}
			return code, "", nil, "sluicetest: " + s.err.Error()
		}
		r := httptest.NewRequest(method, uri, strings.NewReader(string(body)))
		r.Header = header
		w := httptest.NewRecorder()
		s.handler.ServeHTTP(w, r)
		res := w.Result()
		b, _ := io.ReadAll(res.Body)
		var hdr strings.Builder
		for name, values := range res.Header {
			for _, v := range values {
				hdr.WriteString(strings.ToLower(name) + "\x00" + v + "\x00")
			}
		}
		return int32(res.StatusCode), hdr.String(), b, ""
	}
}
