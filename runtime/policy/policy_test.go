package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/sluicegw/sluice/runtime/auth"
	"github.com/sluicegw/sluice/runtime/httperr"
)

// writePolicy writes files (name → content) into a new directory.
func writePolicy(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func loadSource(t *testing.T, src string) *Policy {
	t.Helper()
	p, err := Load(context.Background(), "t", writePolicy(t, map[string]string{"p.rego": src}), "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExamplePolicies runs the Rego tests of every policies/* directory
// through OPA's test runner, so `make test` fails on a failing Rego test.
func TestExamplePolicies(t *testing.T) {
	dirs, err := filepath.Glob("../../policies/*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var out bytes.Buffer
			passed, failed, err := RunTests(context.Background(), dir, &out)
			if err != nil || failed > 0 || passed == 0 {
				t.Fatalf("%d passed, %d failed, err %v\n%s", passed, failed, err, out.String())
			}
			// And the policy itself loads for serving.
			if _, err := Load(context.Background(), filepath.Base(dir), dir, ""); err != nil {
				t.Fatal(err)
			}
		})
	}
	if n < 4 {
		t.Fatalf("found %d example policies, want at least 4", n)
	}
}

func TestRunTestsReportsFailures(t *testing.T) {
	dir := writePolicy(t, map[string]string{
		"p.rego": "package sluice.authz\n\ndecision := input.n > 1\n",
		"p_test.rego": `package sluice.authz_test

import data.sluice.authz

test_passes if authz.decision with input as {"n": 2}

test_fails if {
	print("n is", 0)
	authz.decision with input as {"n": 0}
}

test_errors if {
	x := 1 / 0
	x > 0
}

todo_test_later if false
`,
	})
	var out bytes.Buffer
	passed, failed, err := RunTests(context.Background(), dir, &out)
	if err != nil || passed != 1 || failed != 2 {
		t.Fatalf("passed %d failed %d err %v\n%s", passed, failed, err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"p_test.rego:7: FAIL data.sluice.authz_test.test_fails",
		"print: n is 0",
		"p_test.rego:12: ERROR data.sluice.authz_test.test_errors",
		"divide by zero",
		": 1 passed, 2 failed, 1 skipped",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}

	_, _, err = RunTests(context.Background(), writePolicy(t, map[string]string{"p.rego": "package x\n\nallow := true\n"}), &out)
	if !errors.Is(err, ErrNoTests) {
		t.Fatalf("no tests: err = %v", err)
	}
	_, _, err = RunTests(context.Background(), writePolicy(t, map[string]string{"p.rego": "package x\n\nallow := \n"}), &out)
	if err == nil || !strings.Contains(err.Error(), "p.rego:4") {
		t.Fatalf("parse error: err = %v", err)
	}
}

func TestLoadErrorsNameFileAndLine(t *testing.T) {
	for name, c := range map[string]struct {
		files map[string]string
		query string
		want  string
	}{
		"parse":            {map[string]string{"ok.rego": "package sluice.authz\n\ndecision := true\n", "bad.rego": "package sluice.authz\n\nx := {\n"}, "", "bad.rego:4"},
		"rego v0 syntax":   {map[string]string{"old.rego": "package sluice.authz\n\ndecision { true }\n"}, "", "old.rego:3"},
		"unsafe var":       {map[string]string{"p.rego": "package sluice.authz\n\ndecision if {\n\tx == y\n}\n"}, "", "p.rego:4"},
		"unknown function": {map[string]string{"p.rego": "package sluice.authz\n\ndecision := nope(1)\n"}, "", "p.rego:3"},
		"type error":       {map[string]string{"p.rego": "package sluice.authz\n\ndecision := count(1)\n"}, "", "p.rego:3"},
		"bad data.json":    {map[string]string{"p.rego": "package sluice.authz\n\ndecision := true\n", "data.json": "{nope"}, "", "data.json"},
		"no rego":          {map[string]string{"data.json": "{}"}, "", "no .rego files"},
		"query undefined":  {map[string]string{"p.rego": "package sluice.authz\n\ndecision := true\n"}, "data.sluice.authz.decison", "no rule"},
		"query not a ref":  {map[string]string{"p.rego": "package sluice.authz\n\ndecision := true\n"}, "1 + 1", "not a reference"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(context.Background(), "authz", writePolicy(t, c.files), c.query)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `policy "authz"`) {
				t.Fatalf("err = %v, want it to name %q", err, c.want)
			}
		})
	}
	if _, err := Load(context.Background(), "x", filepath.Join(t.TempDir(), "missing"), ""); err == nil {
		t.Fatal("a missing directory loaded")
	}
}

