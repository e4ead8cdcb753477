package auth

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/httperr"
)

// FuzzAuthenticate feeds arbitrary Authorization headers to a JWKS provider
// and an HS256 provider: every answer is a 401 (or, for the valid seed, an
// identity), never a panic or another status.
func FuzzAuthenticate(f *testing.F) {
	clk := newClock(t0)
	ec := newKey(f, "ec-1", jwa.ES256())
	ed := newKey(f, "ed-1", jwa.EdDSA())
	srv := newJWKSServer(f, jwks(f, ec, ed))
	set := newSet(f, map[string]*config.AuthProvider{
		"j":  jwtProviderConfig(srv.URL),
		"hs": {JWT: &config.JWTAuth{Issuer: "demo", Secret: strings.Repeat("k", 32)}},
	}, clk)
	valid := sign(f, ec, claimsAt(t0, nil))
	for _, seed := range []string{
		"", "Bearer", "Bearer ", "Bearer " + valid, "bearer " + valid + " ", "Bearer " + sign(f, ed, claimsAt(t0, nil)),
		"Bearer a.b.c", "Bearer ..", "Bearer eyJhbGciOiJub25lIn0.e30.", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln",
		"Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearer " + valid[:len(valid)/2], "Bearer " + strings.Repeat("x.", 5000),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, authz string) {
		r, _ := http.NewRequest(http.MethodGet, "http://api.example.com/", nil)
		r.Header["Authorization"] = []string{authz}
		id, err := set.Authenticate(r, []string{"j", "hs"})
		if err == nil {
			if id == nil || id.Method != MethodJWT {
				t.Fatalf("accepted without an identity: %+v", id)
			}
			return
		}
		var he *httperr.Error
		if !errors.As(err, &he) || he.Status != http.StatusUnauthorized || len(he.Header.Values("WWW-Authenticate")) != 2 {
			t.Fatalf("err = %v", err)
		}
	})
}
