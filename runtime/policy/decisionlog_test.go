package policy

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// TestDecisionRawResult checks that a decision keeps the value the query
// gave, and that the logged input is what the policy read with the
// credentials in it replaced.
func TestDecisionRawResult(t *testing.T) {
	p := loadSource(t, `package sluice.authz

default decision := {"allow": false, "reason": "no"}

decision := {"allow": true, "who": input.request.headers.authorization} if input.request.query.token[0] == "x"
`)
	in := &Input{Method: "GET", Path: "/a", Headers: http.Header{"Authorization": {"Bearer s3cret"}, "Accept": {"*/*"}},
		Query: url.Values{"token": {"x"}}}
	d, err := p.Decide(context.Background(), in)
	if err != nil || !d.Allow {
		t.Fatalf("decision %+v, %v; want allow", d, err)
	}
	var result map[string]any
	if err := json.Unmarshal(ResultJSON(d.Raw), &result); err != nil {
		t.Fatalf("result %s: %v", ResultJSON(d.Raw), err)
	}
	if result["allow"] != true || result["who"] != "Bearer s3cret" {
		t.Errorf("raw result %v: want the policy's whole object", result)
	}

	var doc struct {
		Request struct {
			Headers map[string]string   `json:"headers"`
			Query   map[string][]string `json:"query"`
		} `json:"request"`
	}
	raw := InputJSON(p.LogInput(in))
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("input %s: %v", raw, err)
	}
	if got := doc.Request.Headers["authorization"]; got != Redacted {
		t.Errorf("logged authorization header %q, want %q (input %s)", got, Redacted, raw)
	}
	if got := doc.Request.Query["token"]; len(got) != 1 || got[0] != Redacted {
		t.Errorf("logged token parameter %q, want [%q]", got, Redacted)
	}
	if _, ok := doc.Request.Headers["accept"]; ok {
		t.Errorf("logged input %s holds a header the policy never reads", raw)
	}

	if got := string(ResultJSON(Decision{}.Raw)); got != "null" {
		t.Errorf("result of a failed evaluation %s, want null", got)
	}
}
