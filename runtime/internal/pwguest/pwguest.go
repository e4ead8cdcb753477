// Package pwguest builds the proxy-wasm test guest of testdata/proxywasm
// (AssemblyScript, on the SDK @solo-io/proxy-runtime from npm) for tests,
// once per test binary. Without npm's packages installed (`npm ci` in
// testdata/proxywasm) the tests that need it skip, saying so, unless
// SLUICE_NPM_TESTS=1 (set by .ci/run), where they fail.
package pwguest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Dir returns the absolute path of testdata/proxywasm.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "proxywasm")
}

var (
	once    sync.Once
	wasm    []byte
	skipMsg string // the packages are missing
	errMsg  string // the build failed
)

// Build returns the guest compiled by asc (assemblyscript's compiler).
func Build(t testing.TB) []byte {
	t.Helper()
	once.Do(build)
	if skipMsg != "" {
		if os.Getenv("SLUICE_NPM_TESTS") == "1" {
			t.Fatalf("SLUICE_NPM_TESTS=1 but %s", skipMsg)
		}
		t.Skipf("skipped: %s (SLUICE_NPM_TESTS=1 makes this a failure)", skipMsg)
	}
	if errMsg != "" {
		t.Fatalf("building the proxy-wasm test guest: %s", errMsg)
	}
	return wasm
}

func build() {
	dir := Dir()
	asc := filepath.Join(dir, "node_modules", ".bin", "asc")
	if _, err := os.Stat(asc); err != nil {
		skipMsg = "the proxy-wasm test guest needs npm packages: run `npm ci` in " + dir
		return
	}
	if _, err := exec.LookPath("node"); err != nil {
		skipMsg = "node is not installed (apt-get install nodejs npm)"
		return
	}
	out, err := os.MkdirTemp("", "pwguest")
	if err != nil {
		errMsg = err.Error()
		return
	}
	defer os.RemoveAll(out)
	file := filepath.Join(out, "guest.wasm")
	// Not --optimize: binaryen's passes take 5x the CPU (~15 s), and the
	// tests need the SDK's behaviour, not its speed.
	cmd := exec.Command(asc, "assembly/index.ts", "-b", file, "--use", "abort=abort_proc_exit")
	cmd.Dir = dir
	if msg, err := cmd.CombinedOutput(); err != nil {
		errMsg = err.Error() + "\n" + string(msg)
		return
	}
	if wasm, err = os.ReadFile(file); err != nil {
		errMsg = err.Error()
	}
}
