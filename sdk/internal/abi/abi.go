// Package abi is the guest side of the http-wasm handler ABI: the host
// functions a guest imports from the module "http_handler", the enums they
// take and the packed 64-bit values they return.
//
// In a wasm build (GOOS=wasip1) the functions are //go:wasmimport declarations
// (imports_wasip1.go). In any other build they are served by an in-memory host
// (imports_stub.go) that follows the same protocol, so the SDK's encoding and
// decoding code runs, unchanged, under a plain `go test`.
//
// # Strings and buffers
//
// A string argument (a header name, a URI to set, a log message) is passed to
// the host as two i32 values: the address of its first byte in linear memory
// and its length in bytes. Go 1.24+ lowers a string parameter of a
// //go:wasmimport function to exactly that pair.
//
// A function that reads a value from the host takes a buffer (buf, buf_limit):
// the address where the host may write and the most bytes it may write. It
// always returns the value's full length. When that length is larger than
// buf_limit the host writes nothing, and the caller retries with a buffer of
// at least that length. buf_limit=0 asks only for the length.
//
// Example: the URI is "/users/42?x=1" (13 bytes).
//
//	GetURI(buf, 8)  == 13  // too small: nothing written, retry
//	GetURI(buf, 64) == 13  // buf[0:13] holds "/users/42?x=1"
//
// # Packed values
//
// WebAssembly 1.0 functions return one value, so the ABI packs two 32-bit
// numbers into one i64: the first number in the high 32 bits, the second in
// the low 32 bits. There are three such values: [CountLen] (header names and
// values), [EOFLen] (body reads) and [CtxNext] (the result of the guest's
// handle_request). Each type below documents its bits with examples.
package abi

// HeaderKind selects which header map a header function reads or writes.
// It is the first parameter of every header function.
type HeaderKind = uint32

const (
	// HeaderRequest is the request's header fields.
	HeaderRequest HeaderKind = 0
	// HeaderResponse is the response's header fields.
	HeaderResponse HeaderKind = 1
	// HeaderRequestTrailers is the request's trailing fields; needs
	// FeatureTrailers.
	HeaderRequestTrailers HeaderKind = 2
	// HeaderResponseTrailers is the response's trailing fields; needs
	// FeatureTrailers.
	HeaderResponseTrailers HeaderKind = 3
)

// BodyKind selects the body read_body and write_body act on.
type BodyKind = uint32

const (
	// BodyRequest is the request body.
	BodyRequest BodyKind = 0
	// BodyResponse is the response body.
	BodyResponse BodyKind = 1
)

// Feature bits of enable_features: its parameter is the set the guest asks
// for, its result the whole set the host supports (which may lack some asked
// for). Enabled while the guest initializes (_initialize), a feature holds for
// every request; enabled inside handle_request, only for that request.
const (
	// FeatureBufferRequest buffers the request body on the host, so the guest
	// can read it and the next handler still receives all of it.
	FeatureBufferRequest uint32 = 1
	// FeatureBufferResponse holds back the response of the next handler
	// until handle_response returns, so the guest can read and replace its
	// body and status code.
	FeatureBufferResponse uint32 = 2
	// FeatureTrailers means the host supports trailers. Without it trailer
	// reads are empty and trailer writes trap.
	FeatureTrailers uint32 = 4
	// FeatureStateless is Sluice's bit, outside the http-wasm ABI's (the
	// highest, clear of future ones). Enabled during initialization it
	// declares that the guest keeps no state between handle_request and
	// handle_response of a request but the reqCtx: Sluice then releases the
	// instance after handle_request and runs handle_response on any
	// instance. Inside a request it changes nothing; other hosts ignore it.
	FeatureStateless uint32 = 1 << 31
	// FeatureHoldsResponseHead is a Sluice capability, reported in every
	// enable_features result and never enabled: the host sends no status
	// or header before the guest's phase returns, so the guest may set them
	// in any order and change a streamed response's in handle_response.
	// Hosts without it (http-wasm-host-go) send the head at set_status_code
	// or the first response write_body unless buffer_response is enabled,
	// and refuse header changes after the next handler without it.
	FeatureHoldsResponseHead uint32 = 1 << 30
)

