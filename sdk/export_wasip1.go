//go:build wasip1

package sluice

import "github.com/sluicegw/sluice/sdk/internal/abi"

// The guest's exports. The host calls handle_request for every request and,
// when it returned next=1, handle_response after the upstream answered. See
// abi.CtxNext for the layout of the result.

//go:wasmexport handle_request
func wasmHandleRequest() uint64 {
	defer logPanic("handle_request")
	return uint64(handleRequest())
}

//go:wasmexport handle_response
func wasmHandleResponse(reqCtx, isError uint32) {
	defer logPanic("handle_response")
	handleResponse(reqCtx, isError != 0)
}

// logPanic sends a filter's panic to the host's log, where an operator looks,
// before it traps the instance (the Go runtime prints it to stderr and exits,
// which the host sees as a trap and answers with on_error).
func logPanic(phase string) {
	if r := recover(); r != nil {
		abi.Log(abi.LogError, "sluice: filter panicked in "+phase+": "+panicText(r))
		panic(r)
	}
}

// panicText renders a panic value without fmt, which would add hundreds of
// kilobytes to every filter that does not otherwise use it.
func panicText(r any) string {
	switch v := r.(type) {
	case string:
		return v
	case error:
		return v.Error()
	case interface{ String() string }:
		return v.String()
	}
	return "a panic value that is not a string or an error"
}
