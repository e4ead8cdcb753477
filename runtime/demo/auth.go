package demo

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// The demo auth service's token settings; the `sluice dev` config's jwt
// provider expects exactly these.
const (
	DemoIssuer   = "demo"
	DemoAudience = "api"
	TokenTTL     = time.Hour
)

// DemoUser is someone the demo auth service hands tokens to.
type DemoUser struct {
	Roles  []string `json:"roles"`
	Tenant string   `json:"tenant"`
}

// DemoUsers are the demo's users: their roles feed policies/rbac, their
// tenants policies/tenant.
var DemoUsers = map[string]DemoUser{
	"alice": {Roles: []string{"admin"}, Tenant: "acme"},
	"bob":   {Roles: []string{"viewer"}, Tenant: "globex"},
	"carol": {Roles: []string{"editor"}, Tenant: "acme"},
	"dave":  {Roles: []string{}, Tenant: "initech"},
}

// issuer signs demo tokens with an ES256 key generated when the service
// starts: it lives in memory only, and each start has a new kid.
type issuer struct {
	key  *ecdsa.PrivateKey
	kid  string
	jwks []byte
	now  func() time.Time
}

func newIssuer() (*issuer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	iss := &issuer{key: key, kid: "demo-" + hex.EncodeToString(b[:]), now: time.Now}
	pub, err := jwk.Import(key.Public())
	if err != nil {
		return nil, err
	}
	for k, v := range map[string]any{jwk.KeyIDKey: iss.kid, jwk.AlgorithmKey: jwa.ES256(), jwk.KeyUsageKey: "sig"} {
		if err := pub.Set(k, v); err != nil {
			return nil, err
		}
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return nil, err
	}
	if iss.jwks, err = json.Marshal(set); err != nil {
		return nil, err
	}
	return iss, nil
}

// token signs a JWT for a demo user.
func (iss *issuer) token(name string, u DemoUser) (string, error) {
	now := iss.now()
	payload, err := json.Marshal(map[string]any{
		"iss": DemoIssuer, "aud": DemoAudience, "sub": name,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(TokenTTL).Unix(),
		"roles": u.Roles, "tenant": u.Tenant,
	})
	if err != nil {
		return "", err
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, iss.kid); err != nil {
		return "", err
	}
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		return "", err
	}
	out, err := jws.Sign(payload, jws.WithKey(jwa.ES256(), iss.key, jws.WithProtectedHeaders(hdr)))
	return string(out), err
}

func (iss *issuer) handleToken(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("user")
	u, ok := DemoUsers[name]
	if !ok {
		names := make([]string, 0, len(DemoUsers))
		for n := range DemoUsers {
			names = append(names, n)
		}
		slices.Sort(names)
		reply(w, http.StatusNotFound, map[string]any{"error": fmt.Sprintf("no demo user %q", name), "users": names})
		return
	}
	tok, err := iss.token(name, u)
	if err != nil {
		reply(w, http.StatusInternalServerError, map[string]string{"error": "signing failed"})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	reply(w, http.StatusOK, map[string]any{
		"token": tok, "token_type": "Bearer", "expires_in": int(TokenTTL / time.Second),
		"user": name, "roles": u.Roles, "tenant": u.Tenant,
	})
}

func (iss *issuer) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	_, _ = w.Write(iss.jwks)
}
