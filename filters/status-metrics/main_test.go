package main

import (
	"testing"

	"github.com/sluicegw/sluice/sdk/sluicetest"
)

func TestCountsByMethodAndClass(t *testing.T) {
	h := sluicetest.New(t)
	if !h.Stateless() {
		t.Error("not declared stateless: Sluice would hold an instance per request in flight")
	}
	for _, ex := range []struct {
		method string
		status int
	}{{"GET", 200}, {"GET", 204}, {"POST", 503}, {"BREW", 418}, {"GET", 404}} {
		h.Do(sluicetest.NewRequest(ex.method, "/"), sluicetest.NewResponse(ex.status, ""))
	}
	for _, tc := range []struct {
		method, class string
		want          float64
	}{
		{"GET", "2xx", 2}, {"POST", "5xx", 1}, {"other", "4xx", 1}, {"GET", "4xx", 1},
	} {
		if got, ok := h.Metric("responses_total", tc.method, tc.class); !ok || got.Value != tc.want {
			t.Errorf("responses_total{method=%s,class=%s} = %v (recorded %v), want %v", tc.method, tc.class, got.Value, ok, tc.want)
		}
	}
	if _, ok := h.Metric("responses_total", "BREW", "4xx"); ok {
		t.Error("a made-up method became a label value")
	}
}

// The filter only counts: it passes every request on.
func TestNeverAnswers(t *testing.T) {
	h := sluicetest.New(t)
	if next, _ := h.HandleRequest(sluicetest.NewRequest("GET", "/")); !next {
		t.Fatal("answered a request")
	}
}
