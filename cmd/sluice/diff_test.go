package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiffThroughTheCLI(t *testing.T) {
	data := t.TempDir()
	api, natsAddr := freeAddr(t), freeAddr(t)
	startProcess(t, "publisher", "--embedded-nats", "--nats-listen", natsAddr, "--listen", api, "--data", data)
	waitHTTP(t, "http://"+api+"/ui")
	env := []string{"SLUICE_PUBLISHER=http://" + api, "SLUICE_TOKEN="}
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	v1 := write("v1.yaml", "upstreams: {u: {endpoints: [http://127.0.0.1:1]}}\nroutes: [{name: r, match: {path: /}, upstream: u}]\n")
	v2 := write("v2.yaml", "upstreams: {u: {endpoints: [http://127.0.0.1:1]}, w: {endpoints: [http://127.0.0.1:2]}}\n"+
		"routes: [{name: r, match: {path: /}, upstream: w, rate_limit: {requests: 5, per: 1s}}, {name: s, match: {path: /s}, upstream: u}]\n")

	// Nothing published yet: everything is an addition, exit 1.
	out, code := sluiceRun(t, env, "diff", "-f", v1, "--data", data)
	if code != 1 || !strings.Contains(out, "against no stable revision (none published yet): 2 change(s)") || !strings.Contains(out, "+ route r") {
		t.Fatalf("diff before any apply: %d\n%s", code, out)
	}
	out, code = sluiceRun(t, env, "apply", "-f", v1, "--data", data)
	if code != 0 || !strings.Contains(out, "revision 1 published") || !strings.Contains(out, "+ upstream u") {
		t.Fatalf("apply prints its diff: %d\n%s", code, out)
	}
	out, code = sluiceRun(t, env, "diff", "-f", v1, "--data", data)
	if code != 0 || strings.TrimSpace(out) != "no changes against stable revision 1" {
		t.Fatalf("diff of the running config: %d\n%s", code, out)
	}
	want := []string{"against stable revision 1: 4 change(s)", "  + route s\n", "  ~ route r: upstream\n", "  + upstream w\n", "  + limits of route r\n"}
	out, code = sluiceRun(t, env, "diff", "-f", v2, "--data", data)
	for _, w := range want {
		if code != 1 || !strings.Contains(out, w) {
			t.Fatalf("diff of a change: %d, want 1 and %q:\n%s", code, w, out)
		}
	}
	out, code = sluiceRun(t, env, "diff", "-f", v2, "--json", "--data", data)
	var d struct {
		Against int64
		Routes  struct {
			Added   []string
			Changed []struct{ Name string }
		}
		Limits struct{ Added []string }
	}
	if err := json.Unmarshal([]byte(out), &d); code != 1 || err != nil || d.Against != 1 || strings.Join(d.Routes.Added, ",") != "s" ||
		len(d.Routes.Changed) != 1 || d.Routes.Changed[0].Name != "r" || strings.Join(d.Limits.Added, ",") != "route r" {
		t.Fatalf("diff --json: %d %v\n%s", code, err, out)
	}
	// apply prints the same lines.
	out, code = sluiceRun(t, env, "apply", "-f", v2, "--data", data)
	for _, w := range want {
		if code != 0 || !strings.Contains(out, w) {
			t.Fatalf("apply of the change: %d, want %q:\n%s", code, w, out)
		}
	}

	// Failures exit 2 with a one-line reason.
	for _, args := range [][]string{
		{"diff"},
		{"diff", "-f", filepath.Join(dir, "missing.yaml"), "--data", data},
		{"diff", "-f", write("bad.yaml", "routes: [{name: x, upstream: nobody}]\n"), "--data", data},
		{"diff", "-f", v1, "--publisher", "http://127.0.0.1:1", "--data", data},
	} {
		out, code := sluiceRun(t, env, args...)
		if code != 2 || !strings.HasPrefix(out, "sluice: ") {
			t.Errorf("%v: exit %d, want 2 with a reason:\n%s", args, code, out)
		}
	}
}