// Log levels of log and log_enabled. Debug is -1 so that a zero value is
// never the most verbose level.
const (
	LogDebug int32 = -1
	LogInfo  int32 = 0
	LogWarn  int32 = 1
	LogError int32 = 2
	LogNone  int32 = 3
)

// CountLen is the result of get_header_names and get_header_values: a
// sequence of NUL-terminated strings ("a\x00bc\x00", never "a\x00bc").
//
//	bits 63..32  count: how many strings (0 when there are none)
//	bits 31..0   len:   bytes of the whole sequence, NUL terminators included
//
// The host returns the CountLen whether or not the sequence fitted in
// buf_limit; it wrote the sequence only when len <= buf_limit.
//
// Examples:
//
//	no such header                        0          count 0, len 0
//	"Accept\x00"                          1<<32|7    = 4294967303
//	"a=b\x00c=d\x00" (two Set-Cookie)      2<<32|8    = 8589934600
//	"content-type\x00content-length\x00"   2<<32|28   = 8589934620
type CountLen uint64

// Count returns the number of strings in the sequence (the high 32 bits).
func (c CountLen) Count() uint32 { return uint32(c >> 32) }

// Len returns the length in bytes of the sequence including every NUL
// terminator (the low 32 bits).
func (c CountLen) Len() uint32 { return uint32(c) }

// EOFLen is the result of read_body.
//
//	bits 63..32  eof: 1 when the body is exhausted, else 0
//	bits 31..0   len: bytes written to buf by this call (<= buf_limit)
//
// EOF is not an error: the len bytes of the same call are data.
//
// Examples:
//
//	0<<32|16  = 16          16 bytes read, there may be more
//	1<<32|5   = 4294967301  the last 5 bytes of the body
//	1<<32|0   = 4294967296  nothing left
type EOFLen uint64

// EOF reports whether the body is exhausted (the high 32 bits are 1).
func (e EOFLen) EOF() bool { return e>>32 == 1 }

// Len returns the number of bytes read by this call (the low 32 bits).
func (e EOFLen) Len() uint32 { return uint32(e) }

// CtxNext is the result of the guest's handle_request export.
//
//	bits 63..32  ctx:  request context, opaque to the host, which passes it
//	                   back as the reqCtx parameter of handle_response
//	bits 31..0   next: 1 = continue to the next handler and later call
//	                   handle_response; 0 = the guest answered (or rejected)
//	                   the request, no next handler, no handle_response
//
// Examples:
//
//	0<<32|0  = 0            stop here: the response the guest wrote is sent
//	0<<32|1  = 1            continue, handle_response gets reqCtx 0
//	16<<32|1 = 68719476737  continue, handle_response gets reqCtx 16
//	16<<32|0 = 68719476736  stop; the 16 is ignored
type CtxNext uint64

// PackCtxNext packs a request context and the next decision.
func PackCtxNext(ctx uint32, next bool) CtxNext {
	v := CtxNext(ctx) << 32
	if next {
		v |= 1
	}
	return v
}

// Ctx returns the request context (the high 32 bits).
func (c CtxNext) Ctx() uint32 { return uint32(c >> 32) }

// Next reports whether the host should continue to the next handler (the
// low 32 bits are 1).
func (c CtxNext) Next() bool { return uint32(c) == 1 }

// Guest holds the SDK's entry points, so that the test harness can drive the
// same code the wasm exports call. The sluice package fills it in at init
// in native builds; in wasm the exports call that code directly.
var Guest struct {
	// Init builds the filter registered with HandleNew (native builds only;
	// in wasm it is built during _initialize).
	Init func() error
	// Use registers f (a sluice.Filter) in place of the registered filter.
	Use func(f any)
	// Save snapshots the registered filter or constructor and returns a
	// function that restores it.
	Save func() (restore func())
	// HandleRequest is the body of the handle_request export.
	HandleRequest func() CtxNext
	// HandleResponse is the body of the handle_response export.
	HandleResponse func(reqCtx uint32, isError bool)
}
