package filter

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// pwHostFunc is one function of the proxy-wasm "env" host module. fn reads
// its parameters from stack and returns the status the guest receives.
// Misuse that Envoy reports with a status (an unknown map type, a missing
// key) returns one; misuse of memory (a pointer outside it) fails the call
// in progress like an http-wasm host function (Instance.fail).
type pwHostFunc struct {
	name   string
	params []api.ValueType
	fn     func(i *Instance, ctx context.Context, stack []uint64) pwStatus
}

func pwI32s(n int) []api.ValueType {
	t := make([]api.ValueType, n)
	for j := range t {
		t[j] = i32
	}
	return t
}

// pwHostFuncs lists every host function of the proxy-wasm ABI that Sluice
// provides; a guest importing any other fails at load, naming it. The
// files proxywasm_*.go hold the implementations, by topic.
func pwHostFuncs() []pwHostFunc {
	return []pwHostFunc{
		// Logs, time, the stream (this file).
		{"proxy_log", pwI32s(3), (*Instance).pwLog},
		{"proxy_get_log_level", pwI32s(1), (*Instance).pwGetLogLevel},
		{"proxy_get_current_time_nanoseconds", pwI32s(1), (*Instance).pwCurrentTime},
		{"proxy_set_tick_period_milliseconds", pwI32s(1), (*Instance).pwSetTickPeriod},
		{"proxy_set_effective_context", pwI32s(1), (*Instance).pwSetEffectiveContext},
		{"proxy_continue_stream", pwI32s(1), (*Instance).pwContinueStream},
		{"proxy_done", nil, func(*Instance, context.Context, []uint64) pwStatus { return pwOK }},
		{"proxy_send_local_response", pwI32s(8), (*Instance).pwSendLocalResponse},
		// Header maps (proxywasm_headers.go).
		{"proxy_get_header_map_pairs", pwI32s(3), (*Instance).pwGetHeaderMapPairs},
		{"proxy_set_header_map_pairs", pwI32s(3), (*Instance).pwSetHeaderMapPairs},
		{"proxy_get_header_map_value", pwI32s(5), (*Instance).pwGetHeaderMapValue},
		{"proxy_add_header_map_value", pwI32s(5), (*Instance).pwAddHeaderMapValue},
		{"proxy_replace_header_map_value", pwI32s(5), (*Instance).pwReplaceHeaderMapValue},
		{"proxy_remove_header_map_value", pwI32s(3), (*Instance).pwRemoveHeaderMapValue},
		{"proxy_get_header_map_size", pwI32s(2), (*Instance).pwGetHeaderMapSize},
		// Buffers (proxywasm_buffers.go).
		{"proxy_get_buffer_bytes", pwI32s(5), (*Instance).pwGetBufferBytes},
		{"proxy_set_buffer_bytes", pwI32s(5), (*Instance).pwSetBufferBytes},
		{"proxy_get_buffer_status", pwI32s(3), (*Instance).pwGetBufferStatus},
		// Properties (proxywasm_properties.go).
		{"proxy_get_property", pwI32s(4), (*Instance).pwGetProperty},
		{"proxy_set_property", pwI32s(4), (*Instance).pwSetProperty},
		// Shared data and queues (proxywasm_shared.go).
		{"proxy_get_shared_data", pwI32s(5), (*Instance).pwGetSharedData},
		{"proxy_set_shared_data", pwI32s(5), (*Instance).pwSetSharedData},
		{"proxy_register_shared_queue", pwI32s(3), (*Instance).pwRegisterQueue},
		{"proxy_resolve_shared_queue", pwI32s(5), (*Instance).pwResolveQueue},
		{"proxy_enqueue_shared_queue", pwI32s(3), (*Instance).pwEnqueue},
		{"proxy_dequeue_shared_queue", pwI32s(3), (*Instance).pwDequeue},
		// Metrics (proxywasm_metrics.go).
		{"proxy_define_metric", pwI32s(4), (*Instance).pwDefineMetric},
		{"proxy_increment_metric", []api.ValueType{i32, i64}, (*Instance).pwIncrementMetric},
		{"proxy_record_metric", []api.ValueType{i32, i64}, (*Instance).pwRecordMetric},
		{"proxy_get_metric", pwI32s(2), (*Instance).pwGetMetric},
		// Outbound HTTP (proxywasm_httpcall.go).
		{"proxy_http_call", pwI32s(10), (*Instance).pwHTTPCall},
	}
}

