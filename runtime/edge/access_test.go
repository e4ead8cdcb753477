package edge

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicegw/sluice/runtime/demo"
)

// demoToken asks the real demo auth service for a signed JWT.
func demoToken(t *testing.T, authURL, user string) string {
	t.Helper()
	_, body := get(t, authURL+"/token?user="+user)
	var tok struct{ Token string }
	if err := json.Unmarshal(body, &tok); err != nil || tok.Token == "" {
		t.Fatalf("no token for %s: %s", user, body)
	}
	return tok.Token
}

func TestAuthAndPolicyEndToEnd(t *testing.T) {
	authSvc, err := demo.Start("auth", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer authSvc.Close()
	authURL := "http://" + authSvc.Addr
	up := startUpstream(t, "users", nil)
	n := startNode(t, render(t, `
upstreams: {users: {endpoints: ["{{.Up}}"]}}
auth:
  users-jwt: {jwt: {issuer: demo, jwks_url: "{{.Auth}}/jwks.json", audiences: [api]}}
  partners:  {api_key: {header: X-API-Key, keys: {demo-key: {consumer: acme}}}}
policies:
  rbac: {module: "{{.Policy}}"}
routes:
  - {name: users, match: {path_prefix: /users}, upstream: users, auth: [users-jwt, partners], policy: rbac}
  - {name: open, match: {path_prefix: /open}, upstream: users}
`, map[string]string{"Up": up.url, "Auth": authURL, "Policy": filepath.Join(repoRoot(t), "policies", "rbac")}))

	bob := "Bearer " + demoToken(t, authURL, "bob")     // viewer
	alice := "Bearer " + demoToken(t, authURL, "alice") // admin

	do := func(method, path, authz string) (*http.Response, []byte) {
		req, _ := http.NewRequest(method, n.url+path, nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}

	resp, body := do("GET", "/users/1", "")
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("no credentials: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	decodeError(t, resp, body)
	if resp, body = do("GET", "/users/1", "Bearer not.a.token"); resp.StatusCode != 401 {
		t.Fatalf("garbage token: %d %s", resp.StatusCode, body)
	}
	if resp, body = do("GET", "/users/1", bob); resp.StatusCode != 200 {
		t.Fatalf("viewer GET: %d %s", resp.StatusCode, body)
	}
	resp, body = do("DELETE", "/users/1", bob)
	if resp.StatusCode != 403 || decodeError(t, resp, body).Error != "no role grants this request" {
		t.Fatalf("viewer DELETE: %d %s", resp.StatusCode, body)
	}
	if resp, body = do("DELETE", "/users/1", alice); resp.StatusCode != 200 {
		t.Fatalf("admin DELETE: %d %s", resp.StatusCode, body)
	}
	// An API key authenticates, but carries no roles: the policy denies.
	req, _ := http.NewRequest("GET", n.url+"/users/1", nil)
	req.Header.Set("X-API-Key", "demo-key")
	r2, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 403 {
		t.Fatalf("api key without roles: %d", r2.StatusCode)
	}
	if resp, _ = do("GET", "/open", ""); resp.StatusCode != 200 {
		t.Fatalf("unprotected route: %d", resp.StatusCode)
	}
	_, metrics := get(t, n.adminURL+"/metrics")
	if !strings.Contains(string(metrics), `sluice_policy_duration_seconds_count{policy="rbac"}`) {
		t.Error("no policy latency histogram")
	}
}

// A policy that errors denies with 503: never 200.
func TestPolicyErrorFailsClosed(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "broken.rego"), `package sluice.authz

decision := x if {
	x := to_number(input.request.headers["x-n"])
}
`)
	up := startUpstream(t, "u", nil)
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.Up}}"]}}
policies: {broken: {module: "{{.Dir}}"}}
routes: [{name: r, match: {path_prefix: /}, upstream: u, policy: broken}]
`, map[string]string{"Up": up.url, "Dir": dir}))
	resp, body := get(t, n.url+"/x", "X-N", "not-a-number")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("erroring policy: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, n.url+"/x", "X-N", "3") // a number is not a decision
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("non-decision: %d %s", resp.StatusCode, body)
	}
}

// decision_log: every deny is logged; allows at the sample rate (here all,
// then none), each line with the request id of the access log.
func TestPolicyDecisionLog(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "gate.rego"), `package sluice.authz

default decision := {"allow": false, "status": 403, "reason": "closed"}

decision := {"allow": true} if input.request.headers["x-open"] == "yes"
`)
	up := startUpstream(t, "u", nil)
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.Up}}"]}}
policies:
  all:  {module: "{{.Dir}}", decision_log: {sample: 1}}
  none: {module: "{{.Dir}}", decision_log: {sample: 0}}
routes:
  - {name: all, match: {path_prefix: /all}, upstream: u, policy: all}
  - {name: none, match: {path_prefix: /none}, upstream: u, policy: none}
`, map[string]string{"Up": up.url, "Dir": dir}))

	decisions := func() []map[string]any {
		var out []map[string]any
		for _, line := range strings.Split(n.logs.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "policy decision" {
				out = append(out, m)
			}
		}
		return out
	}
	resp, _ := get(t, n.url+"/all/1", "X-Open", "yes")
	allowedID := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != 200 {
		t.Fatalf("allowed: %d", resp.StatusCode)
	}
	if resp, _ = get(t, n.url+"/none/1", "X-Open", "yes"); resp.StatusCode != 200 {
		t.Fatalf("allowed: %d", resp.StatusCode)
	}
	resp, _ = get(t, n.url+"/none/2")
	deniedID := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != 403 {
		t.Fatalf("denied: %d", resp.StatusCode)
	}
	got := decisions()
	if len(got) != 2 {
		t.Fatalf("%d decision lines, want 2 (the sampled allow and the deny):\n%s", len(got), n.logs.String())
	}
	if got[0]["policy"] != "all" || got[0]["allow"] != true || got[0]["request_id"] != allowedID {
		t.Errorf("allow line: %v (request id %s)", got[0], allowedID)
	}
	if got[1]["policy"] != "none" || got[1]["allow"] != false || got[1]["reason"] != "closed" || got[1]["request_id"] != deniedID {
		t.Errorf("deny line: %v (request id %s)", got[1], deniedID)
	}
}
