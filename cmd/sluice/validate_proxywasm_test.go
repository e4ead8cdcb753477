package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateNamesAMissingProxyWasmImport: a proxy-wasm guest that imports
// a host function Sluice does not provide is refused by `sluice validate`,
// which names the import.
func TestValidateNamesAMissingProxyWasmImport(t *testing.T) {
	dir := t.TempDir()
	wasm := filepath.Join(dir, "grpc.wasm")
	if out, err := exec.Command("wat2wasm", filepath.Join("..", "..", "testdata", "wasm", "proxywasm_grpc.wat"), "-o", wasm).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm (apt-get install wabt): %v\n%s", err, out)
	}
	cfg := writeFile(t, "sluice.yaml", "filters:\n  grpc: {module: "+wasm+"}\nroutes: [{name: r, match: {path: /}, filters: [grpc]}]\n")
	out, err := exec.Command(sluiceBin, "validate", "-f", cfg).CombinedOutput()
	if code := exitCode(err); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, out)
	}
	if !strings.Contains(string(out), `imports proxy-wasm function "env"."proxy_grpc_call", which Sluice does not provide`) {
		t.Fatalf("output does not name the import:\n%s", out)
	}
}
