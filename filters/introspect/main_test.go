package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	sluice "github.com/sluicegw/sluice/sdk"
	"github.com/sluicegw/sluice/sdk/sluicetest"
)

// introspection is an RFC 7662 endpoint in memory: token "good" is active
// for alice, every other token inactive.
func introspection(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/oauth/introspect" || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("introspection request: %s %s %v", r.Method, r.URL, r.Header)
		}
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("token") == "good" {
			_ = json.NewEncoder(w).Encode(map[string]any{"active": true, "sub": "alice"})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"active": false})
	})
}

const cfg = `{"upstream": "auth", "path": "/oauth/introspect"}`

func request(token string) *sluicetest.Request {
	r := sluicetest.NewRequest("GET", "/users")
	r.Header.Set("X-Auth-Subject", "mallory") // a client trying to choose its subject
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

func TestIntrospect(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(cfg), sluicetest.WithUpstream("auth", introspection(t)))
	if !h.Stateless() {
		t.Error("not declared stateless")
	}
	res := h.Do(request("good"), nil)
	if !res.Next || res.Request.Header.Get("X-Auth-Subject") != "alice" {
		t.Fatalf("active token: next=%v subject=%q", res.Next, res.Request.Header.Get("X-Auth-Subject"))
	}
	for _, token := range []string{"bad", ""} {
		res := h.Do(request(token), nil)
		if res.Next || res.Response.StatusCode != 401 || res.Response.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("token %q: next=%v %d %v", token, res.Next, res.Response.StatusCode, res.Response.Header)
		}
	}
}

func TestIntrospectionServiceDown(t *testing.T) {
	for _, err := range []error{sluice.ErrCallTimeout, sluice.ErrUpstreamFailed, sluice.ErrNotAllowed} {
		h := sluicetest.New(t, sluicetest.WithConfig(cfg), sluicetest.WithUpstreamError("auth", err))
		res := h.Do(request("good"), nil)
		if res.Next || res.Response.StatusCode != 503 {
			t.Errorf("%v: next=%v status %d, want 503", err, res.Next, res.Response.StatusCode)
		}
	}
	h := sluicetest.New(t, sluicetest.WithConfig(cfg), sluicetest.WithUpstream("auth", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", 500)
	})))
	if res := h.Do(request("good"), nil); res.Next || res.Response.StatusCode != 503 {
		t.Errorf("a 500 from the service: next=%v status %d, want 503", res.Next, res.Response.StatusCode)
	}
}

func TestIntrospectConfig(t *testing.T) {
	for _, bad := range []string{`{}`, `{"upstream": "auth", "path": "x"}`, `{"upstream": "auth", "pth": "/x"}`} {
		if _, err := sluicetest.Load(t, sluicetest.WithConfig(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestCallErrorsAreTyped checks the SDK's error kinds through the host.
func TestCallErrorsAreTyped(t *testing.T) {
	sluicetest.New(t, sluicetest.WithConfig(cfg), sluicetest.WithFilter(sluice.RequestFunc(func(sluice.Request, sluice.Response) bool {
		_, err := sluice.Call("elsewhere", sluice.CallRequest{})
		if !errors.Is(err, sluice.ErrNotAllowed) {
			t.Errorf("err = %v, want ErrNotAllowed", err)
		}
		return true
	}))).Do(request("x"), nil)
}