// TestLoadIgnoresTestsAndOtherFiles: tests, READMEs and example inputs are
// not part of the served policy.
func TestLoadIgnoresTestsAndOtherFiles(t *testing.T) {
	dir := writePolicy(t, map[string]string{
		"p.rego":          "package sluice.authz\n\ndecision := data.answer\n",
		"data.json":       `{"answer": true}`,
		"p_test.rego":     "package sluice.authz\n\ndecision := false\n", // would conflict
		"input.json":      `{"answer": false}`,                           // would conflict
		"README.md":       "# not rego",
		"sub/data.json":   `{"x": 1}`,
		".hidden/x.rego":  "this does not parse",
		"sub/helper.rego": "package sluice.helper\n\nk := data.sub.x\n",
	})
	p, err := Load(context.Background(), "t", dir, "")
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Decide(context.Background(), &Input{})
	if err != nil || !d.Allow {
		t.Fatalf("decision %+v, err %v", d, err)
	}
}

func TestDecideExamples(t *testing.T) {
	ctx := context.Background()
	jwt := func(claims map[string]any) *auth.Identity {
		return &auth.Identity{Method: auth.MethodJWT, Provider: "users-jwt", Subject: "alice", Claims: claims}
	}
	for _, c := range []struct {
		policy string
		in     Input
		want   Decision
	}{
		{"rbac", Input{Method: "GET", Path: "/users/1", Auth: jwt(map[string]any{"roles": []any{"viewer"}})}, Decision{Allow: true}},
		{"rbac", Input{Method: "DELETE", Path: "/users/1", Auth: jwt(map[string]any{"roles": []any{"viewer"}})}, Decision{Status: 403, Reason: "no role grants this request"}},
		{"rbac", Input{Method: "GET", Path: "/users/1", Auth: jwt(map[string]any{})}, Decision{Status: 403, Reason: "the token carries no roles"}},
		{"rbac", Input{Method: "GET", Path: "/users/1"}, Decision{Status: 403, Reason: "the token carries no roles"}},
		{"tenant", Input{Method: "GET", Path: "/orders", Headers: http.Header{"X-Tenant-Id": {"acme"}}, Auth: jwt(map[string]any{"tenant": "acme"})},
			Decision{Allow: true, Headers: map[string]string{"x-tenant": "acme"}}},
		{"tenant", Input{Method: "GET", Path: "/tenants/globex", Auth: jwt(map[string]any{"tenant": "acme"})}, Decision{Status: 403, Reason: "tenant mismatch"}},
		{"plans", Input{Method: "GET", Route: "billing", Auth: &auth.Identity{Method: auth.MethodAPIKey, Subject: "acme", Consumer: "acme"}},
			Decision{Allow: true, Headers: map[string]string{"x-sluice-plan": "pro"}}},
		{"plans", Input{Method: "GET", Route: "billing", Auth: &auth.Identity{Method: auth.MethodAPIKey, Subject: "globex", Consumer: "globex"}},
			Decision{Status: 403, Reason: "the plan does not include this route"}},
		{"allowlist", Input{Method: "GET", Path: "/", RemoteAddr: "10.1.2.3:5555"}, Decision{Allow: true}},
		{"allowlist", Input{Method: "GET", Path: "/", RemoteAddr: "[::1]:5555"}, Decision{Allow: true}},
	} {
		got, err := example(t, c.policy).Decide(ctx, &c.in)
		if err != nil {
			t.Fatalf("%s %+v: %v", c.policy, c.in, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %s %s: got %+v, want %+v", c.policy, c.in.Method, c.in.Path, got, c.want)
		}
	}
}

func TestDecisionShapes(t *testing.T) {
	ok := map[string]Decision{
		"decision := true":                           {Allow: true},
		"decision := false":                          {Status: 403, Reason: "denied by policy"},
		`decision := {"allow": true, "status": 418}`: {Allow: true},
		`decision := {"allow": false}`:               {Status: 403, Reason: "denied by policy"},
		`decision := {"allow": false, "status": 401, "reason": "who are you"}`:           {Status: 401, Reason: "who are you"},
		`decision := {"allow": false, "status": 302, "headers": {"location": "/login"}}`: {Status: 302, Reason: "denied by policy", Headers: map[string]string{"location": "/login"}},
		`decision := {"allow": true, "headers": {"x-user": "alice"}, "extra": [1]}`:      {Allow: true, Headers: map[string]string{"x-user": "alice"}},
	}
	for src, want := range ok {
		got, err := loadSource(t, "package sluice.authz\n\n"+src+"\n").Decide(context.Background(), &Input{})
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, %v; want %+v", src, got, err, want)
		}
	}

	bad := map[string]struct {
		src   string
		is    error
		where string
	}{
		"undefined":          {"decision if input.never", ErrUndefined, "p.rego:3"},
		"a string":           {`decision := "yes"`, ErrBadDecision, "p.rego:3"},
		"allow not boolean":  {`decision := {"allow": "true"}`, ErrBadDecision, ""},
		"no allow":           {`decision := {"status": 403}`, ErrBadDecision, ""},
		"status 200":         {`decision := {"allow": false, "status": 200}`, ErrBadDecision, ""},
		"status not integer": {`decision := {"allow": false, "status": 403.5}`, ErrBadDecision, ""},
		"reason not string":  {`decision := {"allow": false, "reason": 1}`, ErrBadDecision, ""},
		"header injection":   {`decision := {"allow": true, "headers": {"x": "a\r\nSet-Cookie: evil"}}`, ErrBadDecision, ""},
		"header bad name":    {`decision := {"allow": true, "headers": {"bad name": "a"}}`, ErrBadDecision, ""},
		"headers not object": {`decision := {"allow": true, "headers": ["a"]}`, ErrBadDecision, ""},
		"builtin error":      {"decision := 1 / count(input.request.path) > 0", ErrEval, "p.rego:3"},
		"conflict":           {"decision := true if input.request.method == \"\"\n\ndecision := false if input.route == \"\"", ErrEval, "p.rego:"},
	}
	for name, c := range bad {
		t.Run(name, func(t *testing.T) {
			d, err := loadSource(t, "package sluice.authz\n\n"+c.src+"\n").Decide(context.Background(), &Input{})
			var he *httperr.Error
			if !errors.As(err, &he) || he.Status != http.StatusServiceUnavailable || !errors.Is(err, c.is) || d.Allow {
				t.Fatalf("decision %+v, err %v; want 503 wrapping %v", d, err, c.is)
			}
			if !strings.Contains(err.Error(), c.where) || !strings.Contains(err.Error(), `policy "t"`) {
				t.Fatalf("err %q does not name %q", err, c.where)
			}
		})
	}

	// More than one result, from a query that iterates.
	dir := writePolicy(t, map[string]string{"p.rego": "package sluice.authz\n\nmany := [\"a\", \"b\"]\n"})
	p, err := Load(context.Background(), "t", dir, "data.sluice.authz.many[i]")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Decide(context.Background(), &Input{}); !errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}

	// A cancelled context stops evaluation: an error, not an allow.
	slow := loadSource(t, "package sluice.authz\n\ndecision if count([x | some x in numbers.range(1, 1000000); x % 7 == 0]) > 0\n")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if d, err := slow.Decide(ctx, &Input{}); !errors.Is(err, ErrEval) || d.Allow {
		t.Fatalf("cancelled: %+v %v", d, err)
	}
}

