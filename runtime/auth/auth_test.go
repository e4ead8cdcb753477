package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/httperr"
	"github.com/sluicegw/sluice/runtime/testkit"
)

// wantStatus checks err is an *httperr.Error with status and reason.
func wantStatus(t *testing.T, err error, status int, reason string) *httperr.Error {
	t.Helper()
	var he *httperr.Error
	if !errors.As(err, &he) {
		t.Fatalf("err = %v (%T), want *httperr.Error %d", err, err, status)
	}
	if he.Status != status || (reason != "" && he.Reason != reason) {
		t.Fatalf("got %d %q, want %d %q (cause: %v)", he.Status, he.Reason, status, reason, he.Err)
	}
	return he
}

func TestJWTAcceptsEachAlgorithm(t *testing.T) {
	clk := newClock(t0)
	keys := []*testKey{newKey(t, "rsa-1", jwa.RS256()), newKey(t, "ec-1", jwa.ES256()), newKey(t, "ed-1", jwa.EdDSA())}
	srv := newJWKSServer(t, jwks(t, keys...))
	set := newSet(t, map[string]*config.AuthProvider{"users-jwt": jwtProviderConfig(srv.URL)}, clk)
	for _, k := range keys {
		t.Run(k.alg.String(), func(t *testing.T) {
			tok := sign(t, k, claimsAt(clk.Now(), map[string]any{"tenant": "acme"}))
			id, err := set.Authenticate(request("Bearer "+tok), []string{"users-jwt"})
			if err != nil {
				t.Fatal(err)
			}
			if id.Method != MethodJWT || id.Provider != "users-jwt" || id.Subject != "alice" || id.Consumer != "" {
				t.Fatalf("identity = %+v", id)
			}
			if id.Claims["tenant"] != "acme" || id.Claims["exp"] != json.Number(itoa(clk.Now().Add(time.Hour).Unix())) {
				t.Fatalf("claims = %v", id.Claims)
			}
			roles, _ := id.Claims["roles"].([]any)
			if len(roles) != 1 || roles[0] != "admin" {
				t.Fatalf("roles = %v", id.Claims["roles"])
			}
		})
	}
	// The scheme is case-insensitive (RFC 7235).
	if _, err := set.Authenticate(request("bearer "+sign(t, keys[1], claimsAt(clk.Now(), nil))), []string{"users-jwt"}); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func jwsSign(payload []byte, alg jwa.SignatureAlgorithm, key any) ([]byte, error) {
	return jws.Sign(payload, jws.WithKey(alg, key))
}

func TestJWTRejectsBadTokens(t *testing.T) {
	clk := newClock(t0)
	ec := newKey(t, "ec-1", jwa.ES256())
	rs := newKey(t, "rsa-1", jwa.RS256())
	other := newKey(t, "ec-1", jwa.ES256()) // same kid, different key
	srv := newJWKSServer(t, jwks(t, ec, rs))
	set := newSet(t, map[string]*config.AuthProvider{"users-jwt": jwtProviderConfig(srv.URL)}, clk)
	now := clk.Now()
	good := sign(t, ec, claimsAt(now, nil))
	parts := strings.Split(good, ".")
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	payload := b64(`{"iss":"demo","aud":"api","sub":"alice","exp":` + itoa(now.Add(time.Hour).Unix()) + `}`)
	tampered := parts[0] + "." + b64(`{"iss":"demo","aud":"api","sub":"mallory","exp":`+itoa(now.Add(time.Hour).Unix())+`}`) + "." + parts[2]

	cases := []struct {
		name, authz, reason string
	}{
		{"missing", "", "missing credentials"},
		{"other scheme", "Basic YWxpY2U6c2VjcmV0", "missing credentials"},
		{"empty bearer", "Bearer ", "missing credentials"},
		{"expired", "Bearer " + sign(t, ec, claimsAt(now, map[string]any{"exp": now.Add(-31 * time.Second).Unix()})), reasonExpired},
		{"not yet valid", "Bearer " + sign(t, ec, claimsAt(now, map[string]any{"nbf": now.Add(31 * time.Second).Unix()})), reasonNotYet},
		{"no exp", "Bearer " + sign(t, ec, claimsAt(now, map[string]any{"exp": nil})), reasonNoExpiry},
		{"exp not a number", "Bearer " + sign(t, ec, claimsAt(now, map[string]any{"exp": "tomorrow"})), reasonClaims},
		{"wrong issuer", "Bearer " + sign(t, ec, claimsAt(now, map[string]any{"iss": "evil"})), reasonIssuer},
		{"no issuer", "Bearer " + sign(t, ec, claimsAt(now, map[string]any{"iss": nil})), reasonIssuer},
		{"wrong audience", "Bearer " + sign(t, ec, claimsAt(now, map[string]any{"aud": "other"})), reasonAudience},
		{"wrong audience list", "Bearer " + sign(t, ec, claimsAt(now, map[string]any{"aud": []string{"x", "y"}})), reasonAudience},
		{"no audience", "Bearer " + sign(t, ec, claimsAt(now, map[string]any{"aud": nil})), reasonAudience},
		{"alg none", "Bearer " + b64(`{"alg":"none","kid":"ec-1"}`) + "." + payload + ".", reasonUnsigned},
		{"empty signature", "Bearer " + parts[0] + "." + parts[1] + ".", reasonSignature},
		{"alg none with signature", "Bearer " + b64(`{"alg":"none","kid":"ec-1"}`) + "." + payload + ".c2ln", reasonUnsigned},
		{"alg None", "Bearer " + b64(`{"alg":"None"}`) + "." + payload + ".c2ln", reasonUnsigned},
		{"no alg", "Bearer " + b64(`{"kid":"ec-1"}`) + "." + payload + ".c2ln", reasonUnsigned},
		{"unknown alg", "Bearer " + b64(`{"alg":"XS999","kid":"ec-1"}`) + "." + payload + ".c2ln", reasonAlgorithm},
		{"HS256 with a public key (alg confusion)", "Bearer " + b64(`{"alg":"HS256","kid":"rsa-1"}`) + "." + payload + ".c2ln", reasonAlgMismatch},
		{"RS256 header on an EC key", "Bearer " + b64(`{"alg":"RS256","kid":"ec-1"}`) + "." + payload + ".c2ln", reasonAlgMismatch},
		{"tampered payload", "Bearer " + tampered, reasonSignature},
		{"signed by another key", "Bearer " + sign(t, other, claimsAt(now, nil)), reasonSignature},
		{"truncated signature", "Bearer " + good[:len(good)-4], reasonSignature},
		{"unknown kid", "Bearer " + sign(t, newKey(t, "nobody", jwa.ES256()), claimsAt(now, nil)), reasonUnknownKey},
		{"no kid with two keys", "Bearer " + sign(t, &testKey{alg: ec.alg, priv: ec.priv}, claimsAt(now, nil)), reasonUnknownKey},
		{"crit header", "Bearer " + b64(`{"alg":"ES256","kid":"ec-1","crit":["exp"]}`) + "." + payload + ".c2ln", reasonMalformed},
		{"garbage", "Bearer garbage", reasonMalformed},
		{"two segments", "Bearer " + parts[0] + "." + parts[1], reasonMalformed},
		{"four segments", "Bearer " + good + ".x", reasonMalformed},
		{"empty header segment", "Bearer ." + parts[1] + "." + parts[2], reasonMalformed},
		{"bad base64", "Bearer " + parts[0] + "!." + parts[1] + "." + parts[2], reasonMalformed},
		{"padded base64 header", "Bearer " + base64.URLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"ec-1"}x`)) + "." + parts[1] + "." + parts[2], reasonMalformed},
		{"header not JSON", "Bearer " + b64("nope") + "." + parts[1] + "." + parts[2], reasonMalformed},
		{"payload not JSON", "Bearer " + parts[0] + "." + b64("[1,2]") + "." + parts[2], reasonSignature},
		{"huge token", "Bearer " + parts[0] + "." + strings.Repeat("A", MaxTokenSize) + "." + parts[2], reasonTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := set.Authenticate(request(c.authz), []string{"users-jwt"})
			he := wantStatus(t, err, http.StatusUnauthorized, c.reason)
			ch := he.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(ch, `Bearer realm="users-jwt"`) {
				t.Fatalf("challenge = %q", ch)
			}
			if wantErr := c.reason != "missing credentials"; strings.Contains(ch, `error="invalid_token"`) != wantErr ||
				(wantErr && !strings.Contains(ch, `error_description="`+c.reason+`"`)) {
				t.Fatalf("challenge = %q for %q", ch, c.reason)
			}
		})
	}
	// Still fine after all that.
	if _, err := set.Authenticate(request("Bearer "+good), []string{"users-jwt"}); err != nil {
		t.Fatal(err)
	}
}

func TestJWTClockSkew(t *testing.T) {
	clk := newClock(t0)
	k := newKey(t, "ec-1", jwa.ES256())
	srv := newJWKSServer(t, jwks(t, k))
	set := newSet(t, map[string]*config.AuthProvider{"j": jwtProviderConfig(srv.URL)}, clk)
	tok := sign(t, k, claimsAt(t0, map[string]any{"nbf": t0.Unix(), "exp": t0.Add(time.Minute).Unix()}))
	check := func(at time.Time, wantReason string) {
		t.Helper()
		clk.ns.Store(at.UnixNano())
		_, err := set.Authenticate(request("Bearer "+tok), []string{"j"})
		if wantReason == "" {
			if err != nil {
				t.Fatalf("at %s: %v", at, err)
			}
			return
		}
		wantStatus(t, err, http.StatusUnauthorized, wantReason)
	}
	check(t0.Add(-29*time.Second), "")
	check(t0.Add(-31*time.Second), reasonNotYet)
	check(t0.Add(time.Minute+29*time.Second), "")
	check(t0.Add(time.Minute+30*time.Second), reasonExpired)
}

func TestJWKSKeyRotation(t *testing.T) {
	clk := newClock(t0)
	oldKey, newK := newKey(t, "2026-01", jwa.ES256()), newKey(t, "2026-02", jwa.EdDSA())
	srv := newJWKSServer(t, jwks(t, oldKey))
	set := newSet(t, map[string]*config.AuthProvider{"j": jwtProviderConfig(srv.URL)}, clk)
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("JWKS fetched %d times by New, want 1", got)
	}
	newTok := sign(t, newK, claimsAt(t0, nil))
	oldTok := sign(t, oldKey, claimsAt(t0, nil))
	if _, err := set.Authenticate(request("Bearer "+oldTok), []string{"j"}); err != nil {
		t.Fatalf("old key before rotation: %v", err) // and now in the cache of verified tokens
	}

	// The issuer rotates: the new kid is unknown until the JWKS is refetched.
	srv.set(jwks(t, oldKey, newK))
	if _, err := set.Authenticate(request("Bearer "+newTok), []string{"j"}); err != nil {
		t.Fatalf("new kid after rotation: %v", err)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Fatalf("JWKS fetched %d times, want 2", got)
	}

	// Unknown kids refetch at most once per unknownKidEvery.
	stranger := sign(t, newKey(t, "stranger", jwa.ES256()), claimsAt(t0, nil))
	for range 5 {
		_, err := set.Authenticate(request("Bearer "+stranger), []string{"j"})
		wantStatus(t, err, http.StatusUnauthorized, reasonUnknownKey)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Fatalf("JWKS fetched %d times within the rate limit, want 2", got)
	}
	clk.Advance(unknownKidEvery + time.Second)
	_, err := set.Authenticate(request("Bearer "+stranger), []string{"j"})
	wantStatus(t, err, http.StatusUnauthorized, reasonUnknownKey)
	if got := srv.hits.Load(); got != 3 {
		t.Fatalf("JWKS fetched %d times after the rate limit, want 3", got)
	}

	// The old key is retired: its tokens stop working after the next fetch.
	srv.set(jwks(t, newK))
	clk.Advance(unknownKidEvery + time.Second)
	_, _ = set.Authenticate(request("Bearer "+stranger), []string{"j"}) // triggers the refetch
	_, err = set.Authenticate(request("Bearer "+sign(t, oldKey, claimsAt(t0, nil))), []string{"j"})
	wantStatus(t, err, http.StatusUnauthorized, reasonUnknownKey)
	// A token verified with the retired key earlier is refused too: the
	// cache of verified tokens does not outlive the key set.
	_, err = set.Authenticate(request("Bearer "+oldTok), []string{"j"})
	wantStatus(t, err, http.StatusUnauthorized, reasonUnknownKey)
	if _, err := set.Authenticate(request("Bearer "+newTok), []string{"j"}); err != nil {
		t.Fatal(err)
	}
}

func TestJWKSDownKeepsCachedKeys(t *testing.T) {
	clk := newClock(t0)
	k := newKey(t, "ec-1", jwa.ES256())
	srv := newJWKSServer(t, jwks(t, k))
	set := newSet(t, map[string]*config.AuthProvider{"j": jwtProviderConfig(srv.URL)}, clk)
	tok := sign(t, k, claimsAt(t0, nil))

	srv.down.Store(true)
	clk.Advance(time.Minute)
	stranger := sign(t, newKey(t, "stranger", jwa.ES256()), claimsAt(t0, nil))
	_, err := set.Authenticate(request("Bearer "+stranger), []string{"j"}) // a refetch that fails
	wantStatus(t, err, http.StatusUnauthorized, reasonUnknownKey)
	if srv.hits.Load() != 2 {
		t.Fatalf("hits = %d, want a failed refetch", srv.hits.Load())
	}
	if _, err := set.Authenticate(request("Bearer "+tok), []string{"j"}); err != nil {
		t.Fatalf("cached key after the JWKS went down: %v", err)
	}
	srv.Close() // entirely gone, not just failing
	clk.Advance(time.Minute)
	_, _ = set.Authenticate(request("Bearer "+stranger), []string{"j"})
	if _, err := set.Authenticate(request("Bearer "+tok), []string{"j"}); err != nil {
		t.Fatalf("cached key after the JWKS server closed: %v", err)
	}
}

func TestJWKSNeverLoaded(t *testing.T) {
	clk := newClock(t0)
	k := newKey(t, "ec-1", jwa.ES256())
	srv := newJWKSServer(t, jwks(t, k))
	srv.down.Store(true)
	set := newSet(t, map[string]*config.AuthProvider{
		"j":    jwtProviderConfig(srv.URL),
		"keys": {APIKey: &config.APIKeyAuth{Keys: map[string]config.APIKey{"k1": {Consumer: "acme"}}}},
	}, clk)
	tok := sign(t, k, claimsAt(t0, nil))

	_, err := set.Authenticate(request("Bearer "+tok), []string{"j"})
	he := wantStatus(t, err, http.StatusServiceUnavailable, reasonNoKeys)
	if he.Header.Get("Retry-After") == "" || strings.Contains(he.Header.Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("headers = %v", he.Header)
	}
	// No token at all is still the client's problem.
	_, err = set.Authenticate(request(""), []string{"j"})
	wantStatus(t, err, http.StatusUnauthorized, "missing credentials")
	// Another provider still works.
	r := request("")
	r.Header.Set("X-API-Key", "k1")
	if id, err := set.Authenticate(r, []string{"j", "keys"}); err != nil || id.Consumer != "acme" {
		t.Fatalf("api key beside a keyless jwt provider: %v, %v", id, err)
	}

	// The JWKS comes up; the next request after the rate limit fetches it.
	srv.down.Store(false)
	clk.Advance(unknownKidEvery + time.Second)
	if _, err := set.Authenticate(request("Bearer "+tok), []string{"j"}); err != nil {
		t.Fatalf("after the JWKS came up: %v", err)
	}
}

func TestJWKSBackgroundRefresh(t *testing.T) {
	defer func(d time.Duration) { refreshEvery = d }(refreshEvery)
	refreshEvery = 20 * time.Millisecond
	k := newKey(t, "ec-1", jwa.ES256())
	srv := newJWKSServer(t, jwks(t, k))
	set := newSet(t, map[string]*config.AuthProvider{"j": jwtProviderConfig(srv.URL)}, nil)
	testkit.Eventually(t, 5*time.Second, "background refreshes of the JWKS", func() (bool, string) {
		n := srv.hits.Load()
		return n >= 3, fmt.Sprintf("JWKS fetched %d times", n)
	})
	set.Close()
	n := srv.hits.Load()
	time.Sleep(60 * time.Millisecond)
	if srv.hits.Load() != n {
		t.Fatal("refreshes went on after Close")
	}
}

func TestJWTSecret(t *testing.T) {
	clk := newClock(t0)
	secret := strings.Repeat("s3cr3t!", 5)
	set := newSet(t, map[string]*config.AuthProvider{
		"hs": {JWT: &config.JWTAuth{Issuer: "demo", Secret: secret}},
	}, clk)
	sign := func(k any, alg jwa.SignatureAlgorithm) string {
		t.Helper()
		payload, _ := json.Marshal(claimsAt(t0, nil))
		out, err := jwsSign(payload, alg, k)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	if id, err := set.Authenticate(request("Bearer "+sign([]byte(secret), jwa.HS256())), []string{"hs"}); err != nil || id.Subject != "alice" {
		t.Fatalf("HS256: %v %v", id, err)
	}
	_, err := set.Authenticate(request("Bearer "+sign([]byte(secret+"x"), jwa.HS256())), []string{"hs"})
	wantStatus(t, err, http.StatusUnauthorized, reasonSignature)
	_, err = set.Authenticate(request("Bearer "+sign([]byte(secret), jwa.HS384())), []string{"hs"})
	wantStatus(t, err, http.StatusUnauthorized, reasonAlgMismatch)
	ec := newKey(t, "", jwa.ES256())
	_, err = set.Authenticate(request("Bearer "+sign(ec.priv, jwa.ES256())), []string{"hs"})
	wantStatus(t, err, http.StatusUnauthorized, reasonAlgMismatch)
}

func TestAPIKeys(t *testing.T) {
	set := newSet(t, map[string]*config.AuthProvider{
		"partners": {APIKey: &config.APIKeyAuth{Keys: map[string]config.APIKey{"demo-key": {Consumer: "acme"}, "other-key": {Consumer: "globex"}}}},
		"custom":   {APIKey: &config.APIKeyAuth{Header: "x-partner-key", Keys: map[string]config.APIKey{"pk": {Consumer: "initech"}}}},
		"query":    {APIKey: &config.APIKeyAuth{Query: "api_key", Keys: map[string]config.APIKey{"qk": {Consumer: "hooli"}}}},
	}, nil)
	withHeader := func(name, value string) *http.Request {
		r := request("")
		r.Header.Set(name, value)
		return r
	}
	for _, c := range []struct {
		r        *http.Request
		provider string
		consumer string
	}{
		{withHeader("X-API-Key", "demo-key"), "partners", "acme"},
		{withHeader("X-Api-Key", "other-key"), "partners", "globex"},
		{withHeader("X-Partner-Key", "pk"), "custom", "initech"},
		{httptest.NewRequest("GET", "/users?api_key=qk", nil), "query", "hooli"},
	} {
		id, err := set.Authenticate(c.r, []string{c.provider})
		if err != nil {
			t.Fatalf("%s: %v", c.provider, err)
		}
		if id.Method != MethodAPIKey || id.Consumer != c.consumer || id.Subject != c.consumer || id.Provider != c.provider || id.Claims != nil {
			t.Fatalf("identity = %+v", id)
		}
	}
	_, err := set.Authenticate(withHeader("X-API-Key", "wrong"), []string{"partners"})
	he := wantStatus(t, err, http.StatusUnauthorized, "invalid API key")
	if ch := he.Header.Get("WWW-Authenticate"); ch != `ApiKey realm="partners", header="X-API-Key"` {
		t.Fatalf("challenge = %q", ch)
	}
	_, err = set.Authenticate(request(""), []string{"query"})
	he = wantStatus(t, err, http.StatusUnauthorized, "missing credentials")
	if ch := he.Header.Get("WWW-Authenticate"); ch != `ApiKey realm="query", query="api_key"` {
		t.Fatalf("challenge = %q", ch)
	}
	_, err = set.Authenticate(withHeader("X-API-Key", strings.Repeat("k", 5000)), []string{"partners"})
	wantStatus(t, err, http.StatusUnauthorized, "invalid API key")
	// A key in the query does not count for a header provider.
	_, err = set.Authenticate(httptest.NewRequest("GET", "/users?X-API-Key=demo-key", nil), []string{"partners"})
	wantStatus(t, err, http.StatusUnauthorized, "missing credentials")
	// Only digests are kept.
	for _, p := range set.providers {
		if ap, ok := p.(*apiKeyProvider); ok {
			for _, k := range ap.keys {
				if strings.Contains(string(k.digest[:]), "key") {
					t.Fatal("a key is kept in the clear")
				}
			}
		}
	}
}

func TestSeveralProviders(t *testing.T) {
	clk := newClock(t0)
	k := newKey(t, "ec-1", jwa.ES256())
	srv := newJWKSServer(t, jwks(t, k))
	set := newSet(t, map[string]*config.AuthProvider{
		"users-jwt": jwtProviderConfig(srv.URL),
		"partners":  {APIKey: &config.APIKeyAuth{Keys: map[string]config.APIKey{"demo-key": {Consumer: "acme"}}}},
	}, clk)
	route := []string{"users-jwt", "partners"}

	r := request("")
	r.Header.Set("X-API-Key", "demo-key")
	if id, err := set.Authenticate(r, route); err != nil || id.Provider != "partners" {
		t.Fatalf("api key: %+v %v", id, err)
	}
	if id, err := set.Authenticate(request("Bearer "+sign(t, k, claimsAt(t0, nil))), route); err != nil || id.Provider != "users-jwt" {
		t.Fatalf("jwt: %+v %v", id, err)
	}
	_, err := set.Authenticate(request(""), route)
	he := wantStatus(t, err, http.StatusUnauthorized, "missing credentials")
	if got := he.Header.Values("WWW-Authenticate"); len(got) != 2 || !strings.HasPrefix(got[0], "Bearer") || !strings.HasPrefix(got[1], "ApiKey") {
		t.Fatalf("challenges = %q", got)
	}
	// The presented credential's fault is the reason, whichever provider saw it.
	_, err = set.Authenticate(request("Bearer "+sign(t, k, claimsAt(t0, map[string]any{"iss": "x"}))), route)
	wantStatus(t, err, http.StatusUnauthorized, reasonIssuer)
	r = request("")
	r.Header.Set("X-API-Key", "nope")
	_, err = set.Authenticate(r, route)
	wantStatus(t, err, http.StatusUnauthorized, "invalid API key")
	// A route with no providers listed accepts nobody; an unknown name is a bug.
	_, err = set.Authenticate(request(""), nil)
	wantStatus(t, err, http.StatusUnauthorized, "missing credentials")
	_, err = set.Authenticate(request(""), []string{"nope"})
	wantStatus(t, err, http.StatusInternalServerError, "")
}

func TestNewRefusesBadConfig(t *testing.T) {
	for name, p := range map[string]*config.AuthProvider{
		"neither":      {},
		"both":         {JWT: &config.JWTAuth{Issuer: "x", Secret: strings.Repeat("s", 32)}, APIKey: &config.APIKeyAuth{Keys: map[string]config.APIKey{"k": {Consumer: "c"}}}},
		"no issuer":    {JWT: &config.JWTAuth{Secret: strings.Repeat("s", 32)}},
		"short secret": {JWT: &config.JWTAuth{Issuer: "x", Secret: "short"}},
		"url+secret":   {JWT: &config.JWTAuth{Issuer: "x", Secret: strings.Repeat("s", 32), JWKSURL: "http://127.0.0.1:1/jwks"}},
		"bad url":      {JWT: &config.JWTAuth{Issuer: "x", JWKSURL: "file:///etc/passwd"}},
		"no keys":      {APIKey: &config.APIKeyAuth{}},
		"no consumer":  {APIKey: &config.APIKeyAuth{Keys: map[string]config.APIKey{"k": {}}}},
		"header+query": {APIKey: &config.APIKeyAuth{Header: "X", Query: "q", Keys: map[string]config.APIKey{"k": {Consumer: "c"}}}},
	} {
		s, err := New(context.Background(), map[string]*config.AuthProvider{"p": p}, Options{Logger: quietLogger()})
		if err == nil || !strings.Contains(err.Error(), `auth "p"`) {
			t.Errorf("%s: err = %v", name, err)
		}
		if s != nil {
			s.Close()
		}
	}
}

func TestParseJWKSSkipsUnusableKeys(t *testing.T) {
	ec := newKey(t, "ec-1", jwa.ES256())
	var set map[string][]map[string]any
	if err := json.Unmarshal(jwks(t, ec), &set); err != nil {
		t.Fatal(err)
	}
	good := set["keys"][0]
	body, _ := json.Marshal(map[string]any{"keys": []any{
		map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"},
		map[string]any{"kty": good["kty"], "crv": good["crv"], "x": good["x"], "y": good["y"], "kid": "enc", "use": "enc"},
		map[string]any{"kty": good["kty"], "crv": good["crv"], "x": good["x"], "y": good["y"], "kid": "mismatch", "alg": "RS256"},
		good,
	}})
	ks, err := parseJWKS(body, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if len(ks.all) != 1 || ks.byKid["ec-1"] == nil {
		t.Fatalf("kept %d keys: %v", len(ks.all), ks.byKid)
	}
	if _, err := parseJWKS([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`), quietLogger()); err == nil {
		t.Fatal("a JWKS of only symmetric keys was accepted")
	}
	if _, err := parseJWKS([]byte(`not json`), quietLogger()); err == nil {
		t.Fatal("garbage accepted")
	}
}

// A token served from the cache of verified tokens still expires: the
// claims are checked again on every request.
func TestVerifiedTokenStillExpires(t *testing.T) {
	clk := newClock(t0)
	k := newKey(t, "k1", jwa.ES256())
	srv := newJWKSServer(t, jwks(t, k))
	set := newSet(t, map[string]*config.AuthProvider{"j": jwtProviderConfig(srv.URL)}, clk)
	tok := "Bearer " + sign(t, k, claimsAt(t0, nil))
	for range 2 { // verified, then from the cache
		if _, err := set.Authenticate(request(tok), []string{"j"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := set.providers["j"].(*jwtProvider).verified.lru.Get(tok[len("Bearer "):]); !ok {
		t.Fatal("a verified token was not remembered")
	}
	clk.Advance(2 * time.Hour)
	_, err := set.Authenticate(request(tok), []string{"j"})
	wantStatus(t, err, http.StatusUnauthorized, reasonExpired)
}
