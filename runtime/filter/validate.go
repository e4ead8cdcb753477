package filter

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/sluicegw/sluice/runtime/filter/internal/wasmrewrite"
)

// checkImports refuses any import but a function the host provides. Guests
// get no imported memory, table or global: the host owns none to share.
//
// Each ABI has its own host modules: an http-wasm guest may not import
// proxy-wasm's "env" functions, nor a proxy-wasm guest http_handler's.
func (r *Runtime) checkImports(imports []wasmrewrite.Import, a abi) error {
	modules := []string{hostModule, sluiceModule, wasiModule}
	if a == abiProxyWasm {
		modules = []string{pwHostModule, wasiModule, wasiUnstable}
	}
	for _, im := range imports {
		if im.Kind != wasmrewrite.KindFunc {
			return fmt.Errorf("imports %s %q.%q: only host functions may be imported", im.Kind, im.Module, im.Name)
		}
		funcs, ok := r.hostFuncs[im.Module]
		if !ok || !slices.Contains(modules, im.Module) {
			return fmt.Errorf("imports function %q.%q from unknown module %q (the host provides %s to a %s guest)",
				im.Module, im.Name, im.Module, strings.Join(modules, ", "), a)
		}
		if a == abiProxyWasm && im.Module == pwHostModule {
			if _, ok := funcs[im.Name]; !ok {
				return fmt.Errorf("imports proxy-wasm function %q.%q, which Sluice does not provide (README.md, \"proxy-wasm filters\", lists those it does)", im.Module, im.Name)
			}
		}
		if _, ok := funcs[im.Name]; !ok {
			return fmt.Errorf("imports unknown function %q.%q", im.Module, im.Name)
		}
	}
	return nil
}

// checkExportsPresent reports the first missing guest export of the ABI,
// before spending time compiling.
func checkExportsPresent(exports []wasmrewrite.Export, a abi) error {
	if a == abiProxyWasm {
		return checkPWExportsPresent(exports)
	}
	want := []struct {
		name string
		kind wasmrewrite.ExternKind
	}{
		{exportRequest, wasmrewrite.KindFunc},
		{exportResponse, wasmrewrite.KindFunc},
		{exportMemory, wasmrewrite.KindMemory},
	}
	for _, w := range want {
		i := slices.IndexFunc(exports, func(e wasmrewrite.Export) bool { return e.Name == w.name })
		if i < 0 {
			return fmt.Errorf("does not export %s %q (an http-wasm guest exports handle_request, handle_response and memory)", w.kind, w.name)
		}
		if exports[i].Kind != w.kind {
			return fmt.Errorf("exports %q as a %s, want a %s", w.name, exports[i].Kind, w.kind)
		}
	}
	return nil
}

// limitError carries the sentinel a memory check failed with.
type limitError struct {
	kind error
	msg  string
}

func (e *limitError) wrap(name string) error { return filterError(name, "load", e.kind, e.msg) }

// checkMemory requires exactly one ordinary 32-bit memory whose minimum fits
// the limit.
func checkMemory(mems []wasmrewrite.Memory, limitPages uint32) *limitError {
	switch {
	case len(mems) == 0:
		return &limitError{ErrInvalidModule, "defines no memory"}
	case len(mems) > 1:
		return &limitError{ErrInvalidModule, fmt.Sprintf("defines %d memories, want one", len(mems))}
	case mems[0].Shared || mems[0].Is64:
		return &limitError{ErrInvalidModule, "shared and 64-bit memories are not supported"}
	case mems[0].Min > uint64(limitPages):
		return &limitError{ErrMemory, fmt.Sprintf("memory minimum of %d pages (%d bytes) exceeds the limit of %d pages (%d bytes)",
			mems[0].Min, mems[0].Min*wasmPageSize, limitPages, uint64(limitPages)*wasmPageSize)}
	}
	return nil
}

// checkSignatures compares each imported function with the host's, and the
// guest exports with the ABI's.
func (r *Runtime) checkSignatures(c wazero.CompiledModule, a abi) error {
	for _, f := range c.ImportedFunctions() {
		mod, name, _ := f.Import()
		host := r.hostFuncs[mod][name]
		if !slices.Equal(f.ParamTypes(), host.ParamTypes()) || !slices.Equal(f.ResultTypes(), host.ResultTypes()) {
			return fmt.Errorf("imports %q.%q with signature %s, want %s", mod, name,
				signature(f.ParamTypes(), f.ResultTypes()), signature(host.ParamTypes(), host.ResultTypes()))
		}
	}
	exports := c.ExportedFunctions()
	if a == abiProxyWasm {
		return checkPWSignatures(exports)
	}
	want := map[string][2][]api.ValueType{
		exportRequest:  {nil, {i64}},
		exportResponse: {{i32, i32}, nil},
	}
	for _, name := range []string{exportRequest, exportResponse} {
		f := exports[name]
		w := want[name]
		if !slices.Equal(f.ParamTypes(), w[0]) || !slices.Equal(f.ResultTypes(), w[1]) {
			return fmt.Errorf("exports %q with signature %s, want %s", name,
				signature(f.ParamTypes(), f.ResultTypes()), signature(w[0], w[1]))
		}
	}
	for _, name := range []string{exportInitialize, exportStart} {
		if f, ok := exports[name]; ok && (len(f.ParamTypes()) != 0 || len(f.ResultTypes()) != 0) {
			return fmt.Errorf("exports %q with signature %s, want () -> ()", name, signature(f.ParamTypes(), f.ResultTypes()))
		}
	}
	return nil
}

// signature formats a function type as "(i32, i32) -> i64".
func signature(params, results []api.ValueType) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	res := names(results)
	if len(results) != 1 {
		res = "(" + res + ")"
	}
	return "(" + names(params) + ") -> " + res
}
