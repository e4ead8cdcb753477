package edge

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluicegw/sluice/runtime/testkit"
	"github.com/sluicegw/sluice/runtime/testkit/natstest"
)

const cacheConfig = `
upstreams:
  svc: {endpoints: [{{.}}]}
auth:
  partners: {api_key: {header: X-API-Key, keys: {k1: {consumer: acme}}}}
routes:
  - name: cached
    match: {path_prefix: /c}
    upstream: svc
    cache: {ttl: 30s}
    compress: [gzip]
  - name: cached-auth
    match: {path_prefix: /a}
    upstream: svc
    auth: [partners]
    cache: {ttl: 30s}
  - name: plain
    match: {path_prefix: /p}
    upstream: svc
`

// countingUpstream answers by path and counts what reaches it per path.
type countingUpstream struct {
	mu   sync.Mutex
	hits map[string]int
	gate chan struct{} // /c/slow waits on it
}

func (u *countingUpstream) count(path string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits[path]
}

func (u *countingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.hits[r.URL.Path]++
	n := u.hits[r.URL.Path]
	u.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	switch strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/c"), "/a") {
	case "/no-store":
		h.Set("Cache-Control", "no-store")
	case "/private":
		h.Set("Cache-Control", "private, max-age=60")
	case "/max-age-5":
		h.Set("Cache-Control", "max-age=5")
	case "/max-age-999":
		h.Set("Cache-Control", "max-age=999")
	case "/expires":
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
		h.Set("Expires", time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat))
	case "/public":
		h.Set("Cache-Control", "public, max-age=60")
	case "/vary":
		h.Set("Vary", "Accept-Language")
		fmt.Fprintf(w, "lang=%s ", r.Header.Get("Accept-Language"))
	case "/cookie":
		h.Set("Set-Cookie", "session=secret")
	case "/error":
		w.WriteHeader(http.StatusInternalServerError)
	case "/big":
		w.Write(bytes.Repeat([]byte("x"), 2<<20))
	case "/json":
		h.Set("Content-Type", "application/json")
		w.Write(jsonBody(16 << 10))
		return
	case "/slow":
		<-u.gate
	}
	fmt.Fprintf(w, "%s #%d", r.URL.Path, n)
}

func startCacheNode(t *testing.T) (*countingUpstream, *testNode, *testClock) {
	t.Helper()
	u := &countingUpstream{hits: map[string]int{}, gate: make(chan struct{})}
	up := startUpstream(t, "svc", u)
	clock := newTestClock()
	return u, startNode(t, render(t, cacheConfig, up.url), withClock(clock)), clock
}

func expectCache(t *testing.T, url, want, wantBody string, hdr ...string) *http.Response {
	t.Helper()
	resp, body := get(t, url, hdr...)
	if got := resp.Header.Get("X-Cache"); got != want {
		t.Errorf("%s: X-Cache %q, want %q (status %d)", url, got, want, resp.StatusCode)
	}
	if wantBody != "" && string(body) != wantBody {
		t.Errorf("%s: body %q, want %q", url, body, wantBody)
	}
	return resp
}

