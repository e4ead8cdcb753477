package edge

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestIntrospectFilterThroughNode runs filters/introspect on a node: its
// outbound calls go through the auth upstream's pool (both endpoints take
// calls), only to upstreams on its allow-list, within its deadline, and a
// slow or missing introspection service is a 503 while the node keeps
// serving.
func TestIntrospectFilterThroughNode(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{} // endpoint → introspection calls
	seenIDs := map[string]bool{}
	introspection := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			mu.Lock()
			calls[name]++
			seenIDs[r.Header.Get("X-Request-Id")] = true
			mu.Unlock()
			switch r.PostForm.Get("token") {
			case "slow":
				<-r.Context().Done()
				return
			case "good":
				_ = json.NewEncoder(w).Encode(map[string]any{"active": true, "sub": "alice"})
			default:
				_ = json.NewEncoder(w).Encode(map[string]any{"active": false})
			}
		})
	}
	auth1 := startUpstream(t, "auth1", introspection("auth1"))
	auth2 := startUpstream(t, "auth2", introspection("auth2"))
	users := startUpstream(t, "users", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("users saw subject=" + r.Header.Get("X-Auth-Subject") + " id=" + r.Header.Get("X-Request-Id")))
	}))
	n := startNode(t, render(t, `
upstreams:
  users: {endpoints: ["{{.Users}}"]}
  auth: {endpoints: ["{{.Auth1}}", "{{.Auth2}}"], retries: {attempts: 1}}
filters:
  introspect:
    module: "{{.Wasm}}"
    upstreams: [auth]
    config: {upstream: auth, path: /introspect}
    limits: {timeout: 300ms}
  not-allowed:
    module: "{{.Wasm}}"
    config: {upstream: auth}
routes:
  - {name: users, match: {path_prefix: /users}, upstream: users, filters: [introspect]}
  - {name: open, match: {path_prefix: /open}, upstream: users, filters: [not-allowed]}
`, map[string]string{"Users": users.url, "Auth1": auth1.url, "Auth2": auth2.url, "Wasm": exampleFilter(t, "introspect")}))

	t.Run("active token passes with its subject", func(t *testing.T) {
		for range 4 {
			resp, body := get(t, n.url+"/users/1", "Authorization", "Bearer good", "X-Auth-Subject", "mallory")
			if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "users saw subject=alice id=") {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			id := strings.TrimPrefix(string(body), "users saw subject=alice id=")
			mu.Lock()
			seen := seenIDs[id]
			mu.Unlock()
			if id == "" || !seen {
				t.Errorf("the introspection call did not carry the request's id %q", id)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if calls["auth1"] == 0 || calls["auth2"] == 0 {
			t.Errorf("calls per endpoint %v: the pool did not balance the filter's calls", calls)
		}
	})
	t.Run("inactive or missing token is 401", func(t *testing.T) {
		for _, hdr := range [][]string{{"Authorization", "Bearer revoked"}, nil} {
			resp, body := get(t, n.url+"/users/1", hdr...)
			if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("%v: %d %s", hdr, resp.StatusCode, body)
			}
		}
	})
	t.Run("an upstream off the allow-list is refused", func(t *testing.T) {
		mu.Lock()
		before := calls["auth1"] + calls["auth2"]
		mu.Unlock()
		resp, body := get(t, n.url+"/open", "Authorization", "Bearer good")
		if resp.StatusCode != 503 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		mu.Lock()
		after := calls["auth1"] + calls["auth2"]
		mu.Unlock()
		if after != before {
			t.Error("a filter without the upstream on its allow-list reached it")
		}
		if !strings.Contains(n.logs.String(), `is not on filter \"not-allowed\"'s allow-list`) {
			t.Errorf("the refusal's reason was not logged:\n%s", n.logs.String())
		}
	})
	t.Run("a slow service is a 503 within the deadline, and the node keeps serving", func(t *testing.T) {
		start := time.Now()
		resp, body := get(t, n.url+"/users/1", "Authorization", "Bearer slow")
		if resp.StatusCode != 503 || !strings.Contains(string(body), "introspection unavailable") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("took %v for a 300ms filter deadline", took)
		}
		if resp, body := get(t, n.url+"/users/2", "Authorization", "Bearer good"); resp.StatusCode != 200 {
			t.Fatalf("after the timeout: %d %s", resp.StatusCode, body)
		}
	})
}
