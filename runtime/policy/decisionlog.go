package policy

import (
	"encoding/json"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Redacted replaces a credential in a logged input document.
const Redacted = "[redacted]"

// LogInput is the input document the policy decided on, cut down to what
// it can read as Decide cuts it, as JSON for a decision log. Credentials a
// policy may read (Authorization, cookies, API keys, anything named like a
// token or secret, in headers or the query) are replaced by Redacted: a
// decision log travels further than the request did and is kept for a day.
func (p *Policy) LogInput(in *Input) json.RawMessage {
	doc, err := ast.JSON(in.build(p.need))
	if err != nil {
		return nil
	}
	if m, ok := doc.(map[string]any); ok {
		if req, ok := m["request"].(map[string]any); ok {
			redact(req["headers"])
			redact(req["query"])
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil
	}
	return out
}

// LogResult is the value the policy's query gave for d, as JSON; null when
// there was none (the policy failed).
func LogResult(d Decision) json.RawMessage {
	if d.Raw == nil {
		return json.RawMessage("null")
	}
	v, err := ast.JSON(d.Raw)
	if err != nil {
		// A set or another value JSON cannot hold: its Rego text, quoted.
		v = d.Raw.String()
	}
	out, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return out
}

func redact(v any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, val := range m {
		if !secretName(k) {
			continue
		}
		if vs, isList := val.([]any); isList {
			for i := range vs {
				vs[i] = Redacted
			}
			continue
		}
		m[k] = Redacted
	}
}

// secretName reports whether a header or query parameter name is one that
// carries a credential.
func secretName(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "x-api-key":
		return true
	}
	for _, s := range []string{"token", "secret", "password", "api-key", "api_key", "apikey", "session"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}
