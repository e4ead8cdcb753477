// Command jwt-claims copies claims of the request's bearer JWT into request
// headers, so upstream services read "X-User: alice" instead of parsing
// tokens. It decodes the token without verifying it: verification belongs to
// the gateway's `auth` stage, which runs before filters and rejects a bad
// token. Every configured header is first removed from the request, so a
// client can never send its own X-User.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicegw/sluice/filters/internal/httpx"
	sluice "github.com/sluicegw/sluice/sdk"
)

func main() {} // never called: a filter runs from init (see the SDK docs)

func init() { sluice.HandleNew(newJWTClaims) }

// config is the filter's `config:`.
type config struct {
	// Claims maps a claim to the request header that receives it. A claim
	// name with dots ("realm_access.roles") is a path into nested objects
	// when no top-level claim has that exact name.
	Claims map[string]string `json:"claims"`
	// Header holds the token, as "Bearer TOKEN" (default: Authorization).
	Header string `json:"header"`
}

// maxValue caps one header value copied from a claim.
const maxValue = 4096

type mapping struct{ claim, header string }

type jwtClaims struct {
	header   string
	mappings []mapping // sorted by claim
}

func newJWTClaims() (sluice.Filter, error) {
	c := config{Header: "Authorization"}
	if err := sluice.Config(&c); err != nil {
		return nil, err
	}
	if len(c.Claims) == 0 {
		return nil, errors.New("config: claims: empty: map each claim to a header")
	}
	if !httpx.ValidName(c.Header) {
		return nil, fmt.Errorf("config: header: %q is not a header name", c.Header)
	}
	f := &jwtClaims{header: c.Header}
	for claim, h := range c.Claims {
		if claim == "" {
			return nil, errors.New("config: claims: empty claim name")
		}
		if !httpx.ValidName(h) {
			return nil, fmt.Errorf("config: claims.%s: %q is not a header name", claim, h)
		}
		if strings.EqualFold(h, c.Header) {
			return nil, fmt.Errorf("config: claims.%s: would overwrite the token header %s", claim, h)
		}
		f.mappings = append(f.mappings, mapping{claim, h})
	}
	slices.SortFunc(f.mappings, func(a, b mapping) int { return strings.Compare(a.claim, b.claim) })
	return sluice.RequestFunc(f.handle), nil
}

func (f *jwtClaims) handle(req sluice.Request, _ sluice.Response) bool {
	h := req.Header()
	for _, m := range f.mappings {
		h.Remove(m.header) // anti-spoofing: only the token speaks for the caller
	}
	raw, ok := h.Get(f.header)
	if !ok {
		return true
	}
	claims, err := decode(raw)
	if err != nil {
		sluice.Logf(sluice.LevelDebug, "jwt-claims: %v", err)
		return true
	}
	for _, m := range f.mappings {
		v, ok := lookup(claims, m.claim)
		if !ok {
			continue
		}
		s, ok := text(v)
		if !ok || len(s) > maxValue || !httpx.ValidValue(s) {
			sluice.Logf(sluice.LevelWarn, "jwt-claims: claim %q is not a safe header value; %s not set", m.claim, m.header)
			continue
		}
		h.Set(m.header, s)
	}
	return true
}

// decode returns the claims of a JWT (JWS compact form), in an
// "Authorization: Bearer" value or alone.
func decode(raw string) (map[string]any, error) {
	token := strings.TrimSpace(raw)
	if scheme, rest, ok := strings.Cut(token, " "); ok {
		if !strings.EqualFold(scheme, "Bearer") {
			return nil, fmt.Errorf("scheme %q is not Bearer", scheme)
		}
		token = strings.TrimSpace(rest)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("token has %d parts, not 3", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber() // 1700000000 stays 1700000000, not 1.7e+09
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	if claims == nil {
		return nil, errors.New("payload is not a JSON object")
	}
	return claims, nil
}

// lookup finds a claim by its exact name, else by a dotted path.
func lookup(claims map[string]any, name string) (any, bool) {
	if v, ok := claims[name]; ok {
		return v, true
	}
	var cur any = claims
	for _, key := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[key]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// text renders a claim as a header value: strings as they are, numbers and
// booleans in JSON form, arrays of those joined with ", ", objects as
// compact JSON. null is no value.
func text(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", false
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		if v {
			return "true", true
		}
		return "false", true
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			switch e.(type) {
			case []any, map[string]any:
				return compact(v)
			}
			if s, ok := text(e); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ", "), true
	}
	return compact(v)
}

func compact(v any) (string, bool) {
	b, err := json.Marshal(v)
	return string(b), err == nil
}
