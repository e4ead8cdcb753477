package auth

import (
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"

	"github.com/sluicegw/sluice/runtime/config"
)

// BenchmarkVerifyJWT is a full Authenticate of a valid bearer token whose
// key is cached: header parse, key lookup, signature, claims ("verify", the
// first time a token is seen), or a token verified before ("seen": the
// cache of verified tokens, claims checked again).
func BenchmarkVerifyJWT(b *testing.B) {
	clk := newClock(t0)
	for _, alg := range []jwa.SignatureAlgorithm{jwa.RS256(), jwa.ES256(), jwa.EdDSA()} {
		for _, seen := range []bool{false, true} {
			name := alg.String() + "/verify"
			if seen {
				name = alg.String() + "/seen"
			}
			b.Run(name, func(b *testing.B) {
				k := newKey(b, "k1", alg)
				srv := newJWKSServer(b, jwks(b, k))
				set := newSet(b, map[string]*config.AuthProvider{"j": jwtProviderConfig(srv.URL)}, clk)
				jp := set.providers["j"].(*jwtProvider)
				r := request("Bearer " + sign(b, k, claimsAt(t0, map[string]any{"tenant": "acme"})))
				names := []string{"j"}
				b.ReportAllocs()
				for b.Loop() {
					if !seen {
						jp.verified.lru.Purge()
					}
					if _, err := set.Authenticate(r, names); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkAPIKey(b *testing.B) {
	keys := map[string]config.APIKey{}
	for _, k := range []string{"a", "b", "c", "demo-key", "e", "f", "g", "h"} {
		keys[k] = config.APIKey{Consumer: "c-" + k}
	}
	set := newSet(b, map[string]*config.AuthProvider{"p": {APIKey: &config.APIKeyAuth{Keys: keys}}}, nil)
	r := request("")
	r.Header.Set("X-API-Key", "demo-key")
	names := []string{"p"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := set.Authenticate(r, names); err != nil {
			b.Fatal(err)
		}
	}
}
