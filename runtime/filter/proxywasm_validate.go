package filter

import (
	"fmt"
	"slices"

	"github.com/tetratelabs/wazero/api"

	"github.com/sluicegw/sluice/runtime/filter/internal/wasmrewrite"
)

// checkPWExportsPresent requires what the host cannot do without: memory,
// proxy_on_context_create and an allocator.
func checkPWExportsPresent(exports []wasmrewrite.Export) error {
	has := func(name string, kind wasmrewrite.ExternKind) bool {
		return slices.ContainsFunc(exports, func(e wasmrewrite.Export) bool { return e.Name == name && e.Kind == kind })
	}
	switch {
	case has(pwOldVersion, wasmrewrite.KindFunc) && !slices.ContainsFunc(pwVersionExports, func(v string) bool { return has(v, wasmrewrite.KindFunc) }):
		return fmt.Errorf("speaks proxy-wasm ABI 0.1.0 (exports %q); Sluice hosts 0.2.0 and 0.2.1", pwOldVersion)
	case !has(exportMemory, wasmrewrite.KindMemory):
		return fmt.Errorf("does not export memory %q (a proxy-wasm guest exports its memory)", exportMemory)
	case !has(pwOnContextCreate.name, wasmrewrite.KindFunc):
		return fmt.Errorf("does not export function %q (a proxy-wasm guest creates its contexts there)", pwOnContextCreate.name)
	case !has(pwMalloc.name, wasmrewrite.KindFunc) && !has(pwMemoryAllocate.name, wasmrewrite.KindFunc):
		return fmt.Errorf("exports neither %q nor %q (the host allocates the guest's memory through one)", pwMemoryAllocate.name, pwMalloc.name)
	}
	return nil
}

// checkPWSignatures compares the callbacks a proxy-wasm guest exports with
// the ABI's (all i32), so a callback is never called with the wrong stack.
func checkPWSignatures(exports map[string]api.FunctionDefinition) error {
	for _, e := range pwExports {
		f, ok := exports[e.name]
		if !ok {
			continue
		}
		params, results := e.signature()
		if !slices.Equal(f.ParamTypes(), params) || !slices.Equal(f.ResultTypes(), results) {
			return fmt.Errorf("exports %q with signature %s, want %s", e.name,
				signature(f.ParamTypes(), f.ResultTypes()), signature(params, results))
		}
	}
	for _, name := range []string{exportInitialize, exportStart} {
		if f, ok := exports[name]; ok && (len(f.ParamTypes()) != 0 || len(f.ResultTypes()) != 0) {
			return fmt.Errorf("exports %q with signature %s, want () -> ()", name, signature(f.ParamTypes(), f.ResultTypes()))
		}
	}
	return nil
}