// instantiatePWHost builds and instantiates the "env" host module, and a
// "wasi_unstable" module with proc_exit alone (AssemblyScript's abort).
func instantiatePWHost(ctx context.Context, rt wazero.Runtime) (env, unstable api.Module, err error) {
	b := rt.NewHostModuleBuilder(pwHostModule)
	for _, f := range pwHostFuncs() {
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, _ api.Module, stack []uint64) {
				i := instanceFrom(ctx)
				if i == nil || i.pw == nil {
					panic(errors.New(pwHostModule + "." + f.name + " called outside a proxy-wasm call"))
				}
				stack[0] = uint64(f.fn(i, ctx, stack))
			}), f.params, []api.ValueType{i32}).
			Export(f.name)
	}
	if env, err = b.Instantiate(ctx); err != nil {
		return nil, nil, err
	}
	unstable, err = rt.NewHostModuleBuilder(wasiUnstable).NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			code := uint32(stack[0])
			_ = mod.CloseWithExitCode(ctx, code)
			panic(sys.NewExitError(code))
		}), []api.ValueType{i32}, nil).
		WithParameterNames("code").
		Export("proc_exit").
		Instantiate(ctx)
	return env, unstable, err
}

// pwPutU32 writes a little-endian u32 where the guest asked for a result.
func (i *Instance) pwPutU32(fn string, ptr, v uint32) {
	if !i.mem.WriteUint32Le(ptr, v) {
		i.fail("%s: result pointer %d is outside guest memory of %d bytes", fn, ptr, i.mem.Size())
	}
}

// pwReturn hands data to the guest the proxy-wasm way: copied into memory
// its allocator returns, the address and length written at ptrPtr and
// sizePtr. Empty data allocates nothing (address 0, length 0).
func (i *Instance) pwReturn(ctx context.Context, fn string, data []byte, ptrPtr, sizePtr uint32) pwStatus {
	var ptr uint32
	if len(data) > 0 {
		res, err := i.pw.malloc.Call(ctx, uint64(len(data)))
		if err != nil {
			i.fail("%s: the guest's allocator failed: %s", fn, firstLine(err))
		}
		ptr = uint32(res[0])
		if ptr == 0 {
			i.fail("%s: the guest's allocator returned 0 for %d bytes", fn, len(data))
		}
		copy(i.view(fn, "allocated buffer", ptr, uint32(len(data))), data)
	}
	i.pwPutU32(fn, ptrPtr, ptr)
	i.pwPutU32(fn, sizePtr, uint32(len(data)))
	return pwOK
}

// proxy_log(level i32, message i32, message_size i32): the node's log
// with the filter's name and, during a request, the phase and the request
// id, as http-wasm's log; trace and debug are debug, critical is error. The
// range is checked whatever the level, as for http-wasm's log.
func (i *Instance) pwLog(_ context.Context, stack []uint64) pwStatus {
	const fn = "proxy_log"
	level := slog.LevelDebug
	switch uint32(stack[0]) {
	case 2:
		level = slog.LevelInfo
	case 3:
		level = slog.LevelWarn
	case 4, 5:
		level = slog.LevelError
	}
	msg := i.view(fn, "message", uint32(stack[1]), uint32(stack[2]))
	if len(msg) > maxLogBytes {
		msg = msg[:maxLogBytes]
	}
	if level == slog.LevelError {
		i.pw.lastError = string(msg)
	}
	if !i.m.logger.Enabled(context.Background(), level) {
		return pwOK // SDKs log at debug generously: don't copy what is dropped
	}
	if i.x == nil { // the root context: no request
		i.m.logger.Log(context.Background(), level, string(msg), "abi", "proxy-wasm")
		return pwOK
	}
	phase := phaseLabelRequest
	if i.phase == phaseResponse {
		phase = phaseLabelResponse
	}
	i.m.logger.Log(context.Background(), level, string(msg), "abi", "proxy-wasm", "phase", phase, "request_id", i.x.RequestID)
	return pwOK
}

