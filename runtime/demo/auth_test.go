package demo

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicegw/sluice/runtime/auth"
	"github.com/sluicegw/sluice/runtime/config"
)

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return resp.StatusCode
}

// TestAuthServiceTokensVerify gets tokens from a real demo auth service and
// verifies them with the gateway's own jwt provider against its JWKS.
func TestAuthServiceTokensVerify(t *testing.T) {
	svc, err := Start("auth", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	base := "http://" + svc.Addr

	set, err := auth.New(context.Background(), map[string]*config.AuthProvider{
		"users-jwt": {JWT: &config.JWTAuth{Issuer: DemoIssuer, JWKSURL: base + "/jwks.json", Audiences: []string{DemoAudience}}},
	}, auth.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()

	for name, u := range DemoUsers {
		var got struct {
			Token     string `json:"token"`
			TokenType string `json:"token_type"`
			ExpiresIn int    `json:"expires_in"`
		}
		if code := getJSON(t, base+"/token?user="+name, &got); code != http.StatusOK || got.Token == "" || got.TokenType != "Bearer" || got.ExpiresIn != 3600 {
			t.Fatalf("%s: %d %+v", name, code, got)
		}
		r, _ := http.NewRequest(http.MethodGet, "http://api.example.com/users", nil)
		r.Header.Set("Authorization", "Bearer "+got.Token)
		id, err := set.Authenticate(r, []string{"users-jwt"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		roles, _ := id.Claims["roles"].([]any)
		if id.Subject != name || id.Claims["tenant"] != u.Tenant || len(roles) != len(u.Roles) {
			t.Fatalf("%s: identity %+v", name, id)
		}
	}

	var miss struct {
		Error string   `json:"error"`
		Users []string `json:"users"`
	}
	if code := getJSON(t, base+"/token?user=mallory", &miss); code != http.StatusNotFound || len(miss.Users) != len(DemoUsers) {
		t.Fatalf("unknown user: %d %+v", code, miss)
	}
	var keys struct {
		Keys []map[string]any `json:"keys"`
	}
	if code := getJSON(t, base+"/jwks.json", &keys); code != http.StatusOK || len(keys.Keys) != 1 {
		t.Fatalf("jwks: %d %+v", code, keys)
	}
	k := keys.Keys[0]
	if k["kty"] != "EC" || k["alg"] != "ES256" || !strings.HasPrefix(k["kid"].(string), "demo-") || k["d"] != nil {
		t.Fatalf("jwks key = %v", k)
	}
	var health, who map[string]any
	if code := getJSON(t, base+"/healthz", &health); code != http.StatusOK || health["service"] != "auth" {
		t.Fatalf("healthz: %d %v", code, health)
	}
	if code := getJSON(t, base+"/whoami", &who); code != http.StatusOK || who["authorization"] != false {
		t.Fatalf("whoami: %d %v", code, who)
	}
}

// TestAuthServiceKeyPerStart: every start generates its own key.
func TestAuthServiceKeyPerStart(t *testing.T) {
	a, err := newIssuer()
	if err != nil {
		t.Fatal(err)
	}
	b, err := newIssuer()
	if err != nil {
		t.Fatal(err)
	}
	if a.kid == b.kid || a.key.Equal(b.key) {
		t.Fatal("two starts share a key")
	}
}