func TestCacheHitAndExpiry(t *testing.T) {
	u, tn, clock := startCacheNode(t)
	expectCache(t, tn.url+"/c/data", "MISS", "/c/data #1")
	resp := expectCache(t, tn.url+"/c/data", "HIT", "/c/data #1")
	if resp.Header.Get("Age") != "0" || resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("Via") == "" {
		t.Errorf("hit headers: %v", resp.Header)
	}
	clock.advance(10 * time.Second)
	if resp := expectCache(t, tn.url+"/c/data", "HIT", "/c/data #1"); resp.Header.Get("Age") != "10" {
		t.Errorf("Age %q after 10s", resp.Header.Get("Age"))
	}
	expectCache(t, tn.url+"/c/data?x=1", "MISS", "/c/data #2") // the query is part of the key
	clock.advance(21 * time.Second)                            // past the route's ttl
	expectCache(t, tn.url+"/c/data", "MISS", "/c/data #3")
	expectCache(t, tn.url+"/c/data", "HIT", "/c/data #3")
	if u.count("/c/data") != 3 {
		t.Errorf("upstream saw %d requests", u.count("/c/data"))
	}
	// Hosts never share an entry: the upstream may answer per host.
	expectCache(t, tn.url+"/c/hosted", "MISS", "/c/hosted #1", "Host", "a.example")
	expectCache(t, tn.url+"/c/hosted", "MISS", "/c/hosted #2", "Host", "b.example")
	expectCache(t, tn.url+"/c/hosted", "HIT", "/c/hosted #1", "Host", "a.example")
	if resp, _ := get(t, tn.url+"/p/data"); resp.Header.Get("X-Cache") != "" {
		t.Error("X-Cache on a route without cache")
	}
	_, metrics := get(t, tn.adminURL+"/metrics")
	for _, want := range []string{
		`sluice_cache_requests_total{result="hit",route="cached"} 4`,
		`sluice_cache_requests_total{result="miss",route="cached"} 5`,
		`sluice_cache_keys{route="cached"} 4`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestCacheFollowsCacheControl(t *testing.T) {
	_, tn, clock := startCacheNode(t)
	// Never stored.
	for _, path := range []string{"/c/no-store", "/c/private", "/c/cookie", "/c/error", "/c/expires"} {
		expectCache(t, tn.url+path, "MISS", path+" #1")
		expectCache(t, tn.url+path, "MISS", path+" #2")
	}
	// max-age below the ttl wins; the ttl caps a longer one.
	expectCache(t, tn.url+"/c/max-age-5", "MISS", "")
	expectCache(t, tn.url+"/c/max-age-999", "MISS", "")
	clock.advance(4 * time.Second)
	expectCache(t, tn.url+"/c/max-age-5", "HIT", "/c/max-age-5 #1")
	clock.advance(2 * time.Second)
	expectCache(t, tn.url+"/c/max-age-5", "MISS", "/c/max-age-5 #2")
	clock.advance(25 * time.Second)
	expectCache(t, tn.url+"/c/max-age-999", "MISS", "/c/max-age-999 #2")

	// The client can ask for a fresh answer, which refreshes the entry, or
	// forbid storing.
	expectCache(t, tn.url+"/c/data", "MISS", "/c/data #1")
	expectCache(t, tn.url+"/c/data", "MISS", "/c/data #2", "Cache-Control", "no-cache")
	expectCache(t, tn.url+"/c/data", "HIT", "/c/data #2")
	expectCache(t, tn.url+"/c/other", "MISS", "/c/other #1", "Cache-Control", "no-store")
	expectCache(t, tn.url+"/c/other", "MISS", "/c/other #2")

	// Only safe methods.
	req, _ := http.NewRequest(http.MethodPost, tn.url+"/c/data", strings.NewReader("x"))
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Cache") != "MISS" {
		t.Errorf("POST: X-Cache %q", resp.Header.Get("X-Cache"))
	}
	expectCache(t, tn.url+"/c/data", "HIT", "/c/data #2")

	// HEAD is answered from a stored GET, never stored itself.
	head := func(want string) {
		t.Helper()
		resp, err := testClient.Head(tn.url + "/c/head")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("X-Cache") != want {
			t.Errorf("HEAD: X-Cache %q, want %q", resp.Header.Get("X-Cache"), want)
		}
		if want == "HIT" && resp.ContentLength != int64(len("/c/head #2")) {
			t.Errorf("HEAD hit: Content-Length %d", resp.ContentLength)
		}
	}
	head("MISS")
	expectCache(t, tn.url+"/c/head", "MISS", "/c/head #2")
	head("HIT")

	// Vary: one variant per Accept-Language.
	expectCache(t, tn.url+"/c/vary", "MISS", "lang=en /c/vary #1", "Accept-Language", "en")
	expectCache(t, tn.url+"/c/vary", "MISS", "lang=fr /c/vary #2", "Accept-Language", "fr")
	expectCache(t, tn.url+"/c/vary", "HIT", "lang=en /c/vary #1", "Accept-Language", "en")
	expectCache(t, tn.url+"/c/vary", "HIT", "lang=fr /c/vary #2", "Accept-Language", "fr")

	// Too large to keep: streamed through, whole, unstored.
	for range 2 {
		resp, body := get(t, tn.url+"/c/big")
		if resp.Header.Get("X-Cache") != "MISS" || len(body) != 2<<20+len("/c/big #1") {
			t.Fatalf("big: %s, %d bytes", resp.Header.Get("X-Cache"), len(body))
		}
	}
}

func TestCacheAuthorizedResponses(t *testing.T) {
	_, tn, _ := startCacheNode(t)
	// On a route that authenticates, only responses marked public are shared.
	expectCache(t, tn.url+"/a/data", "MISS", "/a/data #1", "X-API-Key", "k1")
	expectCache(t, tn.url+"/a/data", "MISS", "/a/data #2", "X-API-Key", "k1")
	expectCache(t, tn.url+"/a/public", "MISS", "/a/public #1", "X-API-Key", "k1")
	expectCache(t, tn.url+"/a/public", "HIT", "/a/public #1", "X-API-Key", "k1")
	// Auth still runs before the cache.
	if resp, _ := get(t, tn.url+"/a/public"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no key: %d", resp.StatusCode)
	}
	// An Authorization header counts as credentials on any route.
	expectCache(t, tn.url+"/c/authz", "MISS", "/c/authz #1", "Authorization", "Bearer x")
	expectCache(t, tn.url+"/c/authz", "MISS", "/c/authz #2", "Authorization", "Bearer x")
}

// TestCacheSingleflight: concurrent misses for one key make one upstream
// request; everyone gets its answer.
func TestCacheSingleflight(t *testing.T) {
	u, tn, _ := startCacheNode(t)
	const n = 8
	var wg sync.WaitGroup
	var hits, misses atomic.Int32
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := get(t, tn.url+"/c/slow")
			if string(body) != "/c/slow #1" {
				t.Errorf("body %q", body)
			}
			if resp.Header.Get("X-Cache") == "HIT" {
				hits.Add(1)
			} else {
				misses.Add(1)
			}
		}()
	}
	c := tn.Current().compiled[0].cache
	testkit.WaitFor(t, 5*time.Second, "one request upstream, the others waiting", func() bool {
		return u.count("/c/slow") == 1 && c.Stats().Waiting == n-1
	})
	close(u.gate)
	wg.Wait()
	if u.count("/c/slow") != 1 || misses.Load() != 1 || hits.Load() != n-1 {
		t.Fatalf("upstream saw %d, %d misses, %d hits", u.count("/c/slow"), misses.Load(), hits.Load())
	}
}

