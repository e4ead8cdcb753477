package edge

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/testkit"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// spansNamed returns every span called name.
func spansNamed(spans []*tracepb.Span, name string) []*tracepb.Span {
	var out []*tracepb.Span
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// spanWith returns the span called name whose attribute key is value.
func spanWith(spans []*tracepb.Span, name, key, value string) *tracepb.Span {
	for _, s := range spansNamed(spans, name) {
		if spanAttr(s, key) == value {
			return s
		}
	}
	return nil
}

// traced sends GET url as the sampled child of a new W3C trace and waits
// until the receiver holds its server span named server and every span
// named in also (counted: a name may appear more than once).
func traced(t *testing.T, rc *testkit.OTLPReceiver, traceID, url string, server string, also map[string]int, hdr ...string) []*tracepb.Span {
	t.Helper()
	resp, body := get(t, url, append([]string{"Traceparent", "00-" + traceID + "-00f067aa0ba902b7-01"}, hdr...)...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	var spans []*tracepb.Span
	testkit.WaitFor(t, 15*time.Second, "the spans of "+url, func() bool {
		spans = rc.Trace(traceID)
		if spanNamed(spans, server) == nil {
			return false
		}
		for name, n := range also {
			if len(spansNamed(spans, name)) < n {
				return false
			}
		}
		return true
	})
	return spans
}

func wantChild(t *testing.T, what string, child, parent *tracepb.Span) {
	t.Helper()
	switch {
	case child == nil:
		t.Errorf("%s: no such span", what)
	case parent == nil:
		t.Errorf("%s: its parent span is missing", what)
	case !bytes.Equal(child.ParentSpanId, parent.SpanId):
		t.Errorf("%s: parent %x, want %q %x", what, child.ParentSpanId, parent.Name, parent.SpanId)
	}
}

func wantAttrs(t *testing.T, what string, s *tracepb.Span, attrs map[string]string) {
	t.Helper()
	if s == nil {
		return // reported by wantChild
	}
	for k, want := range attrs {
		if got := spanAttr(s, k); got != want {
			t.Errorf("%s: %s = %q, want %q", what, k, got, want)
		}
	}
}

// TestTraceChildSpans: below the stage spans, a recorded request has a span
// per auth provider tried, for the policy, per filter phase, for the cache
// lookup, per upstream attempt and per aggregated backend, each under the
// span of the work that caused it, with its outcome.
func TestTraceChildSpans(t *testing.T) {
	rc := testkit.StartOTLPReceiver(t)
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "gate.rego"), `package sluice.authz

default decision := false

decision := true if input.auth.consumer == "acme"
`)
	sick := startUpstream(t, "sick", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	well := startUpstream(t, "well", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60") // shared: the route authenticates
		w.Write([]byte("ok"))
	}))
	users := startUpstream(t, "users", nil) // answers JSON
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	guest := testkit.WATFile(t, "metrics")
	wasm, err := os.ReadFile(guest)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(wasm)
	digest := "sha256:" + hex.EncodeToString(sum[:])

	n := startNode(t, render(t, `
tracing: {otlp: "{{.OTLP}}", sample: 0}
upstreams:
  cached: {endpoints: ["{{.Well}}"]}
  flaky:  {endpoints: ["{{.Sick}}", "{{.Well}}"], balance: round_robin, retries: {attempts: 1, on: ["503"]}}
  users:  {endpoints: ["{{.Users}}"]}
  gone:   {endpoints: ["{{.Dead}}"], retries: {attempts: 0}}
auth:
  first:  {api_key: {header: X-First, keys: {k1: {consumer: other}}}}
  second: {api_key: {header: X-Second, keys: {k2: {consumer: acme}}}}
policies: {gate: {module: "{{.Policy}}"}}
filters:
  counted: {module: "{{.Guest}}"}
  trapper: {module: "{{.Trapper}}", on_error: fail_open}
routes:
  - {name: skip, match: {path_prefix: /skip}, upstream: users, filters: [trapper]}
  - {name: api, match: {path_prefix: /api}, upstream: cached, cache: {ttl: 1m}, auth: [first, second], policy: gate, filters: [counted]}
  - {name: flaky, match: {path_prefix: /flaky}, upstream: flaky}
  - name: profile
    match: {path: "/profile/{id}"}
    aggregate:
      user:  {upstream: users, path: "/users/{id}"}
      lost:  {upstream: gone, path: "/lost/{id}"}
`, map[string]string{"OTLP": rc.URL, "Well": well.url, "Sick": sick.url, "Users": users.url, "Dead": dead,
		"Policy": dir, "Guest": guest, "Trapper": testkit.WATFile(t, "trap_request")}))

	t.Run("auth, policy, filters, cache", func(t *testing.T) {
		spans := traced(t, rc, "11111111111111111111111111111111", n.url+"/api/items", "GET api",
			map[string]int{"sluice.auth": 2, "sluice.policy": 1, "sluice.filter": 2, "sluice.cache": 1, "upstream cached": 1},
			"X-Second", "k2")
		access := spanNamed(spans, "sluice.access")
		first := spanWith(spans, "sluice.auth", "sluice.auth.provider", "first")
		second := spanWith(spans, "sluice.auth", "sluice.auth.provider", "second")
		wantChild(t, "auth first", first, access)
		wantAttrs(t, "auth first", first, map[string]string{"sluice.auth.kind": "api_key", "sluice.auth.outcome": "absent"})
		wantChild(t, "auth second", second, access)
		wantAttrs(t, "auth second", second, map[string]string{"sluice.auth.kind": "api_key", "sluice.auth.outcome": "accepted"})
		pol := spanNamed(spans, "sluice.policy")
		wantChild(t, "policy", pol, access)
		wantAttrs(t, "policy", pol, map[string]string{"sluice.policy": "gate", "sluice.policy.decision": "allow"})

		origin := spanNamed(spans, "sluice.origin")
		req := spanWith(spans, "sluice.filter", "sluice.filter.phase", "request")
		wantChild(t, "filter request phase", req, spanNamed(spans, "sluice.filters"))
		wantAttrs(t, "filter request phase", req, map[string]string{"sluice.filter": "counted", "sluice.filter.digest": digest, "sluice.filter.outcome": "next"})
		resp := spanWith(spans, "sluice.filter", "sluice.filter.phase", "response")
		wantChild(t, "filter response phase", resp, origin)
		wantAttrs(t, "filter response phase", resp, map[string]string{"sluice.filter": "counted", "sluice.filter.outcome": "done"})

		cache := spanNamed(spans, "sluice.cache")
		wantChild(t, "cache", cache, origin)
		wantAttrs(t, "cache", cache, map[string]string{"sluice.cache": "miss"})
		wantChild(t, "upstream attempt of a miss", spanNamed(spans, "upstream cached"), cache)

		// The same path again: a hit, and no upstream attempt.
		spans = traced(t, rc, "22222222222222222222222222222222", n.url+"/api/items", "GET api",
			map[string]int{"sluice.cache": 1}, "X-Second", "k2")
		wantAttrs(t, "second request's cache", spanNamed(spans, "sluice.cache"), map[string]string{"sluice.cache": "hit"})
		if a := spanNamed(spans, "upstream cached"); a != nil {
			t.Errorf("a cache hit made an upstream attempt")
		}
	})

	t.Run("policy deny", func(t *testing.T) {
		const id = "33333333333333333333333333333333"
		resp, _ := get(t, n.url+"/api/items", "Traceparent", "00-"+id+"-00f067aa0ba902b7-01", "X-First", "k1")
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("consumer other: %d, want 403", resp.StatusCode)
		}
		var pol *tracepb.Span
		testkit.WaitFor(t, 15*time.Second, "the denied request's policy span", func() bool {
			pol = spanNamed(rc.Trace(id), "sluice.policy")
			return pol != nil
		})
		wantAttrs(t, "policy", pol, map[string]string{"sluice.policy.decision": "deny"})
		wantAttrs(t, "auth first", spanWith(rc.Trace(id), "sluice.auth", "sluice.auth.provider", "first"),
			map[string]string{"sluice.auth.outcome": "accepted"})
	})

	t.Run("a failing fail_open filter", func(t *testing.T) {
		spans := traced(t, rc, "77777777777777777777777777777777", n.url+"/skip/1", "GET skip", map[string]int{"sluice.filter": 1})
		f := spanNamed(spans, "sluice.filter")
		wantChild(t, "skipped filter", f, spanNamed(spans, "sluice.filters"))
		wantAttrs(t, "skipped filter", f, map[string]string{"sluice.filter": "trapper", "sluice.filter.phase": "request", "sluice.filter.outcome": "skipped"})
		if f != nil && f.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
			t.Errorf("skipped filter: status %v, want error", f.Status)
		}
	})

	t.Run("upstream attempts", func(t *testing.T) {
		// Round robin over a sick and a well endpoint: of two requests, one
		// tries the sick one first and is retried on the well one.
		var spans []*tracepb.Span
		for _, id := range []string{"44444444444444444444444444444444", "55555555555555555555555555555555"} {
			s := traced(t, rc, id, n.url+"/flaky/x", "GET flaky", map[string]int{"upstream flaky": 1})
			if len(spansNamed(s, "upstream flaky")) == 2 {
				spans = s
			}
		}
		if spans == nil {
			t.Fatal("neither request was retried")
		}
		origin := spanNamed(spans, "sluice.origin")
		first := spanWith(spans, "upstream flaky", "http.request.resend_count", "0")
		retry := spanWith(spans, "upstream flaky", "http.request.resend_count", "1")
		wantChild(t, "first attempt", first, origin)
		wantAttrs(t, "first attempt", first, map[string]string{"url.full": sick.url, "http.response.status_code": "503"})
		wantChild(t, "retry", retry, origin)
		wantAttrs(t, "retry", retry, map[string]string{"url.full": well.url, "http.response.status_code": "200"})
	})

	t.Run("aggregate backends", func(t *testing.T) {
		spans := traced(t, rc, "66666666666666666666666666666666", n.url+"/profile/7", "GET profile",
			map[string]int{"sluice.aggregate": 2, "upstream users": 1, "upstream gone": 1})
		origin := spanNamed(spans, "sluice.origin")
		user := spanWith(spans, "sluice.aggregate", "sluice.aggregate.backend", "user")
		lost := spanWith(spans, "sluice.aggregate", "sluice.aggregate.backend", "lost")
		wantChild(t, "backend user", user, origin)
		wantAttrs(t, "backend user", user, map[string]string{"sluice.upstream": "users", "http.response.status_code": "200"})
		wantChild(t, "backend lost", lost, origin)
		wantAttrs(t, "backend lost", lost, map[string]string{"sluice.upstream": "gone", "http.response.status_code": ""})
		if lost != nil && lost.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
			t.Errorf("backend lost: status %v, want error", lost.Status)
		}
		wantChild(t, "user's attempt", spanNamed(spans, "upstream users"), user)
		wantChild(t, "lost's attempt", spanNamed(spans, "upstream gone"), lost)
	})
}
