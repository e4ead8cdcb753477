package edge

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// TestStrayUpgradeHeaderIsAnOrdinaryRequest: "Upgrade: x" without
// "Connection: upgrade" asks for nothing (httpguard.UpgradeOf). Every stage
// must agree: the request is forwarded without the header, its response is
// compressed, cached and passed through a buffering filter, and the
// connection stays open.
func TestStrayUpgradeHeaderIsAnOrdinaryRequest(t *testing.T) {
	var hits, sawUpgrade atomic.Int64
	up := startUpstream(t, "svc", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Upgrade") != "" {
			sawUpgrade.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, `{"user":"ann","password":"hunter2","padding":"`+strings.Repeat("a", 4096)+`"}`)
	}))
	n := startNode(t, render(t, `
upstreams: {svc: {endpoints: ["{{.Up}}"]}}
filters:
  redact:
    module: "{{.Redact}}"
    config: {fields: [password]}
routes:
  - {name: r, match: {path_prefix: /}, upstream: svc, compress: [gzip], cache: {ttl: 1m}, filters: [redact]}
`, map[string]string{"Up": up.url, "Redact": exampleFilter(t, "redact-json")}))

	for i, wantCache := range []string{"MISS", "HIT"} {
		req, _ := http.NewRequest(http.MethodGet, n.url+"/users/1", nil)
		req.Header.Set("Upgrade", "x")
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := rawClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d: %s", i, resp.StatusCode, raw)
		}
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("request %d: not compressed: %v", i, resp.Header)
		}
		if got := resp.Header.Get("X-Cache"); got != wantCache {
			t.Errorf("request %d: X-Cache %q, want %s", i, got, wantCache)
		}
		if resp.Close {
			t.Errorf("request %d: the node closed the connection of an ordinary request", i)
		}
		var doc map[string]string
		if err := json.Unmarshal(decode(t, "gzip", raw), &doc); err != nil {
			t.Fatalf("request %d: body %q: %v", i, decode(t, "gzip", raw), err)
		}
		if doc["user"] != "ann" || doc["password"] != "[REDACTED]" {
			t.Errorf("request %d: the buffering filter did not see the body: %v", i, doc)
		}
	}
	if hits.Load() != 1 || sawUpgrade.Load() != 0 {
		t.Errorf("upstream: %d requests, %d with an Upgrade header; want 1 and 0", hits.Load(), sawUpgrade.Load())
	}
}
