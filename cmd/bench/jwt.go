package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// benchJWT is contestant d's token issuer: an RS256 key pair made for the run
// (it lives and dies with it), its public half as the JWKS the upstream nginx
// serves, and the tokens the load generators send.
type benchJWT struct {
	Issuer, Audience, KeyID string
	key                     *rsa.PrivateKey
}

// The role contestant d's policy grants, and one it does not.
const (
	benchRole = "bench"
	otherRole = "viewer"
)

func newBenchJWT(now time.Time) (*benchJWT, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("RSA key: %w", err)
	}
	return &benchJWT{Issuer: "sluice-bench", Audience: "bench", KeyID: fmt.Sprintf("bench-%d", now.Unix()), key: key}, nil
}

// JWKS is the public key as a JSON Web Key Set.
func (j *benchJWT) JWKS() ([]byte, error) {
	pub, err := jwk.Import(j.key.Public())
	if err != nil {
		return nil, err
	}
	for k, v := range map[string]any{jwk.KeyIDKey: j.KeyID, jwk.AlgorithmKey: jwa.RS256(), jwk.KeyUsageKey: "sig"} {
		if err := pub.Set(k, v); err != nil {
			return nil, err
		}
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return nil, err
	}
	return json.Marshal(set)
}

// Token signs a token for the given roles, valid from a minute before now
// for a day.
func (j *benchJWT) Token(now time.Time, roles ...string) (string, error) {
	payload, err := json.Marshal(map[string]any{
		"iss": j.Issuer, "aud": j.Audience, "sub": "bench", "roles": roles,
		"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(24 * time.Hour).Unix(),
	})
	if err != nil {
		return "", err
	}
	hdr := jws.NewHeaders()
	for k, v := range map[string]any{jws.KeyIDKey: j.KeyID, jws.TypeKey: "JWT"} {
		if err := hdr.Set(k, v); err != nil {
			return "", err
		}
	}
	out, err := jws.Sign(payload, jws.WithKey(jwa.RS256(), j.key, jws.WithProtectedHeaders(hdr)))
	return string(out), err
}