// TestInputDocument: the input is docs/policies.md's document, field for field.
func TestInputDocument(t *testing.T) {
	in := &Input{
		Method: "GET", Path: "/users/42", Host: "api.example.com", RemoteAddr: "10.0.0.7:51234", Route: "users",
		Headers: http.Header{"X-Api-Version": {"2", "3"}, "X-Custom-Thing": {"a"}, "Empty": {}},
		Query:   url.Values{"limit": {"10"}, "tag": {"a", "b"}},
		Auth: &auth.Identity{Method: auth.MethodJWT, Provider: "p", Subject: "alice",
			Claims: map[string]any{"roles": []any{"admin"}, "exp": json.Number("1893456000"), "nested": map[string]any{"x": true}}},
	}
	want := `{"request": {"method": "GET", "path": "/users/42", "host": "api.example.com",
		"headers": {"x-api-version": "2", "x-custom-thing": "a"}, "query": {"limit": ["10"], "tag": ["a", "b"]}, "remote_addr": "10.0.0.7"},
		"route": "users",
		"auth": {"method": "jwt", "subject": "alice", "claims": {"roles": ["admin"], "exp": 1893456000, "nested": {"x": true}}, "consumer": ""}}`
	assertJSON(t, in.Value(), want)

	// The edge hands over the raw query; it is parsed when the policy reads it.
	in.Query, in.RawQuery = nil, "limit=10&tag=a&tag=b"
	assertJSON(t, in.Value(), want)

	anon := `{"request": {"method": "", "path": "", "host": "", "headers": {}, "query": {}, "remote_addr": ""},
		"route": "", "auth": {"method": "", "subject": "", "claims": {}, "consumer": ""}}`
	assertJSON(t, (&Input{}).Value(), anon)
}

