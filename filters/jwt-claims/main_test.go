package main

import (
	"encoding/base64"
	"testing"

	"github.com/sluicegw/sluice/sdk/sluicetest"
)

const cfg = `{"claims": {
  "sub": "X-User",
  "email": "X-Email",
  "roles": "X-Roles",
  "exp": "X-Token-Exp",
  "email_verified": "X-Email-Verified",
  "realm_access.roles": "X-Realm-Roles",
  "org": "X-Org",
  "absent": "X-Absent"
}}`

// token builds an unsigned JWT with the given payload; the filter does not
// check signatures (the gateway does).
func token(payload string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload)) + ".c2lnbmF0dXJl"
}

func TestCopiesClaims(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(cfg))
	if !h.Stateless() {
		t.Error("not declared stateless: Sluice would hold an instance per request in flight")
	}
	req := sluicetest.NewRequest("GET", "/users/me")
	req.Header.Set("Authorization", "Bearer "+token(`{
	  "sub": "alice", "email": "alice@example.com", "roles": ["admin", "billing"],
	  "exp": 1900000000, "email_verified": true,
	  "realm_access": {"roles": ["r1"]}, "org": {"id": 7, "name": "acme"}
	}`))
	res := h.Do(req, nil)
	want := map[string]string{
		"X-User":           "alice",
		"X-Email":          "alice@example.com",
		"X-Roles":          "admin, billing",
		"X-Token-Exp":      "1900000000",
		"X-Email-Verified": "true",
		"X-Realm-Roles":    "r1",
		"X-Org":            `{"id":7,"name":"acme"}`,
	}
	for k, v := range want {
		if got := res.Request.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if _, ok := res.Request.Header["X-Absent"]; ok || !res.Next {
		t.Errorf("next=%v headers %v", res.Next, res.Request.Header)
	}
	if res.Request.Header.Get("Authorization") == "" {
		t.Error("the token itself must still reach the upstream")
	}
}

func TestStripsSpoofedHeaders(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(cfg))
	for name, auth := range map[string]string{
		"no token":          "",
		"token without sub": "Bearer " + token(`{"email":"bob@example.com"}`),
		"malformed token":   "Bearer not.a.jwt!",
		"basic auth":        "Basic YWxpY2U6cHc=",
	} {
		req := sluicetest.NewRequest("GET", "/")
		req.Header.Set("X-User", "admin")
		req.Header.Add("x-user", "root")
		req.Header.Set("X-Roles", "superuser")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res := h.Do(req, nil)
		if !res.Next {
			t.Errorf("%s: the filter must not reject (the gateway authenticates)", name)
		}
		if v := res.Request.Header.Values("X-User"); len(v) != 0 || res.Request.Header.Get("X-Roles") != "" {
			t.Errorf("%s: spoofed headers reached the upstream: %v", name, res.Request.Header)
		}
	}
}

func TestUnsafeClaimValues(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(`{"claims": {"sub": "X-User"}}`))
	req := sluicetest.NewRequest("GET", "/")
	req.Header.Set("Authorization", "Bearer "+token(`{"sub": "alice\r\nX-Admin: true"}`))
	res := h.Do(req, nil)
	if v := res.Request.Header.Get("X-User"); v != "" {
		t.Fatalf("X-User = %q", v)
	}
	if logs := h.Logs(); len(logs) == 0 {
		t.Error("an unsafe claim should be logged")
	}
}

func TestCustomHeaderAndPadding(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(`{"header": "X-Jwt", "claims": {"sub": "X-User"}}`))
	req := sluicetest.NewRequest("GET", "/")
	tok := token(`{"sub":"carol"}`)
	req.Header.Set("X-Jwt", tok+"==")
	if res := h.Do(req, nil); res.Request.Header.Get("X-User") != "carol" {
		t.Fatalf("%v", res.Request.Header)
	}
}

func TestBadConfig(t *testing.T) {
	for _, c := range []string{
		`{}`,
		`{"claims": {}}`,
		`{"claims": {"sub": "Bad Header"}}`,
		`{"claims": {"sub": "Authorization"}}`,
		`{"claims": {"": "X-A"}}`,
		`{"claims": {"sub": "X-User"}, "header": ""}`,
	} {
		if _, err := sluicetest.Load(t, sluicetest.WithConfig(c)); err == nil {
			t.Errorf("accepted %s", c)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("Bearer " + token(`{"sub":"a"}`))
	f.Add("Bearer a.b.c")
	f.Add("x..")
	f.Fuzz(func(t *testing.T, raw string) {
		claims, err := decode(raw)
		if err == nil && claims == nil {
			t.Fatal("nil claims without an error")
		}
		for k := range claims {
			lookup(claims, k+".x")
			text(claims[k])
		}
	})
}
