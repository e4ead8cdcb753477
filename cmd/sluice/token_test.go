package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestTokensThroughTheCLI(t *testing.T) {
	data := t.TempDir()
	api, natsAddr := freeAddr(t), freeAddr(t)
	startProcess(t, "publisher", "--embedded-nats", "--nats-listen", natsAddr, "--listen", api, "--data", data)
	waitHTTP(t, "http://"+api+"/ui")
	admin := []string{"SLUICE_PUBLISHER=http://" + api, "SLUICE_TOKEN="}
	as := func(token string) []string {
		return []string{"SLUICE_PUBLISHER=http://" + api, "SLUICE_TOKEN=" + token}
	}
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	os.WriteFile(cfg, []byte("upstreams: {u: {endpoints: [http://127.0.0.1:1]}}\nroutes: [{name: r, match: {path: /}, upstream: u}]\n"), 0o644)

	// create prints the token alone on stdout, so it can be captured.
	create := func(name, role string) string {
		t.Helper()
		cmd := cliCmd(admin, "token", "create", name, "--role", role, "--data", data)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		token := strings.TrimSpace(string(out))
		if err != nil || len(token) != 64 || !strings.Contains(stderr.String(), "shown only this once") {
			t.Fatalf("token create %s: %v %q %q", name, err, out, stderr.String())
		}
		return token
	}
	ci := create("ci", "deploy")
	viewer := create("viewer", "read")

	if out, code := sluiceRun(t, as(ci), "apply", "-f", cfg); code != 0 || !strings.Contains(out, "revision 1 published") {
		t.Fatalf("apply with the deploy token: %d %s", code, out)
	}
	out, code := sluiceRun(t, as(ci), "token", "list")
	if code != 1 || !strings.HasPrefix(out, "sluice: token list: forbidden") || !strings.Contains(out, "role admin") || !strings.Contains(out, `"ci"`) {
		t.Fatalf("token list with the deploy token: %d %s", code, out)
	}
	if out, code := sluiceRun(t, as(viewer), "status"); code != 0 || !strings.Contains(out, "stable revision 1") {
		t.Fatalf("status with the read token: %d %s", code, out)
	}
	out, code = sluiceRun(t, as(viewer), "apply", "-f", cfg)
	if code != 1 || !strings.Contains(out, "forbidden") || !strings.Contains(out, "role deploy") || !strings.Contains(out, `"viewer" has role read`) {
		t.Fatalf("apply with the read token: %d %s", code, out)
	}
	out, code = sluiceRun(t, as(viewer), "rollback")
	if code != 1 || !strings.Contains(out, "role deploy") {
		t.Fatalf("rollback with the read token: %d %s", code, out)
	}

	out, code = sluiceRun(t, admin, "token", "list", "--data", data)
	if code != 0 || !regexpMatch(`(?m)^bootstrap\s+admin\s`, out) || !regexpMatch(`(?m)^ci\s+deploy\s+\S+\s+bootstrap$`, out) ||
		!regexpMatch(`(?m)^viewer\s+read\s`, out) || strings.Contains(out, ci) || strings.Contains(out, viewer) {
		t.Fatalf("token list: %d\n%s", code, out)
	}
	if out, code := sluiceRun(t, admin, "token", "revoke", "viewer", "--data", data); code != 0 || !strings.Contains(out, `token "viewer" revoked`) {
		t.Fatalf("token revoke: %d %s", code, out)
	}
	out, code = sluiceRun(t, as(viewer), "status")
	if code != 1 || !strings.Contains(out, "unauthorized") {
		t.Fatalf("status with a revoked token: %d %s", code, out)
	}
	tokens, err := os.ReadFile(filepath.Join(data, "tokens.json"))
	if err != nil || strings.Contains(string(tokens), ci) || !strings.Contains(string(tokens), `"ci"`) {
		t.Fatalf("tokens.json: %v\n%s", err, tokens)
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// cliCmd is the sluice binary with args, its environment extended by env.
func cliCmd(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(sluiceBin, args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}