// proxy_get_log_level(level_ptr i32): the most verbose level the node logs.
func (i *Instance) pwGetLogLevel(_ context.Context, stack []uint64) pwStatus {
	level := uint32(2) // info
	if i.m.logger.Enabled(context.Background(), slog.LevelDebug) {
		level = 1
	}
	i.pwPutU32("proxy_get_log_level", uint32(stack[0]), level)
	return pwOK
}

// proxy_get_current_time_nanoseconds(time_ptr i32): the wall clock as u64
// nanoseconds since the epoch, the one clock the ABI grants.
func (i *Instance) pwCurrentTime(_ context.Context, stack []uint64) pwStatus {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(time.Now().UnixNano()))
	copy(i.view("proxy_get_current_time_nanoseconds", "time_ptr", uint32(stack[0]), 8), b[:])
	return pwOK
}

// proxy_set_tick_period_milliseconds(period i32): proxy_on_tick on the
// root context every period, on one instance of the pool (0 stops it).
func (i *Instance) pwSetTickPeriod(_ context.Context, stack []uint64) pwStatus {
	i.m.setTickPeriod(time.Duration(uint32(stack[0])) * time.Millisecond)
	return pwOK
}

// proxy_set_effective_context(context_id i32): an instance serves one
// stream at a time, so the only contexts are the root and that stream's.
func (i *Instance) pwSetEffectiveContext(_ context.Context, stack []uint64) pwStatus {
	id := uint32(stack[0])
	if id != pwRootContext && (i.x == nil || id != i.pw.ctxID) {
		return pwBadArgument
	}
	i.pw.effective = id
	return pwOK
}

// proxy_continue_stream(stream_type i32): resumes a stream the guest
// stopped at its end (after an http call, typically).
func (i *Instance) pwContinueStream(_ context.Context, stack []uint64) pwStatus {
	if i.x == nil {
		return pwNotFound
	}
	switch uint32(stack[0]) {
	case pwStreamRequest, pwStreamResponse:
		i.pw.continued = true
		return pwOK
	}
	return pwBadArgument
}

// proxy_send_local_response(status i32, details i32, details_size i32,
// body i32, body_size i32, headers i32, headers_size i32, grpc_status i32):
// the stream is answered with this response instead of going on; headers
// are serialized pairs.
func (i *Instance) pwSendLocalResponse(_ context.Context, stack []uint64) pwStatus {
	const fn = "proxy_send_local_response"
	if i.x == nil {
		return pwNotFound
	}
	status := int(uint32(stack[0]))
	if status < 200 || status > 999 {
		return pwBadArgument
	}
	body := i.view(fn, "body", uint32(stack[3]), uint32(stack[4]))
	if len(body) > maxBodyBytes {
		i.fail("%s: body of %d bytes is over the limit of %d", fn, len(body), maxBodyBytes)
	}
	pairs, ok := pwDecodePairs(i.view(fn, "headers", uint32(stack[5]), uint32(stack[6])))
	if !ok {
		return pwParseFailure
	}
	resp := &Response{Status: status, Header: make(map[string][]string, len(pairs)), Body: append([]byte(nil), body...), BodyWritten: true}
	for _, p := range pairs {
		if st := i.pwCheckHeader(fn, p[0], p[1]); st != pwOK {
			return st
		}
		resp.Header.Add(p[0], p[1])
	}
	i.pw.local = resp
	return pwOK
}
