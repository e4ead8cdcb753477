package policy

import (
	"encoding/json"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Redacted replaces a credential in a logged input document.
const Redacted = "[redacted]"

// LogInput is the input document the policy decided on, cut down to what
// it can read as Decide cuts it, for a decision log. It is built on the
// request path (from the request view, which the engine reuses) and holds
// only copies, so InputJSON may turn it into JSON later, elsewhere.
func (p *Policy) LogInput(in *Input) ast.Value { return in.build(p.need) }

// InputJSON is a logged input document as JSON. Credentials a policy may
// read (Authorization, cookies, API keys, anything named like a token or
// secret, in headers or the query) are replaced by Redacted: a decision log
// travels further than the request did and is kept for a day.
func InputJSON(v ast.Value) json.RawMessage {
	if v == nil {
		return json.RawMessage("null")
	}
	doc, err := ast.JSON(v)
	if err != nil {
		return json.RawMessage("null")
	}
	if m, ok := doc.(map[string]any); ok {
		if req, ok := m["request"].(map[string]any); ok {
			redact(req["headers"])
			redact(req["query"])
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return json.RawMessage("null")
	}
	return out
}

// ResultJSON is the value a policy's query gave (Decision.Raw) as JSON;
// null when there was none (the policy failed).
func ResultJSON(raw ast.Value) json.RawMessage {
	if raw == nil {
		return json.RawMessage("null")
	}
	v, err := ast.JSON(raw)
	if err != nil {
		// A set or another value JSON cannot hold: its Rego text, quoted.
		v = raw.String()
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