func assertJSON(t *testing.T, v ast.Value, want string) {
	t.Helper()
	got, err := ast.JSON(v)
	if err != nil {
		t.Fatal(err)
	}
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("input document\n got %s\nwant %s", gb, wb)
	}
}

// TestInputNeeds: the input is pruned to what the policy can read, and a
// use the analysis cannot follow keeps everything.
func TestInputNeeds(t *testing.T) {
	in := benchInputs["rbac"]
	for _, c := range []struct {
		src  string
		want string
	}{
		{`decision if input.request.headers["x-api-version"] == "2"`, `{"request": {"headers": {"x-api-version": "2"}}}`},
		{`decision if input.auth.claims.roles[_] == "viewer"`, `{"auth": {"claims": {"roles": ["viewer"]}}}`},
		{"decision if input.route == \"users\"\n\nd2 if input.request.method == \"GET\"", `{"request": {"method": "GET"}, "route": "users"}`},
		{`decision if count(input.request.query) > 0`, `{"request": {"query": {"limit": ["10"]}}}`},
	} {
		p := loadSource(t, "package sluice.authz\n\n"+c.src+"\n")
		assertJSON(t, in.build(p.need), c.want)
	}
	for _, src := range []string{
		`decision if input.request.headers[data.h] == "2"`,
		`decision if { x := input; x.route == "users" }`,
		`decision if walk(input, _)`,
		`decision if object.get(input, ["request", "path"], "") != ""`,
	} {
		p := loadSource(t, "package sluice.authz\n\nh := \"x-api-version\"\n\n"+src+"\n")
		got := in.build(p.need)
		if strings.Contains(src, "data.h") {
			got = got.(ast.Object).Get(ast.StringTerm("request")).Value.(ast.Object).Get(ast.StringTerm("headers")).Value
			if got.(ast.Object).Len() != len(in.Headers) {
				t.Errorf("%s: headers %v, want all", src, got)
			}
			continue
		}
		if got.Compare(in.Value()) != 0 {
			t.Errorf("%s: pruned input %v", src, got)
		}
	}
	// The examples decide the same on the pruned and the whole input.
	for name, in := range benchInputs {
		p := example(t, policyOf(name))
		a, errA := p.decide(context.Background(), in.build(p.need))
		b, errB := p.decide(context.Background(), in.Value())
		if !reflect.DeepEqual(a, b) || (errA == nil) != (errB == nil) {
			t.Errorf("%s: pruned %+v %v, whole %+v %v", name, a, errA, b, errB)
		}
	}
}

func TestEval(t *testing.T) {
	input := []byte(`{"request": {"method": "DELETE", "path": "/users/42"}, "auth": {"method": "jwt", "claims": {"roles": ["admin"]}}}`)
	d, took, err := Eval(context.Background(), "../../policies/rbac", "", input)
	if err != nil || !d.Allow || took <= 0 {
		t.Fatalf("decision %+v in %s, err %v", d, took, err)
	}
	if _, _, err := Eval(context.Background(), "../../policies/rbac", "", []byte(`{nope`)); err == nil {
		t.Fatal("bad JSON accepted")
	}
	if _, _, err := Eval(context.Background(), "../../policies/rbac", "", []byte(`[1]`)); err == nil {
		t.Fatal("a non-object input accepted")
	}
	_, _, err = Eval(context.Background(), "../../policies/rbac", "data.sluice.authz.allowed", []byte(`{}`))
	if !errors.Is(err, ErrUndefined) {
		t.Fatalf("undefined: %v", err)
	}
}

// Decisions are remembered only for policies that cannot decide differently
// on the same input: the time-window allow list is evaluated every time.
func TestDecisionsRememberedOnlyWhenDeterministic(t *testing.T) {
	for name, want := range map[string]bool{"rbac": true, "tenant": true, "plans": true, "allowlist": false} {
		if got := example(t, name).decisions != nil; got != want {
			t.Errorf("%s: decisions remembered = %v, want %v", name, got, want)
		}
	}
	// The same input twice: the second answer comes from the cache and is
	// the same; a different input is decided on its own.
	p := example(t, "rbac")
	p.decisions.lru.Purge()
	allow, deny := *benchInputs["rbac"], *benchInputs["rbac-deny"]
	for range 2 {
		if d, err := p.Decide(context.Background(), &allow); err != nil || !d.Allow {
			t.Fatalf("viewer GET: %+v %v", d, err)
		}
		if d, err := p.Decide(context.Background(), &deny); err != nil || d.Allow {
			t.Fatalf("viewer DELETE: %+v %v", d, err)
		}
	}
	if n := p.decisions.lru.Len(); n != 2 {
		t.Errorf("%d decisions remembered, want 2", n)
	}
}
