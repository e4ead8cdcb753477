package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The README's filter walk-through, through the binary: new, build, test.
func TestFilterNewBuildTest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "greet")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(sluiceBin, args...)
		// The tools' wasm compilation cache, shared between test runs.
		cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(sharedDataDir, "xdg-cache"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("sluice %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("filter", "new", "greet", "--dir", dir, "--sdk", filepath.Join("..", "..", "sdk"))
	if out := run("filter", "build", dir); !strings.Contains(out, "loads as an http-wasm guest") {
		t.Fatalf("build printed:\n%s", out)
	}
	req := writeFile(t, "req.http", "GET /hi HTTP/1.1\nHost: example.com\n\n")
	out := run("filter", "test", filepath.Join(dir, "greet.wasm"), "--request", req, "--config", `{"value": "from-test"}`)
	for _, want := range []string{"request passed on to the upstream", "X-Greet: from-test", "GET /hi HTTP/1.1"} {
		if !strings.Contains(out, want) {
			t.Errorf("filter test output lacks %q:\n%s", want, out)
		}
	}

	cmd := exec.Command(sluiceBin, "filter", "test", filepath.Join(dir, "greet.wasm"))
	if out, err := cmd.CombinedOutput(); exitCode(err) != 1 || !strings.Contains(string(out), "--request FILE is required") {
		t.Errorf("without --request: exit %d, %s", exitCode(err), out)
	}
}
