// Command redact-json hides sensitive fields in JSON responses: the value of
// every configured field name, at any depth, becomes "[REDACTED]". The rest
// of the body is left byte for byte as the upstream wrote it. Responses that
// are not JSON (by Content-Type), are compressed, or are larger than
// max_bytes pass through untouched.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	sluice "github.com/sluicegw/sluice/sdk"
)

func main() {} // never called: a filter runs from init (see the SDK docs)

// Stateless: the response phase reads only the response and the
// configuration.
func init() {
	sluice.Stateless()
	sluice.HandleNew(newRedactJSON)
}

// config is the filter's `config:`.
type config struct {
	// Fields are the object keys whose values are redacted.
	Fields []string `json:"fields"`
	// Replacement is the string put in their place.
	Replacement string `json:"replacement"`
	// IgnoreCase matches field names case-insensitively.
	IgnoreCase bool `json:"ignore_case"`
	// MaxBytes is the largest body inspected; larger ones pass unchanged.
	MaxBytes int `json:"max_bytes"`
	// KeepAcceptEncoding passes the client's Accept-Encoding upstream. By
	// default it is removed, so the upstream answers uncompressed JSON the
	// filter can read (the route's `compress` compresses it for the client).
	KeepAcceptEncoding bool `json:"keep_accept_encoding"`
}

type redactJSON struct {
	fields      map[string]bool
	keepAE      bool
	ignoreCase  bool
	replacement []byte // a JSON string
	maxBytes    int
}

func newRedactJSON() (sluice.Filter, error) {
	c := config{Replacement: "[REDACTED]", MaxBytes: 1 << 20}
	if err := sluice.Config(&c); err != nil {
		return nil, err
	}
	if len(c.Fields) == 0 {
		return nil, errors.New("config: fields: empty: name the fields to redact")
	}
	if c.MaxBytes <= 0 {
		return nil, errors.New("config: max_bytes: must be positive")
	}
	// Every response is held back until this filter has seen it.
	if !sluice.EnableFeatures(sluice.FeatureBufferResponse).Has(sluice.FeatureBufferResponse) {
		return nil, errors.New("the host cannot buffer responses (feature buffer_response)")
	}
	f := &redactJSON{fields: map[string]bool{}, ignoreCase: c.IgnoreCase, maxBytes: c.MaxBytes, keepAE: c.KeepAcceptEncoding}
	for _, name := range c.Fields {
		if c.IgnoreCase {
			name = strings.ToLower(name)
		}
		f.fields[name] = true
	}
	f.replacement, _ = json.Marshal(c.Replacement)
	return f, nil
}

func (f *redactJSON) HandleRequest(req sluice.Request, _ sluice.Response) bool {
	if !f.keepAE {
		req.Header().Remove("Accept-Encoding")
	}
	return true
}

func (f *redactJSON) HandleResponse(_ sluice.Request, resp sluice.Response, isError bool) {
	h := resp.Header()
	if isError || !isJSON(h) {
		return
	}
	if enc, ok := h.Get("Content-Encoding"); ok && !strings.EqualFold(enc, "identity") {
		sluice.Logf(sluice.LevelDebug, "redact-json: %s response left as is", enc)
		return
	}
	if cl, ok := h.Get("Content-Length"); ok {
		if n, err := strconv.Atoi(cl); err == nil && n > f.maxBytes {
			sluice.Logf(sluice.LevelWarn, "redact-json: %d-byte response over max_bytes left as is", n)
			return
		}
	}
	body, err := io.ReadAll(resp.Body())
	if err != nil {
		return
	}
	out, changed := body, false
	if len(body) > f.maxBytes {
		sluice.Logf(sluice.LevelWarn, "redact-json: %d-byte response over max_bytes left as is", len(body))
	} else {
		out, changed = f.redact(body)
	}
	// What was read is written back even when unchanged: whether reading a
	// buffered body consumes it differs between hosts.
	resp.Body().Write(out)
	if changed {
		if _, ok := h.Get("Content-Length"); ok {
			h.Set("Content-Length", strconv.Itoa(len(out)))
		}
		h.Remove("ETag") // the upstream's tag no longer names these bytes
		h.Remove("Content-MD5")
		h.Remove("Digest")
	}
}

// isJSON reports whether Content-Type is application/json or a +json type.
func isJSON(h sluice.Header) bool {
	ct, ok := h.Get("Content-Type")
	if !ok {
		return false
	}
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// redact returns body with the value of every matching field replaced, and
// whether anything was. Invalid JSON is returned as it is.
func (f *redactJSON) redact(body []byte) ([]byte, bool) {
	if !json.Valid(body) {
		return body, false
	}
	s := scanner{in: body, f: f}
	s.value()
	if len(s.spans) == 0 {
		return body, false
	}
	out := make([]byte, 0, len(body))
	last := 0
	for _, sp := range s.spans {
		out = append(append(out, body[last:sp.start]...), f.replacement...)
		last = sp.end
	}
	return append(out, body[last:]...), true
}

// scanner walks JSON already checked by json.Valid, recording the byte
// spans of the values to replace.
type scanner struct {
	in    []byte
	i     int
	f     *redactJSON
	spans []span
}

type span struct{ start, end int }

func (s *scanner) ws() {
	for s.i < len(s.in) {
		switch s.in[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value walks one value, looking into objects and arrays.
func (s *scanner) value() {
	s.ws()
	switch s.in[s.i] {
	case '{':
		s.i++
		for {
			s.ws()
			if s.in[s.i] == '}' {
				s.i++
				return
			}
			k := s.i
			s.str()
			key := s.in[k:s.i]
			s.ws()
			s.i++ // ':'
			s.ws()
			if start := s.i; s.f.match(key) {
				s.skip()
				s.spans = append(s.spans, span{start, s.i})
			} else {
				s.value()
			}
			s.ws()
			if s.in[s.i] == ',' {
				s.i++
			}
		}
	case '[':
		s.i++
		for {
			s.ws()
			if s.in[s.i] == ']' {
				s.i++
				return
			}
			s.value()
			s.ws()
			if s.in[s.i] == ',' {
				s.i++
			}
		}
	case '"':
		s.str()
	default: // number, true, false, null
		for s.i < len(s.in) && !strings.ContainsRune(",]} \t\n\r", rune(s.in[s.i])) {
			s.i++
		}
	}
}

// skip passes over one value without looking inside.
func (s *scanner) skip() {
	depth := 0
	for {
		switch s.in[s.i] {
		case '"':
			s.str()
		case '{', '[':
			depth++
			s.i++
		case '}', ']':
			depth--
			s.i++
		default:
			if depth == 0 {
				s.value() // a scalar
				return
			}
			s.i++
		}
		if depth == 0 {
			return
		}
	}
}

// str passes over a string, escapes included.
func (s *scanner) str() {
	s.i++ // opening quote
	for s.in[s.i] != '"' {
		if s.in[s.i] == '\\' {
			s.i++
		}
		s.i++
	}
	s.i++
}

// match reports whether a key (a JSON string with its quotes) is one to
// redact.
func (f *redactJSON) match(key []byte) bool {
	raw := key[1 : len(key)-1]
	if bytes.IndexByte(raw, '\\') < 0 && !f.ignoreCase {
		return f.fields[string(raw)] // no allocation
	}
	var name string
	if json.Unmarshal(key, &name) != nil {
		return false
	}
	if f.ignoreCase {
		name = strings.ToLower(name)
	}
	return f.fields[name]
}
