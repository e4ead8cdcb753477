package abi

// Outbound HTTP: the functions http_call and http_call_result of the host
// module "sluice" (Sluice's own, beside http_handler; other http-wasm hosts
// do not provide them, and a guest that imports them loads only on Sluice).
//
// http_call takes five strings (upstream name, method, URI, headers, body)
// and returns the response's status code (100-599) or a negative
// [CallCode]. Headers go both ways as a NUL-terminated sequence of names and
// values alternating, one pair per value:
//
//	"accept\x00application/json\x00x-token\x00abc\x00"
//
// http_call_result(kind, buf, buf_limit) then reads the last call's
// response headers, body or error reason with the buffer contract of
// "Strings and buffers".

// CallCode is a negative result of http_call.
type CallCode = int32

const (
	// CallNotAllowed: the upstream is not on the filter's allow-list
	// (`upstreams:` of the filter in the Sluice config).
	CallNotAllowed CallCode = -1
	// CallTimeout: no complete answer before the filter's deadline.
	CallTimeout CallCode = -2
	// CallTooLarge: the response body exceeds the host's limit (1 MiB).
	CallTooLarge CallCode = -3
	// CallFailed: the upstream failed (refused, reset, no healthy endpoint).
	CallFailed CallCode = -4
	// CallInvalid: a malformed request, or a call outside a request.
	CallInvalid CallCode = -5
)

// CallResultKind selects what http_call_result reads.
type CallResultKind = uint32

const (
	// CallResultHeaders is the response headers, as the sequence above
	// (names in lowercase).
	CallResultHeaders CallResultKind = 0
	// CallResultBody is the response body.
	CallResultBody CallResultKind = 1
	// CallResultError is the reason the last http_call failed.
	CallResultError CallResultKind = 2
)

// MaxCallResponseBytes is Sluice's limit on an http_call's response body.
const MaxCallResponseBytes = 1 << 20
