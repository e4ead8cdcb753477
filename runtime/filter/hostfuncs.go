package filter

import (
	"context"
	"errors"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// hostFunc is one function of a host module (http_handler, sluice). fn reads its
// parameters from stack and writes its result to stack[0]; it panics with a
// *guestFault (through Instance.fail) when the guest misuses it, which
// wazero turns into an error of the call in progress.
type hostFunc struct {
	name    string
	params  []api.ValueType
	names   []string
	results []api.ValueType
	fn      func(i *Instance, stack []uint64)
}

// hostFuncs lists every function of the ABI. The signatures are the
// contract Load checks a guest's imports against.
func hostFuncs() []hostFunc {
	return []hostFunc{
		// Administrative (hostfuncs_admin.go).
		{"enable_features", []api.ValueType{i32}, []string{"features"}, []api.ValueType{i32}, (*Instance).enableFeatures},
		{"get_config", []api.ValueType{i32, i32}, []string{"buf", "buf_limit"}, []api.ValueType{i32}, (*Instance).getConfig},
		{"log", []api.ValueType{i32, i32, i32}, []string{"level", "message", "message_len"}, nil, (*Instance).log},
		{"log_enabled", []api.ValueType{i32}, []string{"level"}, []api.ValueType{i32}, (*Instance).logEnabled},
		// Request line (hostfuncs_request.go).
		{"get_method", []api.ValueType{i32, i32}, []string{"buf", "buf_limit"}, []api.ValueType{i32}, (*Instance).getMethod},
		{"set_method", []api.ValueType{i32, i32}, []string{"method", "method_len"}, nil, (*Instance).setMethod},
		{"get_uri", []api.ValueType{i32, i32}, []string{"buf", "buf_limit"}, []api.ValueType{i32}, (*Instance).getURI},
		{"set_uri", []api.ValueType{i32, i32}, []string{"uri", "uri_len"}, nil, (*Instance).setURI},
		{"get_protocol_version", []api.ValueType{i32, i32}, []string{"buf", "buf_limit"}, []api.ValueType{i32}, (*Instance).getProtocolVersion},
		{"get_source_addr", []api.ValueType{i32, i32}, []string{"buf", "buf_limit"}, []api.ValueType{i32}, (*Instance).getSourceAddr},
		// Headers and trailers (hostfuncs_header.go).
		{"get_header_names", []api.ValueType{i32, i32, i32}, []string{"kind", "buf", "buf_limit"}, []api.ValueType{i64}, (*Instance).getHeaderNames},
		{"get_header_values", []api.ValueType{i32, i32, i32, i32, i32}, []string{"kind", "name", "name_len", "buf", "buf_limit"}, []api.ValueType{i64}, (*Instance).getHeaderValues},
		{"set_header_value", []api.ValueType{i32, i32, i32, i32, i32}, []string{"kind", "name", "name_len", "value", "value_len"}, nil, (*Instance).setHeaderValue},
		{"add_header_value", []api.ValueType{i32, i32, i32, i32, i32}, []string{"kind", "name", "name_len", "value", "value_len"}, nil, (*Instance).addHeaderValue},
		{"remove_header", []api.ValueType{i32, i32, i32}, []string{"kind", "name", "name_len"}, nil, (*Instance).removeHeader},
		// Bodies (hostfuncs_body.go).
		{"read_body", []api.ValueType{i32, i32, i32}, []string{"kind", "buf", "buf_limit"}, []api.ValueType{i64}, (*Instance).readBody},
		{"write_body", []api.ValueType{i32, i32, i32}, []string{"kind", "body", "body_len"}, nil, (*Instance).writeBody},
		// Response (hostfuncs_response.go).
		{"get_status_code", nil, nil, []api.ValueType{i32}, (*Instance).getStatusCode},
		{"set_status_code", []api.ValueType{i32}, []string{"status_code"}, nil, (*Instance).setStatusCode},
	}
}

// instantiateHost builds and instantiates the host module name with funcs
// (hostFuncs for http_handler, sluiceHostFuncs for sluice).
func instantiateHost(ctx context.Context, rt wazero.Runtime, name string, funcs []hostFunc) (api.Module, error) {
	b := rt.NewHostModuleBuilder(name)
	for _, f := range funcs {
		f := f
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, _ api.Module, stack []uint64) {
				i := instanceFrom(ctx)
				if i == nil {
					panic(errors.New(name + "." + f.name + " called outside a Sluice call"))
				}
				f.fn(i, stack)
			}), f.params, f.results).
			WithParameterNames(f.names...).
			Export(f.name)
	}
	return b.Instantiate(ctx)
}

// callCtx is the context a guest call runs with. It carries the instance to
// the host functions (which wazero hands only the context and the calling
// module) without allocating: each Instance owns one callCtx and points its
// embedded Context at the caller's context for the length of a call. An
// instance serves one goroutine at a time, so this is not shared.
type callCtx struct {
	context.Context
	inst *Instance
}

type callCtxKey struct{}

// Value returns the instance for callCtxKey, else defers to the caller's context.
func (c *callCtx) Value(key any) any {
	if key == (callCtxKey{}) {
		return c.inst
	}
	return c.Context.Value(key)
}

func instanceFrom(ctx context.Context) *Instance {
	if c, ok := ctx.(*callCtx); ok {
		return c.inst
	}
	i, _ := ctx.Value(callCtxKey{}).(*Instance)
	return i
}
