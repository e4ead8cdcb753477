package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/sluicegw/sluice/runtime/config"
)

const (
	// MaxTokenSize bounds a bearer token; a longer one is refused unparsed.
	MaxTokenSize = 8 << 10
	// ClockSkew is how far exp and nbf may be off.
	ClockSkew = 30 * time.Second
	// minSecret is the shortest HS256 secret accepted (RFC 7518 §3.2).
	minSecret = 32
)

// Client-facing reasons; each is a valid RFC 6750 error_description.
const (
	reasonMalformed   = "invalid token: malformed"
	reasonTooLarge    = "invalid token: too large"
	reasonUnsigned    = "invalid token: unsigned"
	reasonAlgorithm   = "invalid token: unsupported algorithm"
	reasonUnknownKey  = "invalid token: unknown key"
	reasonAlgMismatch = "invalid token: algorithm does not match the key"
	reasonSignature   = "invalid token: bad signature"
	reasonExpired     = "invalid token: expired"
	reasonNotYet      = "invalid token: not yet valid"
	reasonNoExpiry    = "invalid token: no expiry"
	reasonIssuer      = "invalid token: wrong issuer"
	reasonAudience    = "invalid token: wrong audience"
	reasonClaims      = "invalid token: bad claims"
	reasonNoKeys      = "authentication keys unavailable"
)

// jwtProvider verifies bearer tokens: their signature with a JWKS key (or
// the HS256 secret), then iss, aud, exp and nbf.
type jwtProvider struct {
	name      string
	issuer    string
	audiences []string
	secret    *verifyKey  // HS256; nil with a JWKS
	jwks      *jwksSource // nil with a secret
	now       func() time.Time
	verified  *tokenCache
}

func newJWTProvider(name string, c *config.JWTAuth, opts Options) (*jwtProvider, error) {
	p := &jwtProvider{name: name, issuer: c.Issuer, audiences: c.Audiences, now: opts.Now, verified: newTokenCache()}
	if c.Issuer == "" {
		return nil, errors.New("jwt needs an issuer")
	}
	switch {
	case (c.JWKSURL == "") == (c.Secret == ""):
		return nil, errors.New("jwt needs exactly one of jwks_url or secret")
	case c.Secret != "":
		if len(c.Secret) < minSecret {
			return nil, fmt.Errorf("jwt secret is shorter than %d bytes", minSecret)
		}
		p.secret = &verifyKey{raw: []byte(c.Secret), algs: []jwa.SignatureAlgorithm{jwa.HS256()}}
	default:
		if !strings.HasPrefix(c.JWKSURL, "https://") && !strings.HasPrefix(c.JWKSURL, "http://") {
			return nil, fmt.Errorf("jwks_url %q is not an http(s) URL", c.JWKSURL)
		}
		p.jwks = newJWKSSource(c.JWKSURL, opts)
	}
	return p, nil
}

// header is the part of a JOSE header the provider reads.
type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
	B64  json.RawMessage `json:"b64"`
}

func (p *jwtProvider) authenticate(r *http.Request) (*Identity, *failure) {
	token, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		return nil, errMissing
	}
	claims, f := p.verify(r, token)
	if f != nil {
		f.presented = true
		return nil, f
	}
	sub, _ := claims["sub"].(string)
	return &Identity{Method: MethodJWT, Provider: p.name, Subject: sub, Claims: claims}, nil
}

// bearer extracts the token of "Bearer <token>" (scheme case-insensitive).
func bearer(h string) (string, bool) {
	const scheme = "bearer "
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	t := strings.TrimSpace(h[len(scheme):])
	return t, t != ""
}

func fail(reason string, cause error) *failure { return &failure{reason: reason, cause: cause} }

// verify checks token and returns its claims: from the cache of verified
// tokens when it verified before against the current keys (the claims are
// checked again), else the whole way.
func (p *jwtProvider) verify(r *http.Request, token string) (map[string]any, *failure) {
	if len(token) > MaxTokenSize {
		return nil, fail(reasonTooLarge, nil)
	}
	var keys *keySet
	if p.jwks != nil {
		keys = p.jwks.keys.Load()
	}
	if claims, ok := p.verified.get(token, keys); ok {
		if f := p.checkClaims(claims); f != nil {
			return nil, f
		}
		return claims, nil
	}
	dot1 := strings.IndexByte(token, '.')
	dot2 := strings.LastIndexByte(token, '.')
	if dot1 <= 0 || dot2 == dot1 || strings.IndexByte(token[dot1+1:dot2], '.') >= 0 {
		return nil, fail(reasonMalformed, errors.New("not three dot-separated parts"))
	}
	var h header
	if err := decodeSegment(token[:dot1], &h); err != nil {
		return nil, fail(reasonMalformed, fmt.Errorf("header: %w", err))
	}
	if h.Alg == "" || strings.EqualFold(h.Alg, "none") {
		return nil, fail(reasonUnsigned, nil)
	}
	if h.Crit != nil || h.B64 != nil {
		return nil, fail(reasonMalformed, errors.New("crit or b64 header"))
	}
	alg, ok := jwa.LookupSignatureAlgorithm(h.Alg)
	if !ok || alg == jwa.NoSignature() {
		return nil, fail(reasonAlgorithm, fmt.Errorf("alg %q", h.Alg))
	}

	key, f := p.key(r, h.Kid)
	if f != nil {
		return nil, f
	}
	if !key.allows(alg) {
		return nil, fail(reasonAlgMismatch, fmt.Errorf("alg %s with key %q", h.Alg, key.kid))
	}
	payload, err := jws.VerifyCompactFast(key.raw, []byte(token), alg)
	if err != nil {
		return nil, fail(reasonSignature, err)
	}
	var claims map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil || claims == nil || dec.More() {
		return nil, fail(reasonClaims, errors.New("payload is not a JSON object"))
	}
	if f := p.checkClaims(claims); f != nil {
		return nil, f
	}
	if p.jwks != nil {
		// key() may have refetched: cache against the current set, and
		// only when it still holds the key that verified the token.
		if keys = p.jwks.keys.Load(); keys == nil || !keys.holds(h.Kid, key) {
			return claims, nil
		}
	}
	p.verified.add(token, keys, claims)
	return claims, nil
}

