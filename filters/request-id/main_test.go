package main

import (
	"regexp"
	"testing"

	"github.com/sluicegw/sluice/sdk/sluicetest"
)

var uuid4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestGeneratesAndEchoes(t *testing.T) {
	h := sluicetest.New(t)
	if h.Stateless() {
		t.Error("declared stateless, but it remembers the id it chose for the response phase")
	}
	seen := map[string]bool{}
	for range 100 {
		res := h.Do(sluicetest.NewRequest("GET", "/users/42"), sluicetest.NewResponse(200, "ok"))
		id := res.Request.Header.Get("X-Request-Id")
		if !res.Next || !uuid4.MatchString(id) {
			t.Fatalf("next=%v id %q", res.Next, id)
		}
		if got := res.Response.Header.Get("X-Request-Id"); got != id {
			t.Fatalf("response id %q, request id %q", got, id)
		}
		if seen[id] {
			t.Fatalf("id %s twice", id)
		}
		seen[id] = true
	}
}

func TestKeepsIncomingID(t *testing.T) {
	h := sluicetest.New(t)
	req := sluicetest.NewRequest("GET", "/")
	req.Header.Set("x-request-id", "abc-123")
	res := h.Do(req, nil)
	if res.Request.Header.Get("X-Request-Id") != "abc-123" || res.Response.Header.Get("X-Request-Id") != "abc-123" {
		t.Fatalf("request %v response %v", res.Request.Header, res.Response.Header)
	}
}

func TestReplacesMalformedID(t *testing.T) {
	h := sluicetest.New(t)
	for _, bad := range []string{"", "has space", "tab\there", string(make([]byte, 129)), "é"} {
		req := sluicetest.NewRequest("GET", "/")
		req.Header.Set("X-Request-Id", bad)
		res := h.Do(req, nil)
		if id := res.Request.Header.Values("X-Request-Id"); len(id) != 1 || !uuid4.MatchString(id[0]) {
			t.Errorf("%q became %q", bad, id)
		}
	}
}

func TestConfig(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(`{"header": "X-Correlation-Id", "override": true}`))
	req := sluicetest.NewRequest("GET", "/")
	req.Header.Set("X-Correlation-Id", "client-chosen")
	res := h.Do(req, nil)
	id := res.Request.Header.Get("X-Correlation-Id")
	if !uuid4.MatchString(id) || res.Response.Header.Get("X-Correlation-Id") != id || res.Request.Header.Get("X-Request-Id") != "" {
		t.Fatalf("request %v response %v", res.Request.Header, res.Response.Header)
	}
	for _, bad := range []string{`{"header": "Bad Header"}`, `{"header": ""}`, `{"heder": "X"}`} {
		if _, err := sluicetest.Load(t, sluicetest.WithConfig(bad)); err == nil {
			t.Errorf("config %s accepted", bad)
		}
	}
}

func BenchmarkRequestID(b *testing.B) {
	h := sluicetest.New(b)
	req := sluicetest.NewRequest("GET", "/")
	for b.Loop() {
		req.Header.Del("X-Request-Id")
		h.Do(req, nil)
	}
}
