package edge

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// filtersUsingSluiceModule are the example filters that call Sluice's own
// host module (metrics, outbound calls); every other one must import only
// the http-wasm ABI and WASI, so it also runs on other http-wasm hosts.
var filtersUsingSluiceModule = map[string]bool{"status-metrics": true, "introspect": true}

// proxyWasmFilters speak Envoy's proxy-wasm ABI (imports from "env"), not
// http-wasm.
var proxyWasmFilters = map[string]bool{"pw-headers": true}

// TestOnlySluiceFiltersImportTheSluiceModule reads each built example
// filter's import section (wasm-objdump, Debian's wabt): the Go linker
// must have left out the SDK's sluice imports in filters that never call
// them.
func TestOnlySluiceFiltersImportTheSluiceModule(t *testing.T) {
	mods, _ := filepath.Glob(filepath.Join(repoRoot(t), "filters", "*.wasm"))
	if len(mods) == 0 {
		t.Fatal("no filters/*.wasm: run ./wasm-build.sh (make test does)")
	}
	for _, m := range mods {
		name := strings.TrimSuffix(filepath.Base(m), ".wasm")
		out, err := exec.Command("wasm-objdump", "-j", "Import", "-x", m).CombinedOutput()
		if err != nil {
			t.Fatalf("wasm-objdump %s (apt-get install wabt): %v\n%s", m, err, out)
		}
		imports := string(out)
		if proxyWasmFilters[name] {
			if !strings.Contains(imports, "<- env.proxy_") || strings.Contains(imports, "<- http_handler.") || strings.Contains(imports, "<- sluice.") {
				t.Errorf("%s: want only proxy-wasm imports (env.proxy_*) in:\n%s", name, imports)
			}
			continue
		}
		if !strings.Contains(imports, "<- http_handler.") {
			t.Fatalf("%s: no http_handler import in:\n%s", name, imports)
		}
		if got := strings.Contains(imports, "<- sluice."); got != filtersUsingSluiceModule[name] {
			t.Errorf("%s imports from the sluice module: %v, want %v", name, got, filtersUsingSluiceModule[name])
		}
	}
}
