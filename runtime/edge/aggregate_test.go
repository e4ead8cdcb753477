package edge

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

const aggregateConfig = `
upstreams:
  users: {endpoints: ["{{.Users}}"]}
  billing: {endpoints: ["{{.Billing}}"]}
  slow: {endpoints: ["{{.Slow}}"]}
  down: {endpoints: ["http://127.0.0.1:9"]}
auth:
  partners: {api_key: {header: X-API-Key, keys: {k1: {consumer: acme}}}}
filters:
  headers:
    module: "{{.Headers}}"
    config: {request: {set: {X-Env: prod}}}
  redact:
    module: "{{.Redact}}"
    config: {fields: [password]}
routes:
  - name: profile
    match: {path: "/profile/{id}"}
    auth: [partners]
    filters: [headers, redact]
    aggregate:
      user: {upstream: users, path: "/users/{id}"}
      invoices: {upstream: billing, path: "/invoices?user={id}&limit=2"}
  - name: partial
    match: {path: "/partial/{id}"}
    timeout: 300ms
    aggregate:
      user: {upstream: users, path: "/users/{id}"}
      slow: {upstream: slow, path: "/wait/{id}"}
      broken: {upstream: down, path: "/x"}
      bad: {upstream: billing, path: "/not-json"}
  - name: none
    match: {path: "/none/{id}"}
    aggregate:
      a: {upstream: down, path: "/a/{id}"}
      b: {upstream: billing, path: "/fail"}
`

func TestAggregate(t *testing.T) {
	users := startUpstream(t, "users", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"id": strings.TrimPrefix(r.URL.Path, "/users/"), "password": "hunter2", "env": r.Header.Get("X-Env"),
		})
	}))
	billing := startUpstream(t, "billing", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/invoices":
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode([]map[string]string{{"user": r.URL.Query().Get("user"), "limit": r.URL.Query().Get("limit")}})
		case "/not-json":
			w.Write([]byte("<html>"))
		default:
			http.Error(w, "boom", http.StatusInternalServerError)
		}
	}))
	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	slow := startUpstream(t, "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-gate:
		case <-r.Context().Done():
		}
	}))
	tn := startNode(t, render(t, aggregateConfig, map[string]string{
		"Users": users.url, "Billing": billing.url, "Slow": slow.url,
		"Headers": exampleFilter(t, "headers"), "Redact": exampleFilter(t, "redact-json"),
	}))

	t.Run("merged under keys, filters and auth apply", func(t *testing.T) {
		resp, body := get(t, tn.url+"/profile/a%20b", "X-API-Key", "k1")
		if resp.StatusCode != 200 || resp.Header.Get("X-Sluice-Partial") != "" {
			t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
		}
		var got struct {
			User     map[string]string   `json:"user"`
			Invoices []map[string]string `json:"invoices"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if got.User["id"] != "a b" || got.User["env"] != "prod" || got.User["password"] != "[REDACTED]" {
			t.Errorf("user: %v", got.User)
		}
		if len(got.Invoices) != 1 || got.Invoices[0]["user"] != "a b" || got.Invoices[0]["limit"] != "2" {
			t.Errorf("invoices: %v", got.Invoices)
		}
		if resp, _ := get(t, tn.url+"/profile/7"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("without a key: %d", resp.StatusCode)
		}
	})
	t.Run("failed and timed-out backends leave null", func(t *testing.T) {
		resp, body := get(t, tn.url+"/partial/7")
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if got := resp.Header.Get("X-Sluice-Partial"); got != "bad,broken,slow" {
			t.Errorf("X-Sluice-Partial = %q", got)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		for _, k := range []string{"bad", "broken", "slow"} {
			if v, ok := got[k]; !ok || string(v) != "null" {
				t.Errorf("%s = %s, want null", k, v)
			}
		}
		if !strings.Contains(string(got["user"]), `"id":"7"`) {
			t.Errorf("user = %s", got["user"])
		}
	})
	t.Run("every backend failed", func(t *testing.T) {
		resp, body := get(t, tn.url+"/none/7")
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		decodeError(t, resp, body)
		if resp.Header.Get("X-Sluice-Partial") != "a,b" {
			t.Errorf("X-Sluice-Partial = %q", resp.Header.Get("X-Sluice-Partial"))
		}
	})
	t.Run("GET only", func(t *testing.T) {
		resp, err := testClient.Post(tn.url+"/none/7", "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST: %d", resp.StatusCode)
		}
	})
}
