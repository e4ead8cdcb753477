package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/testkit"
)

func TestGatedCanaryThroughTheCLIIsAbortedByThePublisher(t *testing.T) {
	good := startEcho(t, "good")
	broken := httptestServer(t, http.StatusInternalServerError)
	data := t.TempDir()
	api, natsAddr := freeAddr(t), freeAddr(t)
	startProcess(t, "publisher", "--embedded-nats", "--nats-listen", natsAddr, "--listen", api, "--data", data)
	waitHTTP(t, "http://"+api+"/ui")
	env := []string{"SLUICE_PUBLISHER=http://" + api, "SLUICE_TOKEN="}
	var edges []string
	for i, region := range []string{"eu", "us"} {
		listen := freeAddr(t)
		startProcess(t, "edge", "--nats", "nats://"+natsAddr, "--trust", filepath.Join(data, "signing.pub"), "--nats-creds", nodeCreds(t, env, data, fmt.Sprintf("edge-%d", i)),
			"--node", fmt.Sprintf("edge-%d", i), "--labels", "region="+region, "--listen", listen, "--data", t.TempDir())
		edges = append(edges, "http://"+listen)
	}
	testkit.Eventually(t, 20*time.Second, "2 nodes in status", func() (bool, string) {
		out, code := sluiceRun(t, env, "status", "--json", "--data", data)
		var st struct{ Nodes []json.RawMessage }
		return code == 0 && json.Unmarshal([]byte(out), &st) == nil && len(st.Nodes) == 2, out
	})
	cfg := func(name, up string) string {
		p := filepath.Join(t.TempDir(), name)
		os.WriteFile(p, []byte(fmt.Sprintf("upstreams: {u: {endpoints: [%s]}}\nroutes: [{name: r, match: {path_prefix: /api}, upstream: u}]\n", up)), 0o644)
		return p
	}
	if out, code := sluiceRun(t, env, "apply", "-f", cfg("v1.yaml", good), "--wait", "--data", data); code != 0 {
		t.Fatalf("apply: %d %s", code, out)
	}

	// Steady traffic to both nodes.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for _, e := range edges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "GET", e+"/api/x", nil)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				select {
				case <-ctx.Done():
				case <-time.After(5 * time.Millisecond):
				}
			}
		}()
	}

	start := time.Now()
	out, code := sluiceRun(t, env, "apply", "-f", cfg("v2.yaml", broken), "--canary", "region=eu", "--bake", "2m", "--max-error-rate", "5", "--data", data)
	if code != 0 || !strings.Contains(out, "revision 2 published (canary region=eu") || !strings.Contains(out, "baking 2m0s") ||
		!strings.Contains(out, "exceeds 5%") {
		t.Fatalf("gated apply: %d\n%s", code, out)
	}
	var abort struct {
		Who      string             `json:"who"`
		Action   string             `json:"action"`
		Revision int64              `json:"revision"`
		Outcome  string             `json:"outcome"`
		Detail   string             `json:"detail"`
		Numbers  map[string]float64 `json:"numbers"`
	}
	testkit.WaitFor(t, 60*time.Second, "the publisher's abort in the history", func() bool {
		out, code := sluiceRun(t, env, "history", "--json", "--limit", "1", "--data", data)
		var page struct{ Entries []json.RawMessage }
		if code != 0 || json.Unmarshal([]byte(out), &page) != nil || len(page.Entries) != 1 {
			return false
		}
		return json.Unmarshal(page.Entries[0], &abort) == nil && abort.Who == "publisher"
	})
	t.Logf("aborted after %s: %s %v", time.Since(start).Round(time.Second), abort.Detail, abort.Numbers)
	if abort.Action != "abort" || abort.Revision != 2 || abort.Outcome != "aborted" || !strings.Contains(abort.Detail, "--max-error-rate 5%") ||
		abort.Numbers["canary_error_rate_pct"] <= 5 {
		t.Fatalf("abort entry: %+v", abort)
	}
	testkit.WaitFor(t, 10*time.Second, "eu back on stable", func() bool { return strings.HasPrefix(body(edges[0]+"/api/x"), "good ") })
	out, code = sluiceRun(t, env, "history", "--data", data)
	if code != 0 || !regexpMatch(`(?m)^\d+\s.*\spublisher\s+abort\s+2\s.*aborted\s+canary region=eu; canary 5xx rate`, out) {
		t.Fatalf("history table: %d\n%s", code, out)
	}
}

// httptestServer answers every request with code.
func httptestServer(t *testing.T, code int) string {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) })}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}
