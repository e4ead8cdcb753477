package main

import (
	"testing"

	"github.com/sluicegw/sluice/sdk/sluicetest"
)

// The filter runs natively here: `go test` needs no wasm.
func TestStampsRequestAndResponse(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(map[string]string{"header": "X-Test", "value": "yes"}))
	res := h.Do(sluicetest.NewRequest("GET", "/"), sluicetest.NewResponse(200, "ok"))
	if !res.Next {
		t.Fatal("the filter answered instead of passing the request on")
	}
	if got := res.Request.Header.Get("X-Test"); got != "yes" {
		t.Errorf("upstream request header X-Test = %q, want yes", got)
	}
	if got := res.Response.Header.Get("X-Test"); got != "yes" {
		t.Errorf("response header X-Test = %q, want yes", got)
	}
}

func TestRefusesTrace(t *testing.T) {
	h := sluicetest.New(t)
	res := h.Do(sluicetest.NewRequest("TRACE", "/"), sluicetest.NewResponse(500, "the upstream must not be called"))
	if res.Next || res.Response.StatusCode != 405 {
		t.Fatalf("TRACE: next=%v status=%d, want an answer of 405", res.Next, res.Response.StatusCode)
	}
}

func TestRefusesUnknownConfig(t *testing.T) {
	if _, err := sluicetest.Load(t, sluicetest.WithConfig(map[string]string{"hedaer": "X-Typo"})); err == nil {
		t.Fatal("a config with an unknown key was accepted")
	}
}
