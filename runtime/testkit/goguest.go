package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	goOnce sync.Once
	goWasm []byte
	goErr  string
)

// GoGuest returns testdata/wasm/goguest built with
// GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared, once per test binary.
func GoGuest(t testing.TB) []byte {
	t.Helper()
	goOnce.Do(func() {
		dir, err := os.MkdirTemp("", "goguest")
		if err != nil {
			goErr = err.Error()
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "goguest.wasm")
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-buildmode=c-shared", "-o", out, ".")
		cmd.Dir = filepath.Join(WasmDir(), "goguest")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOWORK=off", "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			goErr = err.Error() + "\n" + string(msg)
			return
		}
		goWasm, err = os.ReadFile(out)
		if err != nil {
			goErr = err.Error()
		}
	})
	if goErr != "" {
		t.Fatalf("building the Go guest: %s", goErr)
	}
	return goWasm
}
