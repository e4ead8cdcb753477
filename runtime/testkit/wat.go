package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// WasmDir is the absolute path of testdata/wasm, where the test guests are.
func WasmDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "wasm")
}

var (
	watMu    sync.Mutex
	watBytes = map[string][]byte{}
	watPaths = map[string]string{}
)

// WAT returns testdata/wasm/NAME.wat compiled by wat2wasm (Debian package
// wabt), once per test binary. Nothing is skipped: without wat2wasm the test
// fails with the command that installs it.
func WAT(t testing.TB, name string) []byte {
	t.Helper()
	watMu.Lock()
	defer watMu.Unlock()
	return watLocked(t, name)
}

func watLocked(t testing.TB, name string) []byte {
	t.Helper()
	if b, ok := watBytes[name]; ok {
		return b
	}
	bin, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Fatalf("wat2wasm not found (install Debian's wabt: apt-get install -y wabt): %v", err)
	}
	out := filepath.Join(t.TempDir(), name+".wasm")
	cmd := exec.Command(bin, "--enable-threads", filepath.Join(WasmDir(), name+".wat"), "-o", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm %s.wat: %v\n%s", name, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	watBytes[name] = b
	return b
}

// WATFile returns the path of WAT(t, name) written as a file, for a config
// to name as a module. The file outlives the test (later tests of the binary
// share it): it is os.TempDir()/sluice-wat-NAME.wasm, written beside and
// renamed into place, since test binaries of other packages may be reading
// it at the same moment (its content is the same for all of them).
func WATFile(t testing.TB, name string) string {
	t.Helper()
	watMu.Lock()
	defer watMu.Unlock()
	if p, ok := watPaths[name]; ok {
		return p
	}
	b := watLocked(t, name)
	tmp, err := os.CreateTemp(os.TempDir(), "sluice-wat-"+name+"-*.wasm")
	if err != nil {
		t.Fatal(err)
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	out := filepath.Join(os.TempDir(), "sluice-wat-"+name+".wasm")
	if err == nil {
		err = os.Rename(tmp.Name(), out)
	}
	if err != nil {
		os.Remove(tmp.Name())
		t.Fatal(err)
	}
	watPaths[name] = out
	return out
}
