package filter

// This file names the values of the http-wasm handler ABI
// (content/http-handler-abi.md in github.com/http-wasm/http-wasm). All ABI
// values are wasm i32 or i64; the packed i64 results are laid out below.

// Module and export names of the ABI.
const (
	hostModule        = "http_handler" // host functions of the http-wasm ABI
	sluiceModule      = "sluice"       // Sluice-only host functions (hostfuncs_sluice.go)
	wasiModule        = "wasi_snapshot_preview1"
	exportRequest     = "handle_request"
	exportResponse    = "handle_response"
	exportMemory      = "memory"
	exportInitialize  = "_initialize" // WASI reactor (Go -buildmode=c-shared)
	exportStart       = "_start"      // WASI command (TinyGo)
	exportInterrupt   = "__sluice_interrupt"
	exportStartFunc   = "__sluice_start"
	exportGlobals     = "__sluice_global_" // + index: every global, for the memory image (image.go)
	wasmPageSize      = 65536
	maxPages32        = 65536 // 4 GiB, the most a 32-bit memory can have
	supportedFeatures = FeatureBufferRequest | FeatureBufferResponse | FeatureTrailers | FeatureStateless
)

// Features is the ABI's feature bit set (i32), the parameter of
// enable_features and its result.
//
// Example: 0b011 (3) = buffer_request | buffer_response.
type Features uint32

// The features the ABI defines; Sluice supports all three.
const (
	// FeatureBufferRequest (1): the host keeps what the guest reads of the
	// request body, so the upstream still receives the whole body.
	FeatureBufferRequest Features = 1 << 0
	// FeatureBufferResponse (2): the edge buffers the upstream response so
	// handle_response can read and rewrite its body, status and trailers.
	FeatureBufferResponse Features = 1 << 1
	// FeatureTrailers (4): header_kind 2 and 3 (trailers) are usable. Without
	// it, trailer reads are empty and trailer writes trap, as the spec says.
	FeatureTrailers Features = 1 << 2

	// FeatureStateless (1<<31) is Sluice's own bit, the highest so that it
	// stays clear of the ABI's future ones. A guest that enables it while
	// initialising (start function, _initialize) declares that it keeps
	// nothing in its memory between the two phases of a request but what
	// the reqCtx it returns from handle_request carries: the edge then
	// releases its instance after handle_request and runs handle_response
	// on any instance of the module (Instance.Detach, Instance.Resume).
	// Enabled during a request it changes nothing: the request already
	// holds its instance. A feature bit rather than a Sluice host function
	// or export: enable_features is the ABI's own way for a guest to tell
	// the host what it needs, and other http-wasm hosts ignore a bit they
	// do not know (and pin, as every guest expects), so the guest still runs
	// there.
	FeatureStateless Features = 1 << 31

	// FeatureHoldsResponseHead (1<<30) is a Sluice capability that
	// enable_features always reports and a guest cannot enable: the host
	// sends no status or header before the guest's phase returns. Guests
	// may set the response status and headers in any order while
	// answering in handle_request, and in handle_response change those of
	// a streamed response (the edge runs it before sending the upstream's
	// head), all without FeatureBufferResponse. http-wasm-host-go sends
	// the head at set_status_code or the first write_body without
	// buffering, and refuses header changes after the next handler; a
	// portable guest asks for buffer_response there, and the Sluice SDK
	// does so only on hosts that do not report this bit, so it costs
	// nothing on Sluice (RATIONALE.md, "Portable SDK filters").
	FeatureHoldsResponseHead Features = 1 << 30
)

// Has reports whether every feature of f2 is in f.
func (f Features) Has(f2 Features) bool { return f&f2 == f2 }

// headerKind (i32) selects the header map of the header functions.
type headerKind uint32

const (
	headerRequest          headerKind = 0
	headerResponse         headerKind = 1
	headerRequestTrailers  headerKind = 2
	headerResponseTrailers headerKind = 3
)

// bodyKind (i32) selects the body of read_body and write_body.
type bodyKind uint32

const (
	bodyRequest  bodyKind = 0
	bodyResponse bodyKind = 1
)

// Log levels (i32) of log and log_enabled. Lower is more verbose; debug is -1
// so that a zero value is not the loudest.
const (
	logDebug int32 = -1
	logInfo  int32 = 0
	logWarn  int32 = 1
	logError int32 = 2
	logNone  int32 = 3
)

// ctxNext (i64) is the result of handle_request:
//
//	bits 63..32: reqCtx, opaque to the host, passed back to handle_response
//	bits 31..0 : next; 1 = call the next handler (then handle_response),
//	             0 = the guest answered (x.Resp is sent as is)
//
// Example: 16<<32|1 (68719476737) = proceed, and call handle_response(16, _).
// Only bit 0 of the low half is read, so 16<<32|0 does not proceed.
func splitCtxNext(v uint64) (reqCtx uint32, next bool) {
	return uint32(v >> 32), uint32(v)&1 == 1
}

// countLen (i64) is the result of get_header_names and get_header_values:
//
//	bits 63..32: count of NUL-terminated strings
//	bits 31..0 : their total length in bytes, NULs included
//
// Example: "Date\0Etag\0" = 2<<32|10. Zero means no strings. It is returned
// whether or not the strings fit buf_limit (then nothing is written).
func packCountLen(count, length uint32) uint64 { return uint64(count)<<32 | uint64(length) }

// eofLen (i64) is the result of read_body:
//
//	bits 63..32: 1 if the body is exhausted, else 0
//	bits 31..0 : bytes written at buf (may be non-zero together with EOF)
//
// Example: 1<<32|5 (4294967301) = five bytes read and nothing left.
func packEOFLen(eof bool, n uint32) uint64 {
	if eof {
		return 1<<32 | uint64(n)
	}
	return uint64(n)
}
