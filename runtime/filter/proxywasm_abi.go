package filter

import (
	"github.com/tetratelabs/wazero/api"

	"github.com/sluicegw/sluice/runtime/filter/internal/wasmrewrite"
)

// This file names the values of the proxy-wasm ABI 0.2.x as Envoy hosts it
// (github.com/proxy-wasm/spec, abi-versions/v0.2.1): the guest exports
// proxy_on_* callbacks and imports proxy_* host functions from "env". Every
// host function returns a status (i32); data a host function returns is
// written into memory the guest allocates (its malloc export), and its
// address and length into two u32 the guest points at.

// abi is the filter ABI a module speaks, detected from its exports.
type abi uint8

const (
	abiHTTPWasm  abi = iota // http-wasm handler ABI: handle_request, handle_response
	abiProxyWasm            // proxy-wasm 0.2.x: proxy_abi_version_0_2_*
)

func (a abi) String() string {
	if a == abiProxyWasm {
		return "proxy-wasm"
	}
	return "http-wasm"
}

// Module names of the proxy-wasm ABI.
const (
	pwHostModule = "env"
	// wasiUnstable is the pre-snapshot WASI name; AssemblyScript's SDK
	// imports proc_exit from it for abort. Only proc_exit is provided.
	wasiUnstable = "wasi_unstable"
)

// pwVersionExports are the ABI versions Sluice hosts; a guest exports one.
var pwVersionExports = []string{"proxy_abi_version_0_2_0", "proxy_abi_version_0_2_1"}

// pwOldVersion is the export of proxy-wasm 0.1.0, whose callbacks differ
// (no end_of_stream): detected so that Load names the version it refuses.
const pwOldVersion = "proxy_abi_version_0_1_0"

// detectABI returns the ABI a module's exports speak. Anything that exports
// no proxy-wasm version is treated as http-wasm, whose checks then name
// what is missing.
func detectABI(exports []wasmrewrite.Export) abi {
	for _, e := range exports {
		if e.Kind != wasmrewrite.KindFunc {
			continue
		}
		for _, v := range append(pwVersionExports, pwOldVersion) {
			if e.Name == v {
				return abiProxyWasm
			}
		}
	}
	return abiHTTPWasm
}

// pwStatus is the i32 every host function returns (WasmResult).
type pwStatus uint32

const (
	pwOK                  pwStatus = 0
	pwNotFound            pwStatus = 1
	pwBadArgument         pwStatus = 2
	pwSerializationFailed pwStatus = 3
	pwParseFailure        pwStatus = 4
	pwInvalidMemoryAccess pwStatus = 6
	pwEmpty               pwStatus = 7
	pwCasMismatch         pwStatus = 8
	pwInternalFailure     pwStatus = 10
	pwUnimplemented       pwStatus = 12
)

// pwAction is what proxy_on_*_headers and proxy_on_*_body return: 0
// continue, anything else stops the stream (StopIteration,
// StopAllIterationAndBuffer, ...) until the end of the stream, or, at the
// end, until proxy_continue_stream.
const pwContinue = 0

// pwMapType (i32) selects the header map of the header functions.
type pwMapType uint32

const (
	pwRequestHeaders          pwMapType = 0
	pwRequestTrailers         pwMapType = 1
	pwResponseHeaders         pwMapType = 2
	pwResponseTrailers        pwMapType = 3
	pwHTTPCallResponseHeaders pwMapType = 6
	pwHTTPCallResponseTrailer pwMapType = 7
)

// pwBufferType (i32) selects the buffer of proxy_get_buffer_bytes and
// proxy_set_buffer_bytes.
type pwBufferType uint32

const (
	pwRequestBody         pwBufferType = 0
	pwResponseBody        pwBufferType = 1
	pwHTTPCallResponse    pwBufferType = 4
	pwVMConfiguration     pwBufferType = 6
	pwPluginConfiguration pwBufferType = 7
)

// pwStreamType (i32) of proxy_continue_stream.
const (
	pwStreamRequest  = 0
	pwStreamResponse = 1
)

// pwMetricType (i32) of proxy_define_metric.
type pwMetricType uint32

const (
	pwCounter   pwMetricType = 0
	pwGauge     pwMetricType = 1
	pwHistogram pwMetricType = 2
)

// pwRootContext is the id of the one root context of an instance. HTTP
// contexts are numbered from 2 on, per instance.
const pwRootContext = 1

// pwExport is one callback a guest may export, with its signature.
type pwExport struct {
	name    string
	params  int // all i32
	results int // 0 or 1 (i32)
}

// The callbacks the host calls. Only proxy_on_context_create is required
// (besides memory, an allocator and a version); a missing callback is
// skipped, as Envoy does.
var (
	pwOnContextCreate    = pwExport{"proxy_on_context_create", 2, 0}
	pwOnVMStart          = pwExport{"proxy_on_vm_start", 2, 1}
	pwOnConfigure        = pwExport{"proxy_on_configure", 2, 1}
	pwOnRequestHeaders   = pwExport{"proxy_on_request_headers", 3, 1}
	pwOnRequestBody      = pwExport{"proxy_on_request_body", 3, 1}
	pwOnRequestTrailers  = pwExport{"proxy_on_request_trailers", 2, 1}
	pwOnResponseHeaders  = pwExport{"proxy_on_response_headers", 3, 1}
	pwOnResponseBody     = pwExport{"proxy_on_response_body", 3, 1}
	pwOnResponseTrailers = pwExport{"proxy_on_response_trailers", 2, 1}
	pwOnDone             = pwExport{"proxy_on_done", 1, 1}
	pwOnLog              = pwExport{"proxy_on_log", 1, 0}
	pwOnDelete           = pwExport{"proxy_on_delete", 1, 0}
	pwOnTick             = pwExport{"proxy_on_tick", 1, 0}
	pwOnHTTPCallResponse = pwExport{"proxy_on_http_call_response", 5, 0}
	pwOnQueueReady       = pwExport{"proxy_on_queue_ready", 2, 0}
	// The allocator: proxy_on_memory_allocate in the spec, malloc in
	// older SDKs (AssemblyScript's); Envoy accepts either.
	pwMalloc         = pwExport{"malloc", 1, 1}
	pwMemoryAllocate = pwExport{"proxy_on_memory_allocate", 1, 1}
)

var pwExports = []pwExport{
	pwOnContextCreate, pwOnVMStart, pwOnConfigure, pwOnRequestHeaders, pwOnRequestBody, pwOnRequestTrailers,
	pwOnResponseHeaders, pwOnResponseBody, pwOnResponseTrailers, pwOnDone, pwOnLog, pwOnDelete, pwOnTick,
	pwOnHTTPCallResponse, pwOnQueueReady, pwMalloc, pwMemoryAllocate,
}

func (e pwExport) signature() (params, results []api.ValueType) {
	for range e.params {
		params = append(params, i32)
	}
	for range e.results {
		results = append(results, i32)
	}
	return params, results
}
