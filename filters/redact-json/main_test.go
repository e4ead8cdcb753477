package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicegw/sluice/sdk/sluicetest"
)

const cfg = `{"fields": ["password", "ssn", "card"]}`

func jsonResponse(body string) *sluicetest.Response {
	r := sluicetest.NewResponse(200, body)
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	r.Header.Set("ETag", `"abc"`)
	return r
}

func TestRedacts(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(cfg))
	if !h.Stateless() {
		t.Error("not declared stateless: Sluice would hold an instance per request in flight")
	}
	in := `{"user": {"name": "ann", "password": "hunter2", "cards": [{"card": {"number": "4111", "cvv": 1}}, {"card": null}]},
  "ssn":123456789, "list": [{"ssn": true}], "note": "password", "pass\u0077ord": "escaped key"}`
	want := `{"user": {"name": "ann", "password": "[REDACTED]", "cards": [{"card": "[REDACTED]"}, {"card": "[REDACTED]"}]},
  "ssn":"[REDACTED]", "list": [{"ssn": "[REDACTED]"}], "note": "password", "pass\u0077ord": "[REDACTED]"}`
	res := h.Do(sluicetest.NewRequest("GET", "/users/1"), jsonResponse(in))
	if got := string(res.Response.Body); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if cl := res.Response.Header.Get("Content-Length"); cl != strconv.Itoa(len(want)) {
		t.Errorf("Content-Length %s, body %d bytes", cl, len(want))
	}
	if res.Response.Header.Get("ETag") != "" {
		t.Error("ETag kept on a changed body")
	}
	if !res.Features.Has(1 << 1) {
		t.Error("buffer_response not enabled")
	}
}

func TestLeavesAlone(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(cfg))
	secret := `{"password": "hunter2"}`
	cases := map[string]*sluicetest.Response{
		"text": func() *sluicetest.Response {
			r := jsonResponse(secret)
			r.Header.Set("Content-Type", "text/plain")
			return r
		}(),
		"no type": func() *sluicetest.Response { r := jsonResponse(secret); r.Header.Del("Content-Type"); return r }(),
		"gzip": func() *sluicetest.Response {
			r := jsonResponse(secret)
			r.Header.Set("Content-Encoding", "gzip")
			return r
		}(),
		"invalid":    jsonResponse(`{"password": "hunter2"`),
		"no match":   jsonResponse(`{"name": "ann", "list": [1, 2, {"x": "password"}]}`),
		"scalar":     jsonResponse(`"password"`),
		"too large":  jsonResponse(`{"password": "` + strings.Repeat("x", 2<<20) + `"}`),
		"empty body": jsonResponse(``),
	}
	for name, up := range cases {
		before := up.Clone()
		res := h.Do(sluicetest.NewRequest("GET", "/"), up)
		if string(res.Response.Body) != string(before.Body) || res.Response.Header.Get("ETag") != `"abc"` {
			t.Errorf("%s: changed to %.80q", name, res.Response.Body)
		}
	}
}

func TestAcceptEncoding(t *testing.T) {
	for c, keep := range map[string]bool{cfg: false, `{"fields": ["a"], "keep_accept_encoding": true}`: true} {
		h := sluicetest.New(t, sluicetest.WithConfig(c))
		req := sluicetest.NewRequest("GET", "/")
		req.Header.Set("Accept-Encoding", "gzip, br")
		if res := h.Do(req, nil); (res.Request.Header.Get("Accept-Encoding") != "") != keep {
			t.Errorf("%s: upstream got Accept-Encoding %q", c, res.Request.Header.Get("Accept-Encoding"))
		}
	}
}

func TestChunkedTooLarge(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(`{"fields": ["password"], "max_bytes": 16}`))
	up := jsonResponse(`{"password": "hunter2", "x": 1}`)
	up.Header.Del("Content-Length") // chunked: the size is only known by reading
	res := h.Do(sluicetest.NewRequest("GET", "/"), up)
	if string(res.Response.Body) != `{"password": "hunter2", "x": 1}` {
		t.Fatalf("%s", res.Response.Body)
	}
}

func TestOptions(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(`{"fields": ["Token"], "ignore_case": true, "replacement": "***"}`))
	up := jsonResponse(`[{"TOKEN": "a"}, {"token": {"deep": 1}}]`)
	up.Header.Set("Content-Type", "application/problem+json")
	up.Header.Del("Content-Length")
	res := h.Do(sluicetest.NewRequest("GET", "/"), up)
	if got := string(res.Response.Body); got != `[{"TOKEN": "***"}, {"token": "***"}]` {
		t.Fatalf("%s", got)
	}
	if res.Response.Header.Get("Content-Length") != "" {
		t.Error("Content-Length added to a response that had none")
	}
}

func TestUpstreamErrorSkipped(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(cfg))
	req := sluicetest.NewRequest("GET", "/")
	h.HandleRequest(req)
	up := jsonResponse(`{"password": "x"}`)
	h.HandleResponse(req, up, true)
	if string(up.Body) != `{"password": "x"}` {
		t.Fatal(string(up.Body))
	}
}

func TestBadConfig(t *testing.T) {
	for _, c := range []string{`{}`, `{"fields": []}`, `{"fields": ["a"], "max_bytes": 0}`, `{"field": ["a"]}`} {
		if _, err := sluicetest.Load(t, sluicetest.WithConfig(c)); err == nil {
			t.Errorf("accepted %s", c)
		}
	}
}

// FuzzRedact: valid JSON stays valid, the same shape, and untouched when no
// field matches.
func FuzzRedact(f *testing.F) {
	f.Add([]byte(`{"password": "x", "a": [1, {"ssn": {"b": "c"}}], "c": "\"password\""}`))
	f.Add([]byte(`[{"a\"b": 1, "password": [true, false, null]}]`))
	f.Add([]byte(` {"ssn" : -1.5e3 } `))
	r := &redactJSON{fields: map[string]bool{"password": true, "ssn": true}, replacement: []byte(`"[REDACTED]"`), maxBytes: 1 << 20}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, changed := r.redact(in)
		if !json.Valid(in) {
			if changed || string(out) != string(in) {
				t.Fatal("invalid JSON was changed")
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("%s became invalid: %s", in, out)
		}
		if !changed && string(out) != string(in) {
			t.Fatal("unchanged but different")
		}
		var v any
		json.Unmarshal(out, &v)
		if hasField(v, "password") || hasField(v, "ssn") {
			t.Fatalf("a field survived: %s", out)
		}
	})
}

func hasField(v any, name string) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if (k == name && e != "[REDACTED]") || hasField(e, name) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if hasField(e, name) {
				return true
			}
		}
	}
	return false
}
