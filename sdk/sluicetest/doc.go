// Package sluicetest runs a Sluice filter in a plain `go test`, without wasm.
//
// Outside wasm the SDK's host functions are served by an in-memory
// http-wasm host. A [Host] loads the filter the package registered in its
// init function (with the configuration the test chooses), installs a
// request, runs the filter's request and response phases through the same
// SDK code the wasm exports run, and hands back what the upstream and the
// client would receive:
//
//	func TestAddsHeader(t *testing.T) {
//		h := sluicetest.New(t, sluicetest.WithConfig(`{"header": "X-Request-Id"}`))
//		res := h.Do(sluicetest.NewRequest("GET", "/users/42"), sluicetest.NewResponse(200, "ok"))
//		if !res.Next {
//			t.Fatal("filter answered the request itself")
//		}
//		if res.Request.Header.Get("X-Request-Id") == "" {
//			t.Fatal("no request id sent upstream")
//		}
//	}
//
// The in-memory host is strict where the ABI lets hosts differ, so a filter
// that passes here runs on any http-wasm host: it fails the test when the
// filter reads or writes the response body, or sets the status code, in
// HandleResponse without FeatureBufferResponse, writes trailers without
// FeatureTrailers, or passes an invalid status code.
//
// Hosts share the one in-memory host: a test that uses one must not call
// t.Parallel. Nesting is fine (a Host in a subtest of a test with a Host).
//
// Under GOOS=wasip1 there is no in-memory host: New and Load skip the test.
package sluicetest