func TestCachePurge(t *testing.T) {
	_, tn, _ := startCacheNode(t)
	expectCache(t, tn.url+"/c/one", "MISS", "")
	expectCache(t, tn.url+"/c/two?x=1", "MISS", "")
	purge := func(query string, want int) string {
		t.Helper()
		resp, err := testClient.Post(tn.adminURL+"/cache/purge?"+query, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("purge %s: %d %s", query, resp.StatusCode, b.String())
		}
		return b.String()
	}
	expectCache(t, tn.url+"/c/one", "MISS", "", "Host", "other.example")
	if out := purge("route=cached&key=/c/one", 200); !strings.Contains(out, `"purged": 2`) {
		t.Errorf("purge key on two hosts: %s", out)
	}
	expectCache(t, tn.url+"/c/one", "MISS", "/c/one #3")
	expectCache(t, tn.url+"/c/two?x=1", "HIT", "/c/two #1")
	if out := purge("route=cached", 200); !strings.Contains(out, `"purged": 2`) {
		t.Errorf("purge route: %s", out)
	}
	expectCache(t, tn.url+"/c/two?x=1", "MISS", "/c/two #2")
	purge("route=plain", 404)
	purge("route=nope", 404)
	purge("", 400)
}

// TestCacheThenCompress: a hit goes through the stages after the cache.
func TestCacheThenCompress(t *testing.T) {
	_, tn, _ := startCacheNode(t)
	want := jsonBody(16 << 10)
	for _, xc := range []string{"MISS", "HIT"} {
		resp, b := rawGet(t, tn.url+"/c/json", "gzip")
		if resp.Header.Get("X-Cache") != xc || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: %v", xc, resp.Header)
		}
		if !bytes.Equal(decode(t, "gzip", b), want) {
			t.Fatalf("%s: body differs", xc)
		}
	}
	resp, b := rawGet(t, tn.url+"/c/json", "")
	if resp.Header.Get("X-Cache") != "HIT" || !bytes.Equal(b, want) {
		t.Fatalf("identity hit: %v", resp.Header)
	}
}

