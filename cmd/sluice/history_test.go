package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestHistoryThroughTheCLISurvivesAPublisherRestart(t *testing.T) {
	data := t.TempDir()
	api, natsAddr := freeAddr(t), freeAddr(t)
	pub := startProcess(t, "publisher", "--embedded-nats", "--nats-listen", natsAddr, "--listen", api, "--data", data)
	waitHTTP(t, "http://"+api+"/ui")
	env := []string{"SLUICE_PUBLISHER=http://" + api, "SLUICE_TOKEN=", "USER=carol"}
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	write := func(up string) {
		os.WriteFile(cfg, []byte("upstreams: {u: {endpoints: ["+up+"]}}\nroutes: [{name: r, match: {path: /}, upstream: u}]\n"), 0o644)
	}
	if out, code := sluiceRun(t, env, "history", "--data", data); code != 0 || strings.TrimSpace(out) != "no history yet" {
		t.Fatalf("history before anything: %d %s", code, out)
	}
	write("http://127.0.0.1:1")
	if out, code := sluiceRun(t, env, "apply", "-f", cfg, "--data", data); code != 0 {
		t.Fatalf("apply: %d %s", code, out)
	}
	write("http://127.0.0.1:2")
	if out, code := sluiceRun(t, env, "apply", "-f", cfg, "--note", "move u to port 2", "--data", data); code != 0 {
		t.Fatalf("apply: %d %s", code, out)
	}
	if out, code := sluiceRun(t, env, "rollback", "--data", data); code != 0 {
		t.Fatalf("rollback: %d %s", code, out)
	}

	// The publisher stops and starts again on the same data dir.
	pub.Process.Signal(syscall.SIGTERM)
	if err := pub.Wait(); err != nil {
		t.Fatalf("publisher exit: %v", err)
	}
	startProcess(t, "publisher", "--embedded-nats", "--nats-listen", natsAddr, "--listen", api, "--data", data)
	waitHTTP(t, "http://"+api+"/ui")

	out, code := sluiceRun(t, env, "history", "--data", data)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[0], "SEQ") ||
		!regexpMatch(`^3\s.*\sbootstrap \(carol\)\s+rollback\s+3\s+sha256:\S{12}\s+published\s+rollback to 1$`, lines[1]) ||
		!regexpMatch(`^2\s.*\sbootstrap \(carol\)\s+apply\s+2\s+sha256:\S{12}\s+published\s+move u to port 2; 1 change\(s\)$`, lines[2]) ||
		!regexpMatch(`^1\s.*\sapply\s+1\s.*published\s+2 change\(s\)$`, lines[3]) {
		t.Fatalf("history after a restart: %d\n%s", code, out)
	}
	out, code = sluiceRun(t, env, "history", "--json", "--limit", "2", "--data", data)
	var page struct {
		Entries []struct {
			Seq      uint64 `json:"seq"`
			Who      string `json:"who"`
			Action   string `json:"action"`
			Revision int64  `json:"revision"`
			Digest   string `json:"digest"`
			Outcome  string `json:"outcome"`
			Time     string `json:"time"`
		} `json:"entries"`
		Next uint64 `json:"next"`
	}
	if err := json.Unmarshal([]byte(out), &page); code != 0 || err != nil || len(page.Entries) != 2 || page.Next != 2 ||
		page.Entries[0].Who != "bootstrap" || page.Entries[0].Action != "rollback" || page.Entries[1].Revision != 2 || page.Entries[0].Time == "" {
		t.Fatalf("history --json --limit 2: %d %v\n%s", code, err, out)
	}
	out, code = sluiceRun(t, env, "history", "--before", "2", "--data", data)
	if code != 0 || !regexpMatch(`(?m)^1\s`, out) || regexpMatch(`(?m)^[23]\s`, out) {
		t.Fatalf("history --before 2: %d\n%s", code, out)
	}
	if out, code := sluiceRun(t, env, "apply", "-f", cfg, "--note", "two\nlines", "--data", data); code != 1 || !strings.Contains(out, "one line of printable text") {
		t.Fatalf("apply --note with a newline: %d %s", code, out)
	}
	if out, code := sluiceRun(t, env, "history", "--limit", "0", "--data", data); code != 1 || !strings.HasPrefix(out, "sluice: history: --limit 0") {
		t.Fatalf("history --limit 0: %d %s", code, out)
	}
}
