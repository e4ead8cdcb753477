//go:build wasip1

package abi

// HTTPCall sends method uri with headers and body to the upstream named and
// returns the status code or a negative [CallCode]. See call.go.
//
//go:wasmimport sluice http_call
func HTTPCall(upstream, method, uri, headers, body string) int32

// HTTPCallResult writes the part kind of the last http_call's outcome to
// buf if it fits limit; returns its length.
//
//go:wasmimport sluice http_call_result
func HTTPCallResult(kind CallResultKind, buf *byte, limit uint32) uint32
