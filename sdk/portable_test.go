//go:build !wasip1

package sluice_test

import (
	"testing"

	sluice "github.com/sluicegw/sluice/sdk"
	"github.com/sluicegw/sluice/sdk/sluicetest"
)

// otherHost is an http-wasm host that sends a response's head early, as
// http-wasm-host-go does: it lacks Sluice's FeatureHoldsResponseHead.
var otherHost = sluicetest.WithFeatures(sluice.FeatureBufferRequest | sluice.FeatureBufferResponse | sluice.FeatureTrailers)

// On such a host the SDK enables buffer_response by itself where the filter
// needs it: for every request of a filter with a response phase (so
// HandleResponse may change headers), and for a request a RequestFunc
// answers. On Sluice, which holds the head, and for a RequestFunc passing
// requests on, it enables nothing: no host buffers a response for nothing.
func TestSDKBuffersResponsesOnlyOnHostsThatNeedIt(t *testing.T) {
	withResponsePhase := sluicetest.WithFilter(funcs{resp: func(_ sluice.Request, resp sluice.Response, _ bool) {
		resp.Header().Set("X-Seen", "1") // traps on otherHost without buffer_response
	}})
	answers := sluicetest.WithFilter(sluice.RequestFunc(func(req sluice.Request, resp sluice.Response) bool {
		if req.URI() != "/answer" {
			return true
		}
		resp.SetStatusCode(403)
		resp.Header().Set("Content-Type", "text/plain") // after the status: lost on otherHost if unbuffered
		resp.Body().WriteString("no")
		return false
	}))
	for _, tc := range []struct {
		name     string
		host     []sluicetest.Option
		filter   sluicetest.Option
		uri      string
		buffered bool
	}{
		{"Sluice, response phase", nil, withResponsePhase, "/", false},
		{"Sluice, RequestFunc answering", nil, answers, "/answer", false},
		{"other host, response phase", []sluicetest.Option{otherHost}, withResponsePhase, "/", true},
		{"other host, RequestFunc answering", []sluicetest.Option{otherHost}, answers, "/answer", true},
		{"other host, RequestFunc passing on", []sluicetest.Option{otherHost}, answers, "/", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := sluicetest.New(t, append(tc.host, tc.filter)...)
			res := h.Do(sluicetest.NewRequest("GET", tc.uri), nil)
			if got := res.Features.Has(sluice.FeatureBufferResponse); got != tc.buffered {
				t.Errorf("buffer_response enabled: %v, want %v (features %v)", got, tc.buffered, res.Features)
			}
			if res.Next && tc.buffered && res.Response.Header.Get("X-Seen") != "1" {
				t.Errorf("the response phase did not set its header: %v", res.Response.Header)
			}
			if !res.Next && (res.Response.StatusCode != 403 || res.Response.Header.Get("Content-Type") != "text/plain" || string(res.Response.Body) != "no") {
				t.Errorf("answer: %d %v %q", res.Response.StatusCode, res.Response.Header, res.Response.Body)
			}
		})
	}
}
