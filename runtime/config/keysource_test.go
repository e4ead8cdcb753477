package config

import (
	"encoding/json"
	"strings"
	"testing"
)

// hash_on and rate_limit key are parsed once, at decode: the upstream and
// the route carry the parsed value, which writes back as written.
func TestKeySourcesParsedAtDecode(t *testing.T) {
	cfg, err := Parse([]byte(`
upstreams:
  a: {endpoints: [http://h], balance: consistent_hash, hash_on: "cookie:sid"}
  b: {endpoints: [http://h], balance: consistent_hash, hash_on: client_ip}
routes:
  - {name: r, upstream: a, rate_limit: {requests: 1, per: 1s, key: "claim:tenant"}}
  - {name: s, upstream: b, rate_limit: {requests: 1, per: 1s}}
`), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		got, want any
	}{
		{cfg.Upstreams["a"].HashOn, HashOn{Kind: HashOnCookie, Name: "sid"}},
		{cfg.Upstreams["b"].HashOn, HashOn{Kind: HashOnClientIP}},
		{cfg.Routes[0].RateLimit.Key, RateKey{Kind: RateKeyClaim, Name: "tenant"}},
		{cfg.Routes[1].RateLimit.Key, RateKey{Kind: RateKeyClientIP}}, // the default
	} {
		if tc.got != tc.want {
			t.Errorf("decoded %+v, want %+v", tc.got, tc.want)
		}
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"hash_on":"cookie:sid"`, `"hash_on":"client_ip"`, `"key":"claim:tenant"`, `"key":"client_ip"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
}

func TestKeySourceGrammar(t *testing.T) {
	for _, s := range []string{"client_ip", "header:X-Tenant", "cookie:sid"} {
		h, err := ParseHashOn(s)
		if err != nil || h.String() != s {
			t.Errorf("ParseHashOn(%q) = %+v, %v; want it back as written", s, h, err)
		}
	}
	for _, s := range []string{"", "header:", "cookie:", "query:x", "consumer", "claim:sub", "header:a b", "client_ip:x"} {
		if h, err := ParseHashOn(s); err == nil {
			t.Errorf("ParseHashOn(%q) = %+v, want an error", s, h)
		}
	}
	for _, s := range []string{"client_ip", "consumer", "header:X-Tenant", "claim:tenant", "claim:a b"} {
		k, err := ParseRateKey(s)
		if err != nil || k.String() != s {
			t.Errorf("ParseRateKey(%q) = %+v, %v; want it back as written", s, k, err)
		}
	}
	for _, s := range []string{"", "header:", "claim:", "cookie:sid", "header:a b", "consumer:x"} {
		if k, err := ParseRateKey(s); err == nil {
			t.Errorf("ParseRateKey(%q) = %+v, want an error", s, k)
		}
	}
}