// TestCachePurgeFleet: a purge with scope=fleet on one node's admin API
// empties the route's cache on every node connected to NATS.
func TestCachePurgeFleet(t *testing.T) {
	natsURL := natstest.Start(t)
	u := &countingUpstream{hits: map[string]int{}, gate: make(chan struct{})}
	up := startUpstream(t, "svc", u)
	cfg := render(t, cacheConfig, up.url)
	var nodes []*testNode
	for range 2 {
		nc, err := nats.Connect(natsURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		tn := startNode(t, cfg, func(o *Options, _ *Listeners) { o.NATS = nc })
		expectCache(t, tn.url+"/c/data", "MISS", "")
		expectCache(t, tn.url+"/c/data", "HIT", "")
		nodes = append(nodes, tn)
	}
	resp, err := testClient.Post(nodes[0].adminURL+"/cache/purge?route=cached&key=/c/data&scope=fleet", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("purge: %d", resp.StatusCode)
	}
	for _, tn := range nodes {
		c := tn.Current().compiled[0].cache
		testkit.WaitFor(t, 5*time.Second, "the purge on every node", func() bool { return c.Stats().Keys == 0 })
		expectCache(t, tn.url+"/c/data", "MISS", "")
	}
	// Without NATS a fleet purge is refused, not silently local.
	_, tn, _ := startCacheNode(t)
	resp, err = testClient.Post(tn.adminURL+"/cache/purge?route=cached&scope=fleet", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("fleet purge without NATS: %d", resp.StatusCode)
	}
}

// TestCacheHitRunsResponseFilters: the cache sits before the upstream, so
// a hit still goes through the route's response filters, streamed or
// buffered.
func TestCacheHitRunsResponseFilters(t *testing.T) {
	u := &countingUpstream{hits: map[string]int{}, gate: make(chan struct{})}
	up := startUpstream(t, "svc", u)
	tn := startNode(t, render(t, `
upstreams: {svc: {endpoints: ["{{.Up}}"]}}
filters:
  headers:
    module: "{{.Headers}}"
    config: {response: {set: {X-Frame-Options: DENY}}}
  redact:
    module: "{{.Redact}}"
    config: {fields: [secret]}
routes:
  - {name: streamed, match: {path_prefix: /c}, upstream: svc, cache: {ttl: 1m}, filters: [headers]}
  - {name: buffered, match: {path_prefix: /b}, upstream: svc, cache: {ttl: 1m}, filters: [headers, redact]}
`, map[string]string{"Up": up.url, "Headers": exampleFilter(t, "headers"), "Redact": exampleFilter(t, "redact-json")}))
	for _, path := range []string{"/c/data", "/b/json"} {
		for _, want := range []string{"MISS", "HIT"} {
			resp := expectCache(t, tn.url+path, want, "")
			if resp.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("%s %s: response filter did not run: %v", path, want, resp.Header)
			}
		}
	}
	if u.count("/c/data") != 1 || u.count("/b/json") != 1 {
		t.Errorf("upstream saw %v", u.hits)
	}
}
