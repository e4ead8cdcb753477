package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/sluicegw/sluice/sdk/sluicetest"
)

const cfg = `{
  "allowed_origins": ["https://app.example.com", "https://*.example.org"],
  "allowed_methods": ["GET", "POST", "DELETE"],
  "allowed_headers": ["Content-Type", "Authorization"],
  "exposed_headers": ["X-Request-Id"],
  "allow_credentials": true,
  "max_age": "10m"
}`

func preflight(origin, method, headers string) *sluicetest.Request {
	req := sluicetest.NewRequest("OPTIONS", "/users")
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		req.Header.Set("Access-Control-Request-Headers", headers)
	}
	return req
}

func TestPreflightAllowed(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(cfg))
	if h.Stateless() {
		t.Error("declared stateless, but it remembers the Origin from the request phase for the response phase")
	}
	for _, origin := range []string{"https://app.example.com", "https://eu.example.org", "https://a.b.example.org"} {
		res := h.Do(preflight(origin, "DELETE", "content-type, authorization"), sluicetest.NewResponse(500, "upstream must not be called"))
		if res.Next || res.Response.StatusCode != 204 {
			t.Fatalf("%s: next=%v status %d", origin, res.Next, res.Response.StatusCode)
		}
		want := map[string]string{
			"Access-Control-Allow-Origin":      origin,
			"Access-Control-Allow-Methods":     "GET, POST, DELETE",
			"Access-Control-Allow-Headers":     "Content-Type, Authorization",
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Max-Age":           "600",
		}
		for k, v := range want {
			if got := res.Response.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", origin, k, got, v)
			}
		}
		if !strings.Contains(res.Response.Header.Get("Vary"), "Origin") {
			t.Errorf("Vary %q", res.Response.Header.Get("Vary"))
		}
	}
}

func TestPreflightRefused(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(cfg))
	for _, tc := range []struct{ origin, method, headers, why string }{
		{"https://evil.example.com", "GET", "", "origin"},
		{"https://example.org", "GET", "", "origin"},              // the pattern needs a subdomain
		{"http://app.example.com", "GET", "", "origin"},           // other scheme
		{"https://app.example.com.evil.net", "GET", "", "origin"}, // suffix trick
		{"https://x.evil.net/.example.org", "GET", "", "origin"},
		{"null", "GET", "", "origin"},
		{"https://app.example.com", "PUT", "", "method"},
		{"https://app.example.com", "GET", "X-Secret", "header"},
	} {
		res := h.Do(preflight(tc.origin, tc.method, tc.headers), nil)
		if res.Next || res.Response.StatusCode != 403 || !strings.Contains(string(res.Response.Body), tc.why) {
			t.Errorf("%+v: next=%v %d %s", tc, res.Next, res.Response.StatusCode, res.Response.Body)
		}
		if res.Response.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%+v: allow-origin sent on a refusal", tc)
		}
	}
}

func TestActualRequest(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(cfg))
	up := func() *sluicetest.Response {
		r := sluicetest.NewResponse(200, `{"id":1}`)
		r.Header.Set("Access-Control-Allow-Origin", "*") // the upstream's own idea
		r.Header.Set("Vary", "Accept-Encoding")
		return r
	}
	req := sluicetest.NewRequest("GET", "/users/1")
	req.Header.Set("Origin", "https://app.example.com")
	res := h.Do(req, up())
	ph := res.Response.Header
	if !res.Next || ph.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		ph.Get("Access-Control-Allow-Credentials") != "true" || ph.Get("Access-Control-Expose-Headers") != "X-Request-Id" {
		t.Fatalf("allowed: %v", ph)
	}
	if got := ph.Values("Vary"); !slices.Equal(got, []string{"Accept-Encoding", "Origin"}) {
		t.Errorf("Vary %q", got)
	}

	req = sluicetest.NewRequest("POST", "/users")
	req.Header.Set("Origin", "https://evil.example.com")
	res = h.Do(req, up())
	if !res.Next || res.Response.Header.Get("Access-Control-Allow-Origin") != "" || res.Response.StatusCode != 200 {
		t.Fatalf("refused origin: next=%v %v", res.Next, res.Response.Header)
	}

	res = h.Do(sluicetest.NewRequest("GET", "/users/1"), up()) // same-origin or not a browser
	if res.Response.Header.Get("Access-Control-Allow-Origin") != "*" || len(res.Response.Header.Values("Vary")) != 1 {
		t.Fatalf("no Origin: the response must be untouched: %v", res.Response.Header)
	}
}

func TestPlainOptionsPassesThrough(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(cfg))
	req := sluicetest.NewRequest("OPTIONS", "/users")
	req.Header.Set("Origin", "https://app.example.com")
	if res := h.Do(req, nil); !res.Next {
		t.Fatal("an OPTIONS request without Access-Control-Request-Method was answered")
	}
}

func TestAnyOriginAnyHeader(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(`{"allowed_origins": ["*"], "allowed_headers": ["*"], "max_age": 30}`))
	res := h.Do(preflight("https://anywhere.test", "POST", "X-Custom, Content-Type"), nil)
	ph := res.Response.Header
	if res.Response.StatusCode != 204 || ph.Get("Access-Control-Allow-Origin") != "*" ||
		ph.Get("Access-Control-Allow-Headers") != "X-Custom, Content-Type" || ph.Get("Access-Control-Max-Age") != "30" ||
		ph.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("%d %v", res.Response.StatusCode, ph)
	}
	req := sluicetest.NewRequest("GET", "/")
	req.Header.Set("Origin", "https://anywhere.test")
	if res := h.Do(req, nil); res.Response.Header.Get("Access-Control-Allow-Origin") != "*" || res.Response.Header.Get("Vary") != "" {
		t.Fatalf("%v", res.Response.Header)
	}
}

func TestBadConfig(t *testing.T) {
	for _, c := range []string{
		`{}`,
		`{"allowed_origins": ["*"], "allow_credentials": true}`,
		`{"allowed_origins": ["app.example.com"]}`,
		`{"allowed_origins": ["https://app.example.com/path"]}`,
		`{"allowed_origins": ["https://*example.com"]}`,
		`{"allowed_origins": ["https://a.*.com"]}`,
		`{"allowed_origins": ["*"], "max_age": "soon"}`,
		`{"allowed_origins": ["*"], "max_age": -5}`,
		`{"allowed_origins": ["*"], "allowed_headers": ["Bad Header"]}`,
		`{"allowed_origins": ["*"], "allowed_methods": ["GET POST"]}`,
	} {
		if _, err := sluicetest.Load(t, sluicetest.WithConfig(c)); err == nil {
			t.Errorf("accepted %s", c)
		}
	}
}