// key finds the key for kid: the secret, the JWKS key with that kid (after
// a rate-limited refetch when unknown), or the only key of a JWKS for a
// token without kid.
func (p *jwtProvider) key(r *http.Request, kid string) (*verifyKey, *failure) {
	if p.secret != nil {
		return p.secret, nil
	}
	ks := p.jwks.keys.Load()
	if ks == nil {
		// Never had keys: maybe the JWKS is up by now.
		p.jwks.refetchForKid(r.Context())
		if ks = p.jwks.keys.Load(); ks == nil {
			return nil, &failure{reason: reasonNoKeys, noKeys: true, cause: fmt.Errorf("no keys from %s", p.jwks.url)}
		}
	}
	if kid == "" {
		if len(ks.all) == 1 {
			return ks.all[0], nil
		}
		return nil, fail(reasonUnknownKey, errors.New("token has no kid and the JWKS has several keys"))
	}
	if k, ok := ks.byKid[kid]; ok {
		return k, nil
	}
	p.jwks.refetchForKid(r.Context())
	if k, ok := p.jwks.keys.Load().byKid[kid]; ok {
		return k, nil
	}
	return nil, fail(reasonUnknownKey, fmt.Errorf("kid %q", kid))
}

func (p *jwtProvider) checkClaims(c map[string]any) *failure {
	now := p.now()
	exp, ok, err := numericDate(c["exp"])
	switch {
	case err != nil:
		return fail(reasonClaims, fmt.Errorf("exp: %w", err))
	case !ok:
		return fail(reasonNoExpiry, nil)
	case !now.Before(exp.Add(ClockSkew)):
		return fail(reasonExpired, fmt.Errorf("expired at %s", exp.UTC().Format(time.RFC3339)))
	}
	nbf, ok, err := numericDate(c["nbf"])
	switch {
	case err != nil:
		return fail(reasonClaims, fmt.Errorf("nbf: %w", err))
	case ok && now.Add(ClockSkew).Before(nbf):
		return fail(reasonNotYet, fmt.Errorf("valid from %s", nbf.UTC().Format(time.RFC3339)))
	}
	if iss, _ := c["iss"].(string); iss != p.issuer {
		return fail(reasonIssuer, fmt.Errorf("iss %q", iss))
	}
	if len(p.audiences) > 0 && !audienceMatches(c["aud"], p.audiences) {
		return fail(reasonAudience, fmt.Errorf("aud %v", c["aud"]))
	}
	if _, ok := c["sub"]; ok {
		if _, isString := c["sub"].(string); !isString {
			return fail(reasonClaims, errors.New("sub is not a string"))
		}
	}
	return nil
}

// numericDate reads a NumericDate claim (seconds since the epoch, maybe
// fractional). ok is false when the claim is absent.
func numericDate(v any) (t time.Time, ok bool, err error) {
	if v == nil {
		return time.Time{}, false, nil
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return time.Time{}, false, errors.New("not a number")
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, false, errors.New("not a valid date")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

func audienceMatches(aud any, want []string) bool {
	switch a := aud.(type) {
	case string:
		for _, w := range want {
			if a == w {
				return true
			}
		}
	case []any:
		for _, x := range a {
			if s, ok := x.(string); ok {
				for _, w := range want {
					if s == w {
						return true
					}
				}
			}
		}
	}
	return false
}

// decodeSegment base64url-decodes (unpadded, as JWS requires) and
// JSON-decodes one token segment.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// challenge is the RFC 6750 challenge: no error code when no token was sent
// (§3.1), invalid_token with a description otherwise.
func (p *jwtProvider) challenge(f *failure) string {
	c := `Bearer realm="` + quoted(p.name) + `"`
	if f != nil && f.presented && !f.noKeys {
		c += `, error="invalid_token", error_description="` + quoted(f.reason) + `"`
	}
	return c
}

// quoted drops the characters a quoted-string cannot hold unescaped.
func quoted(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
