package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/sluicegw/sluice/runtime/config"
)

// maxAPIKey bounds a presented key; longer ones are refused unhashed.
const maxAPIKey = 1024

// apiKeyProvider accepts static keys. Only their SHA-256 digests are kept;
// a presented key's digest is compared with every stored one in constant
// time, so neither the match nor its position shows in the timing.
type apiKeyProvider struct {
	name   string
	header string // canonical header name, or ""
	query  string // query parameter, or ""
	keys   []hashedKey
}

type hashedKey struct {
	digest   [sha256.Size]byte
	consumer string
}

func newAPIKeyProvider(name string, c *config.APIKeyAuth) (*apiKeyProvider, error) {
	p := &apiKeyProvider{name: name, query: c.Query}
	if c.Header != "" && c.Query != "" {
		return nil, errors.New("api_key reads a header or a query parameter, not both")
	}
	if c.Query == "" {
		p.header = http.CanonicalHeaderKey(c.Header)
		if p.header == "" {
			p.header = config.DefaultAPIKeyHeader
		}
	}
	if len(c.Keys) == 0 {
		return nil, errors.New("api_key has no keys")
	}
	for key, k := range c.Keys {
		if key == "" || k.Consumer == "" {
			return nil, errors.New("api_key: every key needs a value and a consumer")
		}
		p.keys = append(p.keys, hashedKey{digest: sha256.Sum256([]byte(key)), consumer: k.Consumer})
	}
	// A stable order: the comparison loop's work is the same for every key.
	slices.SortFunc(p.keys, func(a, b hashedKey) int { return strings.Compare(string(a.digest[:]), string(b.digest[:])) })
	return p, nil
}

func (p *apiKeyProvider) authenticate(r *http.Request) (*Identity, *failure) {
	var presented string
	if p.query != "" {
		presented = r.URL.Query().Get(p.query)
	} else {
		presented = r.Header.Get(p.header)
	}
	if presented == "" {
		return nil, errMissing
	}
	if len(presented) > maxAPIKey {
		return nil, &failure{presented: true, reason: "invalid API key"}
	}
	digest := sha256.Sum256([]byte(presented))
	match := -1
	for i := range p.keys {
		if subtle.ConstantTimeCompare(digest[:], p.keys[i].digest[:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return nil, &failure{presented: true, reason: "invalid API key"}
	}
	c := p.keys[match].consumer
	return &Identity{Method: MethodAPIKey, Provider: p.name, Subject: c, Consumer: c}, nil
}

// challenge names where the key goes. API keys have no registered scheme;
// "ApiKey" with a header or query parameter is the common form.
func (p *apiKeyProvider) challenge(*failure) string {
	if p.query != "" {
		return `ApiKey realm="` + quoted(p.name) + `", query="` + p.query + `"`
	}
	return `ApiKey realm="` + quoted(p.name) + `", header="` + p.header + `"`
}
