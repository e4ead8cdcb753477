package config

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// What a rate limit counts requests by (RateKey.Kind).
const (
	RateKeyClientIP = "client_ip" // the client's address (the default)
	RateKeyConsumer = "consumer"  // the API key's consumer, or the token's subject
	RateKeyHeader   = "header"    // header:NAME, the request header's first value
	RateKeyClaim    = "claim"     // claim:NAME, a claim of the caller's token
)

// RateKey is a rate limit's key, parsed once when the config is decoded:
// client_ip, consumer, header:NAME or claim:NAME. The rate-limit stage builds
// its key function from Kind and Name and never parses the string.
type RateKey struct {
	Kind string // one of the RateKey kinds; "" when unset
	Name string // the header or claim name, as written
}

// ParseRateKey parses the rate_limit key grammar; this is its one parser.
func ParseRateKey(s string) (RateKey, error) {
	kind, name, ok := parseKeySource(s, []string{RateKeyClientIP, RateKeyConsumer}, []string{RateKeyHeader, RateKeyClaim})
	if !ok {
		return RateKey{}, fmt.Errorf("invalid key %q (want client_ip, consumer, header:NAME or claim:NAME)", s)
	}
	return RateKey{Kind: kind, Name: name}, nil
}

// String is the key as written in a config ("" when unset).
func (k RateKey) String() string { return keySourceString(k.Kind, k.Name) }

// IsZero reports an unset key.
func (k RateKey) IsZero() bool { return k.Kind == "" }

// UnmarshalYAML parses the key; a bad one is reported with its line.
func (k *RateKey) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeError(n, "expected the key as a string: client_ip, consumer, header:NAME or claim:NAME")
	}
	if n.Value == "" {
		return nil // written empty: unset, as if left out
	}
	v, err := ParseRateKey(n.Value)
	if err != nil {
		return typeError(n, err.Error())
	}
	*k = v
	return nil
}

// MarshalJSON writes the key back in its string form.
func (k RateKey) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// parseKeySource parses the grammar hash_on and rate_limit key share: one
// of the bare words, or KIND:NAME for one of the named kinds. A header or
// cookie name must be an HTTP token; a claim name anything but empty.
func parseKeySource(s string, bare, named []string) (kind, name string, ok bool) {
	if slices.Contains(bare, s) {
		return s, "", true
	}
	kind, name, ok = strings.Cut(s, ":")
	if !ok || !slices.Contains(named, kind) || name == "" || (kind != RateKeyClaim && !tokenRe.MatchString(name)) {
		return "", "", false
	}
	return kind, name, true
}

func keySourceString(kind, name string) string {
	if name == "" {
		return kind
	}
	return kind + ":" + name
}
