package config

import (
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// What consistent_hash hashes (HashOn.Kind).
const (
	HashOnHeader   = "header"    // header:NAME, the request header's first value
	HashOnCookie   = "cookie"    // cookie:NAME, the cookie's value
	HashOnClientIP = "client_ip" // the client's address
)

// HashOn is an upstream's hash_on, parsed once when the config is decoded:
// header:NAME, cookie:NAME or client_ip. The balancer builds its key from
// Kind and Name and never parses the string.
type HashOn struct {
	Kind string // HashOnHeader, HashOnCookie or HashOnClientIP; "" when unset
	Name string // the header or cookie name, as written
}

// ParseHashOn parses the hash_on grammar; this is its one parser.
func ParseHashOn(s string) (HashOn, error) {
	kind, name, ok := parseKeySource(s, []string{HashOnClientIP}, []string{HashOnHeader, HashOnCookie})
	if !ok {
		return HashOn{}, fmt.Errorf("invalid hash_on %q (want header:NAME, cookie:NAME or client_ip)", s)
	}
	return HashOn{Kind: kind, Name: name}, nil
}

// String is hash_on as written in a config ("" when unset).
func (h HashOn) String() string { return keySourceString(h.Kind, h.Name) }

// IsZero reports an unset hash_on (json omitzero).
func (h HashOn) IsZero() bool { return h.Kind == "" }

// UnmarshalYAML parses hash_on; a bad one is reported with its line.
func (h *HashOn) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeError(n, "expected hash_on as a string: header:NAME, cookie:NAME or client_ip")
	}
	if n.Value == "" {
		return nil // written empty: unset, as if left out
	}
	v, err := ParseHashOn(n.Value)
	if err != nil {
		return typeError(n, err.Error())
	}
	*h = v
	return nil
}

// MarshalJSON writes hash_on back in its string form.
func (h HashOn) MarshalJSON() ([]byte, error) { return json.Marshal(h.String()) }
