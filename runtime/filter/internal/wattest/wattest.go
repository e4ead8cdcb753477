// Package wattest compiles the test guests of testdata/wasm for tests: the
// hand-written .wat files with wat2wasm (Debian package wabt) and the Go
// guest with the Go toolchain. Nothing is skipped: a missing tool fails the
// test with the command to install it.
package wattest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Dir returns the absolute path of testdata/wasm.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "testdata", "wasm")
}

var (
	mu    sync.Mutex
	cache = map[string][]byte{}
)

// Compile returns testdata/wasm/NAME.wat compiled by wat2wasm. Results are
// cached for the test binary.
func Compile(t testing.TB, name string) []byte {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if b, ok := cache[name]; ok {
		return b
	}
	bin, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Fatalf("wat2wasm not found (install Debian's wabt: apt-get install -y wabt): %v", err)
	}
	out := filepath.Join(t.TempDir(), name+".wasm")
	cmd := exec.Command(bin, "--enable-threads", filepath.Join(Dir(), name+".wat"), "-o", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm %s.wat: %v\n%s", name, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	cache[name] = b
	return b
}

var (
	goOnce  sync.Once
	goWasm  []byte
	goErr   string
	goBuild = filepath.Join("goguest")
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
		cmd.Dir = filepath.Join(Dir(), goBuild)
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
