package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluicegw/sluice/sdk/sluicetest"
)

func message(t *testing.T, body []byte) string {
	t.Helper()
	var m struct{ Message string }
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return m.Message
}

func TestHello(t *testing.T) {
	h := sluicetest.New(t)
	if !h.Stateless() {
		t.Error("not declared stateless: Sluice would hold an instance per request in flight")
	}
	for uri, want := range map[string]string{
		"/hello":                    "hello, world",
		"/hello?name=ann":           "hello, ann",
		"/hello?name=":              "hello, world",
		"/hello?name=kung+fu%22%3C": `hello, kung fu"<`,
		"/hello?other=1&name=bob":   "hello, bob",
	} {
		res := h.Do(sluicetest.NewRequest("GET", uri), sluicetest.NewResponse(500, "upstream must not be called"))
		if res.Next {
			t.Fatalf("%s: called the upstream", uri)
		}
		if res.Response.StatusCode != 200 || res.Response.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %v", uri, res.Response.StatusCode, res.Response.Header)
		}
		if got := message(t, res.Response.Body); got != want {
			t.Errorf("%s: message %q, want %q", uri, got, want)
		}
	}
}

func TestLongNameIsCut(t *testing.T) {
	h := sluicetest.New(t)
	res := h.Do(sluicetest.NewRequest("GET", "/hello?name="+strings.Repeat("é", 500)), nil)
	if got := message(t, res.Response.Body); got != "hello, "+strings.Repeat("é", maxName) {
		t.Errorf("message of %d bytes", len(got))
	}
}

func TestGreetingAndMethods(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(`{"greeting": "hi"}`))
	if res := h.Do(sluicetest.NewRequest("GET", "/hello?name=x"), nil); message(t, res.Response.Body) != "hi, x" {
		t.Errorf("%s", res.Response.Body)
	}
	if res := h.Do(sluicetest.NewRequest("HEAD", "/hello"), nil); res.Next || res.Response.StatusCode != 200 || len(res.Response.Body) != 0 {
		t.Errorf("HEAD: %d %q", res.Response.StatusCode, res.Response.Body)
	}
	res := h.Do(sluicetest.NewRequest("POST", "/hello"), nil)
	if res.Next || res.Response.StatusCode != 405 || res.Response.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %v", res.Response.StatusCode, res.Response.Header)
	}
}

func TestBadConfig(t *testing.T) {
	if _, err := sluicetest.Load(t, sluicetest.WithConfig(`{"greting": "hi"}`)); err == nil {
		t.Fatal("a misspelt key was accepted")
	}
}
