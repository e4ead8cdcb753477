package edge

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/demo"
)

// testClock is a clock the test moves by hand, so no test waits for a
// window to pass.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func withClock(c *testClock) func(*Options, *Listeners) {
	return func(o *Options, _ *Listeners) { o.clock = c.now }
}

const rateLimitConfig = `
upstreams:
  svc: {endpoints: [{{.}}]}
auth:
  partners: {api_key: {header: X-API-Key, keys: {k1: {consumer: acme}, k2: {consumer: globex}}}}
routes:
  - name: limited
    match: {path_prefix: /limited}
    upstream: svc
    rate_limit: {requests: 2, per: 1s, burst: 1}
  - name: by-consumer
    match: {path_prefix: /partner}
    upstream: svc
    auth: [partners]
    rate_limit: {requests: 1, per: 1m, key: consumer}
  - name: by-header
    match: {path_prefix: /tenant}
    upstream: svc
    rate_limit: {requests: 1, per: 1m, key: "header:X-Tenant"}
  - name: free
    match: {path_prefix: /free}
    upstream: svc
`

func TestRateLimitClientIP(t *testing.T) {
	up := startUpstream(t, "svc", nil)
	clock := newTestClock()
	tn := startNode(t, render(t, rateLimitConfig, up.url), withClock(clock))

	for i := range 3 { // 2 per second + a burst of 1
		resp, body := get(t, tn.url+"/limited")
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
		checkRateHeaders(t, resp, "3", strconv.Itoa(2-i))
	}
	resp, body := get(t, tn.url+"/limited")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("4th request: %d %s", resp.StatusCode, body)
	}
	decodeError(t, resp, body)
	if ra := resp.Header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1", ra)
	}
	checkRateHeaders(t, resp, "3", "0")
	if resp.Header.Get("RateLimit-Reset") != "2" {
		t.Errorf("RateLimit-Reset = %q, want 2 (1.5s until full)", resp.Header.Get("RateLimit-Reset"))
	}

	clock.advance(500 * time.Millisecond) // one token back
	if resp, _ := get(t, tn.url+"/limited"); resp.StatusCode != 200 {
		t.Fatalf("after 500ms: %d", resp.StatusCode)
	}
	if resp, _ := get(t, tn.url+"/limited"); resp.StatusCode != 429 {
		t.Fatalf("second request after 500ms: %d", resp.StatusCode)
	}

	resp, _ = get(t, tn.url+"/free")
	if resp.StatusCode != 200 || resp.Header.Get("RateLimit-Limit") != "" {
		t.Fatalf("unlimited route: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestRateLimitKeys(t *testing.T) {
	up := startUpstream(t, "svc", nil)
	tn := startNode(t, render(t, rateLimitConfig, up.url), withClock(newTestClock()))

	for _, c := range []struct {
		path, hdr, val string
		want           int
	}{
		{"/partner", "X-API-Key", "k1", 200},
		{"/partner", "X-API-Key", "k1", 429},
		{"/partner", "X-API-Key", "k2", 200},  // another consumer, its own bucket
		{"/partner", "X-API-Key", "bad", 401}, // auth runs before the limit
		{"/tenant", "X-Tenant", "a", 200},
		{"/tenant", "X-Tenant", "a", 429},
		{"/tenant", "X-Tenant", "b", 200},
		{"/tenant", "X-Other", "x", 200}, // no header: the bucket of ""
		{"/tenant", "X-Other", "y", 429}, // which everyone without it shares
	} {
		resp, body := get(t, tn.url+c.path, c.hdr, c.val)
		if resp.StatusCode != c.want {
			t.Errorf("%s %s=%s: %d %s, want %d", c.path, c.hdr, c.val, resp.StatusCode, body, c.want)
		}
	}
}

// TestRateLimitSurvivesReload: applying a new snapshot keeps the buckets of
// routes whose limit did not change.
func TestRateLimitSurvivesReload(t *testing.T) {
	up := startUpstream(t, "svc", nil)
	cfg := render(t, rateLimitConfig, up.url)
	tn := startNode(t, cfg, withClock(newTestClock()))
	for range 3 {
		get(t, tn.url+"/limited")
	}
	if _, err := tn.Apply(mustParse(t, cfg)); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, tn.url+"/limited"); resp.StatusCode != 429 {
		t.Fatalf("after reload: %d, want 429 (bucket kept)", resp.StatusCode)
	}
}

func checkRateHeaders(t *testing.T, resp *http.Response, limit, remaining string) {
	t.Helper()
	if got := resp.Header.Get("RateLimit-Limit"); got != limit {
		t.Errorf("RateLimit-Limit = %q, want %q", got, limit)
	}
	if got := resp.Header.Get("RateLimit-Remaining"); got != remaining {
		t.Errorf("RateLimit-Remaining = %q, want %q", got, remaining)
	}
	if resp.Header.Get("RateLimit-Reset") == "" {
		t.Error("no RateLimit-Reset")
	}
}

// TestRateLimitClaimKey: a verified JWT claim keys the bucket, so users of
// one tenant share a limit.
func TestRateLimitClaimKey(t *testing.T) {
	authSvc, err := demo.Start("auth", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer authSvc.Close()
	authURL := "http://" + authSvc.Addr
	up := startUpstream(t, "svc", nil)
	tn := startNode(t, render(t, `
upstreams: {svc: {endpoints: ["{{.Up}}"]}}
auth:
  users-jwt: {jwt: {issuer: demo, jwks_url: "{{.Auth}}/jwks.json", audiences: [api]}}
routes:
  - name: per-tenant
    match: {path_prefix: /t}
    upstream: svc
    auth: [users-jwt]
    rate_limit: {requests: 1, per: 1m, key: "claim:tenant"}
  - name: per-user
    match: {path_prefix: /u}
    upstream: svc
    auth: [users-jwt]
    rate_limit: {requests: 1, per: 1m, key: consumer}
`, map[string]string{"Up": up.url, "Auth": authURL}), withClock(newTestClock()))
	tok := func(user string) string { return "Bearer " + demoToken(t, authURL, user) }
	alice, carol, bob := tok("alice"), tok("carol"), tok("bob") // acme, acme, globex
	for _, c := range []struct {
		path, who, authz string
		want             int
	}{
		{"/t", "alice", alice, 200},
		{"/t", "carol", carol, 429}, // same tenant as alice
		{"/t", "bob", bob, 200},
		{"/u", "alice", alice, 200},
		{"/u", "carol", carol, 200}, // a JWT's consumer is its subject
		{"/u", "alice", alice, 429},
	} {
		resp, body := get(t, tn.url+c.path, "Authorization", c.authz)
		if resp.StatusCode != c.want {
			t.Errorf("%s as %s: %d %s, want %d", c.path, c.who, resp.StatusCode, body, c.want)
		}
	}
}
