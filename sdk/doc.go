// Package sluice is the Go SDK for Sluice filters: WebAssembly guests that
// see every request and response of a route. A filter can rewrite the
// request (method, URI, headers, body), answer it by itself (a serverless
// function), and rewrite the response.
//
// Filters speak the http-wasm handler ABI (host module "http_handler"), so a
// filter built with this SDK also runs on other http-wasm hosts (Traefik,
// Dapr), and the SDK only needs the standard library.
//
// # A filter
//
//	package main
//
//	import "github.com/sluicegw/sluice/sdk"
//
//	func main() {} // required, never called: see "Building"
//
//	func init() {
//		sluice.Handle(sluice.RequestFunc(func(req sluice.Request, resp sluice.Response) bool {
//			req.Header().Set("X-Hello", "world")
//			return true // continue to the next filter and the upstream
//		}))
//	}
//
// A filter with configuration registers a constructor with [HandleNew]; the
// constructor reads its `config:` from the Sluice config file with [Config].
//
// # Building
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o filter.wasm .
//
// -buildmode=c-shared is required (Go 1.24 or newer). It produces a WASI
// "reactor": the module exports _initialize, handle_request, handle_response
// and memory, and imports http_handler.* and wasi_snapshot_preview1.*. The
// host calls _initialize once per instance, which runs the Go runtime's setup
// and every package's init functions, then calls the two handlers for each
// request. main.main is never called, so:
//
//   - the package still needs a `func main() {}` to build, and
//   - registration (Handle, HandleNew) and one-time setup belong in init.
//
// Without -buildmode=c-shared the module exports _start instead, which runs
// main and then exits the instance, after which no handler can be called.
//
// # Testing
//
// Outside wasm (a plain `go test`), the host functions are served by an
// in-memory host that follows the ABI exactly, and the sluicetest package
// drives the filter through the same code the wasm exports run: set a config,
// build a request, run the request and response phases, and check the
// headers, status, body and whether the filter passed the request on.
//
// # The two phases
//
// For each request the host calls the guest's handle_request export, which
// runs [Filter.HandleRequest]. Its result is the ABI's packed ctx_next:
//
//	bits 63..32  ctx:  a request context the host hands back to
//	                   handle_response (this SDK always sends 0)
//	bits 31..0   next: 1 = continue to the next filter and the upstream,
//	                   0 = the filter answered the request itself
//
// so next=true is returned as 1 (0<<32|1) and next=false as 0. When next was
// true, the host later calls handle_response(reqCtx, isError), which runs
// [Filter.HandleResponse]. Sluice never runs two requests on one instance at
// the same time. By default it pins one instance to a request for both
// phases, so a filter may keep per-request state in variables between the
// two calls (it must reset that state at the start of HandleRequest).
//
// Holding an instance while the upstream answers costs one instance (a few
// MiB for a Go filter) per request in flight. A filter whose HandleResponse
// needs nothing that HandleRequest left in its variables calls [Stateless]
// in init (a [RequestFunc] is declared so already): Sluice then returns the
// instance after HandleRequest and runs HandleResponse on any instance, and
// the filter needs about one instance per core. The rule: after calling
// Stateless, HandleResponse may read the request, the response, the
// configuration and state shared by all requests, never a value
// HandleRequest stored. Other http-wasm hosts ignore the declaration and pin.
//
// # Other hosts
//
// Some http-wasm hosts (http-wasm-host-go, which Traefik and Dapr embed)
// send the response's status and headers as soon as the filter sets the
// status or writes the body, and refuse header changes in HandleResponse,
// unless FeatureBufferResponse is enabled. Sluice holds them until the
// filter returns and says so ([FeatureHoldsResponseHead]). On a host that
// does not, the SDK enables FeatureBufferResponse by itself: at init for a
// filter with a response phase, and in HandleRequest just before a filter
// answers (its first SetStatusCode or body write). The same filter thus
// runs unchanged on both, and buffers nothing on Sluice.
//
// The full layout of every packed value (ctx_next, count_len, eof_len) is
// documented in the SDK's internal/abi package.
//
// # Cost
//
// A guest is single-threaded. The SDK reads every host value through one
// shared buffer (grown when the host reports a longer value, then reused), and
// passes strings to the host without copying them, so a header read allocates
// only the string it returns.
package sluice
