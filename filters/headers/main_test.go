package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/sluicegw/sluice/sdk/sluicetest"
)

const cfg = `{
  "request": {
    "set": {"X-Env": "prod", "X-Forwarded-Proto": "https"},
    "add": {"Via": "1.1 sluice"},
    "remove": ["X-Debug", "Cookie"]
  },
  "response": {
    "set": {"Strict-Transport-Security": "max-age=31536000; includeSubDomains"},
    "add": {"Vary": "Accept-Encoding"},
    "remove": ["Server", "X-Powered-By"]
  }
}`

func TestHeaders(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(cfg))
	if !h.Stateless() {
		t.Error("not declared stateless: Sluice would hold an instance per request in flight")
	}
	req := sluicetest.NewRequest("GET", "/")
	req.Header.Set("X-Env", "client-says-dev")
	req.Header.Set("X-Debug", "1")
	req.Header.Set("Cookie", "a=b")
	req.Header.Set("Via", "1.1 cdn")
	up := sluicetest.NewResponse(200, "ok")
	up.Header.Set("Server", "nginx/1.2")
	up.Header.Set("X-Powered-By", "PHP")
	up.Header.Set("Vary", "Origin")
	res := h.Do(req, up)

	rh := res.Request.Header
	if rh.Get("X-Env") != "prod" || rh.Get("X-Forwarded-Proto") != "https" || rh.Get("X-Debug") != "" || rh.Get("Cookie") != "" {
		t.Errorf("request headers %v", rh)
	}
	if got := rh.Values("Via"); !slices.Equal(got, []string{"1.1 cdn", "1.1 sluice"}) {
		t.Errorf("Via %q", got)
	}
	ph := res.Response.Header
	if ph.Get("Server") != "" || ph.Get("X-Powered-By") != "" || !strings.HasPrefix(ph.Get("Strict-Transport-Security"), "max-age") {
		t.Errorf("response headers %v", ph)
	}
	if got := ph.Values("Vary"); !slices.Equal(got, []string{"Origin", "Accept-Encoding"}) {
		t.Errorf("Vary %q", got)
	}
}

func TestRequestOnly(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(`{"request": {"set": {"X-A": "1"}}}`))
	up := sluicetest.NewResponse(200, "")
	up.Header.Set("Server", "x")
	res := h.Do(sluicetest.NewRequest("GET", "/"), up)
	if res.Request.Header.Get("X-A") != "1" || res.Response.Header.Get("Server") != "x" {
		t.Fatalf("%v %v", res.Request.Header, res.Response.Header)
	}
}

func TestBadConfig(t *testing.T) {
	for _, c := range []string{
		`{}`,
		`{"request": {"set": {"Bad Name": "x"}}}`,
		`{"response": {"add": {"X-A": "line\r\nX-Injected: 1"}}}`,
		`{"request": {"remove": [""]}}`,
		`{"request": {"rename": {"a": "b"}}}`,
	} {
		if _, err := sluicetest.Load(t, sluicetest.WithConfig(c)); err == nil {
			t.Errorf("accepted %s", c)
		}
	}
}
