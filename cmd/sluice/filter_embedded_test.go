package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFilterNewWithOnlyTheBinary is a user with the sluice binary and Go,
// no checkout: in a directory outside any checkout, with no SLUICE_SDK and
// no module proxy (GOPROXY=off), `filter new` writes the SDK the binary
// carries beside the filter, and go test, `filter build` and `filter test`
// work on it; C and AssemblyScript filters likewise (their toolchains are
// what .ci/run installs: clang, lld, wasi-libc; npm, which fetches asc).
func TestFilterNewWithOnlyTheBinary(t *testing.T) {
	work := t.TempDir()
	env := []string{"GOFLAGS=-mod=mod", "GOPROXY=off", "XDG_CACHE_HOME=" + filepath.Join(sharedDataDir, "xdg-cache")}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLUICE_SDK=") && !strings.HasPrefix(kv, "GOFLAGS=") && !strings.HasPrefix(kv, "GOPROXY=") {
			env = append(env, kv)
		}
	}
	run := func(dir, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := run(work, sluiceBin, "filter", "new", "greet"); !strings.Contains(out, "from this binary") {
		t.Fatalf("filter new printed:\n%s", out)
	}
	gomod, err := os.ReadFile(filepath.Join(work, "greet", "go.mod"))
	if err != nil || !strings.Contains(string(gomod), "=> ./sluice-sdk") {
		t.Fatalf("go.mod does not use the embedded SDK (%v):\n%s", err, gomod)
	}
	run(filepath.Join(work, "greet"), "go", "test", "./...")
	if out := run(work, sluiceBin, "filter", "build", "greet"); !strings.Contains(out, "loads as an http-wasm guest") {
		t.Fatalf("build printed:\n%s", out)
	}
	req := filepath.Join(work, "req.http")
	if err := os.WriteFile(req, []byte("GET /hi HTTP/1.1\nHost: example.com\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := run(work, sluiceBin, "filter", "test", "greet/greet.wasm", "--request", req); !strings.Contains(out, "X-Greet: on") {
		t.Fatalf("filter test printed:\n%s", out)
	}

	for _, lang := range []string{"c", "as"} {
		name := "greet-" + lang
		run(work, sluiceBin, "filter", "new", name, "--lang", lang)
		if out := run(work, sluiceBin, "filter", "build", name); !strings.Contains(out, "loads as an http-wasm guest") {
			t.Fatalf("%s: build printed:\n%s", lang, out)
		}
		want := "X-Greet-" + strings.ToUpper(lang[:1]) + lang[1:] + ": on"
		if out := run(work, sluiceBin, "filter", "test", name+"/"+name+".wasm", "--request", req); !strings.Contains(out, want) {
			t.Fatalf("%s: filter test printed:\n%s", lang, out)
		}
	}
}
