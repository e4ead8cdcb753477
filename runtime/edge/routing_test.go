package edge

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sluicegw/sluice/runtime/testkit"
)

const routingConfig = `
upstreams:
  users:   {endpoints: ["{{.Users}}"]}
  billing: {endpoints: ["{{.Billing}}"]}
  api:     {endpoints: ["{{.API}}"]}
routes:
  - name: users
    match: {path_prefix: /users}
    upstream: users
  - name: user-by-id
    match: {path: "/users/{id}/profile", methods: [GET]}
    upstream: users
  - name: billing
    match: {path_prefix: /billing}
    rewrite: {strip_prefix: /billing}
    upstream: billing
  - name: tenant-api
    match: {host: "*.example.com", path_prefix: /}
    upstream: api
  - name: v2
    match: {path_prefix: /users, headers: {X-Api-Version: "2"}}
    upstream: api
  - name: old
    match: {path_prefix: /old}
    upstream: users
    deprecation: "2026-06-01T00:00:00Z"
    sunset: "2027-01-01T00:00:00Z"
`

func startRoutingNode(t *testing.T) *testNode {
	users := startUpstream(t, "users", nil)
	billing := startUpstream(t, "billing", nil)
	api := startUpstream(t, "api", nil)
	return startNode(t, render(t, routingConfig, map[string]string{"Users": users.url, "Billing": billing.url, "API": api.url}))
}

func TestRouting(t *testing.T) {
	n := startRoutingNode(t)
	cases := []struct {
		name, path    string
		hdr           []string
		wantUpstream  string
		wantPath      string
		wantRouteCode int
	}{
		{"prefix", "/users/7", nil, "users", "/users/7", 200},
		{"prefix exact", "/users", nil, "users", "/users", 200},
		{"prefix not segment", "/usersX", nil, "", "", 404},
		{"exact with param wins over prefix", "/users/7/profile", nil, "users", "/users/7/profile", 200},
		{"strip prefix", "/billing/invoices", nil, "billing", "/invoices", 200},
		{"strip prefix to root", "/billing", nil, "billing", "/", 200},
		{"wildcard host", "/anything", []string{"Host", "acme.example.com"}, "api", "/anything", 200},
		{"header narrows", "/users/7", []string{"X-Api-Version", "2"}, "api", "/users/7", 200},
		{"dot segments cleaned before routing", "/billing/../users/1", nil, "users", "/users/1", 200},
		{"no route", "/nothing", nil, "", "", 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := get(t, n.url+c.path, c.hdr...)
			if resp.StatusCode != c.wantRouteCode {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.wantRouteCode, body)
			}
			if c.wantRouteCode == 404 {
				e := decodeError(t, resp, body)
				if e.Error != "no route" || e.RequestID != resp.Header.Get("X-Request-Id") {
					t.Fatalf("404 body %+v, header id %q", e, resp.Header.Get("X-Request-Id"))
				}
				return
			}
			e := decodeEcho(t, body)
			if e.Upstream != c.wantUpstream || e.Path != c.wantPath {
				t.Fatalf("went to %s%s, want %s%s", e.Upstream, e.Path, c.wantUpstream, c.wantPath)
			}
		})
	}
}

func TestRequestIDKeptOrGenerated(t *testing.T) {
	n := startRoutingNode(t)
	resp, body := get(t, n.url+"/users", "X-Request-Id", "abc-123")
	if got := decodeEcho(t, body).Header["X-Request-Id"]; len(got) != 1 || got[0] != "abc-123" {
		t.Fatalf("upstream saw X-Request-Id %q, want the client's", got)
	}
	if resp.Header.Get("X-Request-Id") != "abc-123" {
		t.Fatalf("response X-Request-Id = %q", resp.Header.Get("X-Request-Id"))
	}
	// A malformed client id (spaces) is replaced, and ids are unique.
	_, b1 := get(t, n.url+"/users", "X-Request-Id", "has space")
	_, b2 := get(t, n.url+"/users")
	id1, id2 := decodeEcho(t, b1).Header["X-Request-Id"][0], decodeEcho(t, b2).Header["X-Request-Id"][0]
	if id1 == "has space" || id1 == "" || id1 == id2 {
		t.Fatalf("generated ids %q and %q", id1, id2)
	}
}

func TestForwardedHeaders(t *testing.T) {
	n := startRoutingNode(t)
	resp, body := get(t, n.url+"/users?x=1&y=2", "Connection", "keep-alive, X-Secret", "X-Secret", "hop")
	e := decodeEcho(t, body)
	if e.Query != "x=1&y=2" {
		t.Errorf("query %q not passed through", e.Query)
	}
	if got := e.Header["X-Forwarded-For"]; len(got) != 1 || got[0] != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q", got)
	}
	if got := e.Header["X-Forwarded-Proto"]; len(got) != 1 || got[0] != "http" {
		t.Errorf("X-Forwarded-Proto = %q", got)
	}
	if got := e.Header["X-Forwarded-Host"]; len(got) != 1 || !strings.HasPrefix(got[0], "127.0.0.1:") {
		t.Errorf("X-Forwarded-Host = %q", got)
	}
	if got := strings.Join(e.Header["Via"], ","); !strings.Contains(got, "sluice") {
		t.Errorf("Via = %q", got)
	}
	if _, leaked := e.Header["X-Secret"]; leaked {
		t.Errorf("a header named in Connection reached the upstream")
	}
	if !strings.Contains(resp.Header.Get("Via"), "sluice") {
		t.Errorf("response Via = %q", resp.Header.Get("Via"))
	}
}

func TestDeprecationAndSunsetHeaders(t *testing.T) {
	n := startRoutingNode(t)
	resp, _ := get(t, n.url+"/old/thing")
	if got := resp.Header.Get("Deprecation"); got != "@1780272000" {
		t.Errorf("Deprecation = %q, want @1780272000", got)
	}
	if got := resp.Header.Get("Sunset"); got != "Fri, 01 Jan 2027 00:00:00 GMT" {
		t.Errorf("Sunset = %q", got)
	}
	resp, _ = get(t, n.url+"/users")
	if resp.Header.Get("Deprecation") != "" {
		t.Errorf("Deprecation leaked onto another route")
	}
}

func TestAccessLogLine(t *testing.T) {
	n := startRoutingNode(t)
	resp, _ := get(t, n.url+"/users/9", "X-Request-Id", "log-me-1")
	if resp.StatusCode != http.StatusOK {
		t.Fatal(resp.Status)
	}
	testkit.WaitFor(t, 5e9, "access log line", func() bool {
		logs := n.logs.String()
		return strings.Contains(logs, `"request_id":"log-me-1"`) && strings.Contains(logs, `"route":"users"`) && strings.Contains(logs, `"status":200`)
	})
}
