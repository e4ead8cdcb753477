package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// startProcess runs the sluice binary in the background, stopped with
// SIGTERM at the end of the test.
func startProcess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(sluiceBin, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return cmd
}

// sluiceRun runs one CLI command against the publisher and returns its
// combined output and exit code.
func sluiceRun(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(sluiceBin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), exitCode(err)
}

func body(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestFleetThroughTheCLI(t *testing.T) {
	v1 := startEcho(t, "v1")
	v2 := startEcho(t, "v2")
	data := t.TempDir()
	api, natsAddr := freeAddr(t), freeAddr(t)
	startProcess(t, "publisher", "--embedded-nats", "--nats-listen", natsAddr, "--listen", api, "--data", data)
	waitHTTP(t, "http://"+api+"/ui")
	for _, f := range []string{"token", "signing.key", "signing.pub", "publisher.creds", "nats-operator.nk", "nats-system.nk", "nats-account.nk"} {
		if info, err := os.Stat(filepath.Join(data, f)); err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	env := []string{"SLUICE_PUBLISHER=http://" + api, "SLUICE_TOKEN="}
	pubFlags := []string{"--data", data}

	var edges []string
	for i, region := range []string{"eu", "us", "us"} {
		listen := freeAddr(t)
		startProcess(t, "edge", "--nats", "nats://"+natsAddr, "--trust", filepath.Join(data, "signing.pub"), "--nats-creds", nodeCreds(t, env, data, fmt.Sprintf("edge-%d", i)),
			"--node", fmt.Sprintf("edge-%d", i), "--labels", "region="+region, "--listen", listen, "--data", t.TempDir())
		edges = append(edges, "http://"+listen)
	}

	cfgDir := t.TempDir()
	cfg := func(up string) string {
		p := filepath.Join(cfgDir, "sluice.yaml")
		os.WriteFile(p, []byte(fmt.Sprintf("upstreams: {u: {endpoints: [%s]}}\nroutes: [{name: r, match: {path_prefix: /api}, upstream: u}]\n", up)), 0o644)
		return p
	}

	// Without a token: exit 1, one line.
	out, code := sluiceRun(t, env, "status", "--data", t.TempDir())
	if code != 1 || !strings.HasPrefix(out, "sluice: status: no API token") {
		t.Fatalf("status without a token: %d %q", code, out)
	}
	out, code = sluiceRun(t, []string{"SLUICE_PUBLISHER=http://" + api, "SLUICE_TOKEN=wrong"}, "status")
	if code != 1 || !strings.Contains(out, "unauthorized") {
		t.Fatalf("status with a wrong token: %d %q", code, out)
	}

	// Every node live before --wait counts them.
	testkit.Eventually(t, 20*time.Second, "3 nodes in status", func() (bool, string) {
		out, code := sluiceRun(t, env, append([]string{"status", "--json"}, pubFlags...)...)
		var st struct{ Nodes []json.RawMessage }
		return code == 0 && json.Unmarshal([]byte(out), &st) == nil && len(st.Nodes) == 3, out
	})
	out, code = sluiceRun(t, env, append([]string{"apply", "-f", cfg(v1), "--wait"}, pubFlags...)...)
	if code != 0 || !strings.Contains(out, "revision 1 published") || !strings.Contains(out, "revision 1: 3/3 live nodes") {
		t.Fatalf("apply --wait: %d\n%s", code, out)
	}
	for _, e := range edges {
		if b := body(e + "/api/x"); !strings.HasPrefix(b, "v1 ") {
			t.Fatalf("%s after apply --wait: %q", e, b)
		}
	}

	// A canary to region=eu: only edge-0 moves.
	out, code = sluiceRun(t, env, append([]string{"apply", "-f", cfg(v2), "--canary", "region=eu", "--wait"}, pubFlags...)...)
	if code != 0 || !strings.Contains(out, "revision 2 published (canary region=eu") || !strings.Contains(out, "1/1 live nodes") {
		t.Fatalf("apply --canary --wait: %d\n%s", code, out)
	}
	if b0, b1 := body(edges[0]+"/api/x"), body(edges[1]+"/api/x"); !strings.HasPrefix(b0, "v2 ") || !strings.HasPrefix(b1, "v1 ") {
		t.Fatalf("during the canary: eu %q, us %q", b0, b1)
	}
	out, code = sluiceRun(t, env, append([]string{"status", "--json"}, pubFlags...)...)
	var st struct {
		Nodes []struct {
			ID       string            `json:"id"`
			Labels   map[string]string `json:"labels"`
			Revision int64             `json:"revision"`
			State    string            `json:"state"`
			LastSeen time.Time         `json:"last_seen"`
			Error    *string           `json:"error"`
		} `json:"nodes"`
		Stable int64  `json:"stable"`
		Canary *int64 `json:"canary"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Stable != 1 || st.Canary == nil || *st.Canary != 2 || len(st.Nodes) != 3 ||
		st.Nodes[0].ID != "edge-0" || st.Nodes[0].Revision != 2 || st.Nodes[0].Labels["region"] != "eu" || st.Nodes[1].Revision != 1 ||
		st.Nodes[0].State != "ready" || st.Nodes[0].Error == nil || st.Nodes[0].LastSeen.IsZero() {
		t.Fatalf("status --json during the canary: %d\n%s", code, out)
	}

	out, code = sluiceRun(t, env, append([]string{"rollout", "promote"}, pubFlags...)...)
	if code != 0 || !strings.Contains(out, "revision 2 promoted") {
		t.Fatalf("rollout promote: %d %s", code, out)
	}
	for _, e := range edges {
		testkit.WaitFor(t, 10*time.Second, e+" on the promoted revision", func() bool { return strings.HasPrefix(body(e+"/api/x"), "v2 ") })
	}

	out, code = sluiceRun(t, env, append([]string{"rollback"}, pubFlags...)...)
	if code != 0 || !strings.Contains(out, "revision 3 published (rollback to 1)") {
		t.Fatalf("rollback: %d %s", code, out)
	}
	for _, e := range edges {
		testkit.WaitFor(t, 10*time.Second, e+" rolled back", func() bool { return strings.HasPrefix(body(e+"/api/x"), "v1 ") })
	}
	testkit.WaitFor(t, 10*time.Second, "a status table with every node on 3", func() bool {
		out, code := sluiceRun(t, env, append([]string{"status"}, pubFlags...)...)
		return code == 0 && strings.Contains(out, "stable revision 3, canary none, 3 live node(s)") &&
			strings.Count(out, " 3 ") >= 3 && !strings.Contains(out, "BEHIND") && strings.Contains(out, "region=us")
	})

	// A config that fails when built publishes nothing and exits 1.
	bad := filepath.Join(cfgDir, "bad.yaml")
	os.WriteFile(bad, []byte("upstreams: {u: {endpoints: [http://127.0.0.1:1]}}\npolicies: {p: {module: pol}}\nroutes: [{name: r, match: {path: /}, upstream: u, policy: p}]\n"), 0o644)
	os.MkdirAll(filepath.Join(cfgDir, "pol"), 0o755)
	os.WriteFile(filepath.Join(cfgDir, "pol", "p.rego"), []byte("package sluice.authz\n\ndecision := \n"), 0o644)
	out, code = sluiceRun(t, env, append([]string{"apply", "-f", bad}, pubFlags...)...)
	if code != 1 || !strings.HasPrefix(out, "sluice: ") || !strings.Contains(out, "nothing published") ||
		!strings.Contains(out, "pol/p.rego:") || strings.Contains(out, "artifacts/policies") {
		t.Fatalf("apply of a bad config: %d\n%s", code, out)
	}
	out, code = sluiceRun(t, env, append([]string{"rollout", "abort"}, pubFlags...)...)
	if code != 1 || !strings.Contains(out, "no canary in progress") {
		t.Fatalf("abort without a canary: %d %s", code, out)
	}

	// Discovery: an announced instance serves while `sluice announce` runs.
	disc := filepath.Join(cfgDir, "disc.yaml")
	os.WriteFile(disc, []byte("upstreams: {billing: {discovery: nats}}\nroutes: [{name: b, match: {path_prefix: /api}, upstream: billing}]\n"), 0o644)
	if out, code := sluiceRun(t, env, append([]string{"apply", "-f", disc, "--wait"}, pubFlags...)...); code != 0 {
		t.Fatalf("apply of a discovery config: %d %s", code, out)
	}
	announcer := startProcess(t, "announce", "billing", startEcho(t, "announced"), "--nats", "nats://"+natsAddr, "--nats-creds", nodeCreds(t, env, data, "announcer", "--announce", "billing"))
	for _, e := range edges {
		testkit.WaitFor(t, 10*time.Second, e+" using the announced instance", func() bool { return strings.HasPrefix(body(e+"/api/x"), "announced ") })
	}
	announcer.Process.Signal(syscall.SIGTERM)
	if err := announcer.Wait(); err != nil {
		t.Fatalf("announce exit: %v", err)
	}
	for _, e := range edges {
		testkit.WaitFor(t, 10*time.Second, e+" dropping the withdrawn instance", func() bool {
			resp, err := http.Get(e + "/api/x")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusServiceUnavailable
		})
	}
}

// startEcho is an upstream answering "NAME PATH".
func startEcho(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name+" "+r.URL.Path) })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func TestApplyWaitExitsOneWhenANodeRefuses(t *testing.T) {
	data := t.TempDir()
	api, natsAddr := freeAddr(t), freeAddr(t)
	startProcess(t, "publisher", "--embedded-nats", "--nats-listen", natsAddr, "--listen", api, "--data", data)
	waitHTTP(t, "http://"+api+"/ui")
	// This node cannot keep artifacts: a file sits where its cache goes.
	nodeData := t.TempDir()
	os.WriteFile(filepath.Join(nodeData, "artifacts"), []byte("not a directory"), 0o644)
	env := []string{"SLUICE_PUBLISHER=http://" + api, "SLUICE_TOKEN="}
	startProcess(t, "edge", "--nats", "nats://"+natsAddr, "--trust", filepath.Join(data, "signing.pub"), "--nats-creds", nodeCreds(t, env, data, "broken-disk"),
		"--listen", freeAddr(t), "--data", nodeData)
	testkit.Eventually(t, 20*time.Second, "the node in status", func() (bool, string) {
		out, code := sluiceRun(t, env, "status", "--data", data)
		return code == 0 && strings.Contains(out, "broken-disk"), out
	})

	dir := t.TempDir()
	wasm := filepath.Join(dir, "answer.wasm")
	if err := os.WriteFile(wasm, testkit.WAT(t, "answer"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(cfg, []byte("filters: {answer: {module: answer.wasm}}\nroutes: [{name: fn, match: {path: /fn}, filters: [answer]}]\n"), 0o644)
	out, code := sluiceRun(t, env, "apply", "-f", cfg, "--wait", "--data", data)
	if code != 1 || !strings.Contains(out, "revision 1 published") || !strings.Contains(out, "node broken-disk refused revision 1") {
		t.Fatalf("apply --wait with a refusing node: %d\n%s", code, out)
	}
}

func TestFleetCommandsFailWithOneLineReason(t *testing.T) {
	for _, args := range [][]string{
		{"edge", "--nats", "nats://127.0.0.1:1"}, // no --trust: refused, fails closed
		{"publisher"},
		{"publisher", "--embedded-nats", "--nats", "nats://127.0.0.1:1"},
		{"publisher", "--embedded-nats", "--replicas", "9"},
		{"apply"},
		{"apply", "-f", "x.yaml", "--canary", "200%"},
		{"apply", "-f", "x.yaml", "--bake", "1m"},
		{"apply", "-f", "x.yaml", "--canary", "region=eu", "--max-error-rate", "5"},
		{"apply", "-f", "x.yaml", "--canary", "region=eu", "--bake", "1m", "--max-error-rate", "200"},
		{"apply", "-f", "x.yaml", "--canary", "region=eu", "--bake", "1m", "--max-p99-increase", "-5"},
		{"apply", "-f", "x.yaml", "--canary", "region=eu", "--bake", "soon"},
		{"rollout", "sideways"},
		{"rollback", "zero"},
		{"status", "--publisher", "http://127.0.0.1:1", "--data", "/does/not/exist"},
		{"status", "--publisher", "http://127.0.0.1:1", "--data", t.TempDir()},
		{"announce", "bad.name", "http://127.0.0.1:1"},
		{"announce", "svc", "ftp://x"},
		{"token"},
		{"token", "mint"},
		{"token", "create", "x"},
		{"token", "create", "x", "--role", "root"},
		{"token", "create"},
		{"token", "revoke"},
		{"token", "list", "--publisher", "http://127.0.0.1:1", "--data", t.TempDir()},
	} {
		out, code := sluiceRun(t, nil, args...)
		if code != 1 {
			t.Errorf("%v: exit %d, want 1: %s", args, code, out)
		}
		if first := strings.SplitN(out, "\n", 2)[0]; !strings.HasPrefix(first, "sluice: ") {
			t.Errorf("%v: first line %q is not a reason", args, first)
		}
	}
}

func TestPublisherOnAnExistingNATSContinuesTheRevisions(t *testing.T) {
	dataA, dataB := t.TempDir(), t.TempDir()
	apiA, apiB, natsAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	startProcess(t, "publisher", "--embedded-nats", "--nats-listen", natsAddr, "--listen", apiA, "--data", dataA)
	waitHTTP(t, "http://"+apiA+"/ui")
	startProcess(t, "publisher", "--nats", "nats://"+natsAddr, "--nats-creds", filepath.Join(dataA, "publisher.creds"), "--listen", apiB, "--data", dataB)
	waitHTTP(t, "http://"+apiB+"/ui")

	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	os.WriteFile(cfg, []byte("upstreams: {u: {endpoints: [http://127.0.0.1:1]}}\nroutes: [{name: r, match: {path: /}, upstream: u}]\n"), 0o644)
	out, code := sluiceRun(t, []string{"SLUICE_TOKEN="}, "apply", "-f", cfg, "--publisher", "http://"+apiA, "--data", dataA)
	if code != 0 || !strings.Contains(out, "revision 1 published") {
		t.Fatalf("apply through A: %d %s", code, out)
	}
	// B has its own token: A's is refused.
	tokenA, _ := os.ReadFile(filepath.Join(dataA, "token"))
	out, code = sluiceRun(t, []string{"SLUICE_TOKEN=" + strings.TrimSpace(string(tokenA))}, "status", "--publisher", "http://"+apiB)
	if code != 1 || !strings.Contains(out, "unauthorized") {
		t.Fatalf("A's token at B: %d %s", code, out)
	}
	out, code = sluiceRun(t, []string{"SLUICE_TOKEN="}, "apply", "-f", cfg, "--publisher", "http://"+apiB, "--data", dataB)
	if code != 0 || !strings.Contains(out, "revision 2 published") {
		t.Fatalf("apply through B on the same NATS: %d %s", code, out)
	}
}

// nodeCreds runs `sluice node-creds ID` against the publisher in env and
// returns the credentials file it wrote.
func nodeCreds(t *testing.T, env []string, data, id string, extra ...string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), id+".creds")
	args := append([]string{"node-creds", id, "-o", file, "--data", data}, extra...)
	if out, code := sluiceRun(t, env, args...); code != 0 {
		t.Fatalf("node-creds %s: %d %s", id, code, out)
	}
	return file
}
