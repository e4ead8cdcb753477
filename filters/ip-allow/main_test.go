package main

import (
	"encoding/json"
	"testing"

	"github.com/sluicegw/sluice/sdk/sluicetest"
)

const cfg = `{
  "allow": ["10.0.0.0/8", "192.168.1.7", "2001:db8::/32"],
  "deny":  ["10.13.0.0/16", "2001:db8:bad::/48"]
}`

func from(addr string) *sluicetest.Request {
	req := sluicetest.NewRequest("GET", "/admin")
	req.SourceAddr = addr
	return req
}

func TestAllowDeny(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(cfg))
	if !h.Stateless() {
		t.Error("not declared stateless: Sluice would hold an instance per request in flight")
	}
	for addr, want := range map[string]bool{
		"10.1.2.3:5000":               true,
		"10.13.9.9:5000":              false, // denied inside an allowed range
		"192.168.1.7:1":               true,
		"192.168.1.8:1":               false, // not in allow
		"[2001:db8::1]:443":           true,
		"[2001:db8:bad::1]:443":       false,
		"[::ffff:10.1.2.3]:5000":      true, // IPv4-mapped IPv6 is the IPv4 address
		"[fe80::1%eth0]:80":           false,
		"10.1.2.3":                    true, // a host that leaves out the port
		"not-an-address":              false,
		"":                            false,
		"[2001:db8::1%zone]:1":        true, // the zone is dropped
		"[2001:db8:0:0:0:0:0:1]:9999": true,
	} {
		res := h.Do(from(addr), nil)
		if res.Next != want {
			t.Errorf("%q: next=%v, want %v", addr, res.Next, want)
		}
		if !want && res.Response.StatusCode != 403 {
			t.Errorf("%q: status %d", addr, res.Response.StatusCode)
		}
	}
}

func TestDeniedBody(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(cfg))
	req := from("203.0.113.5:4444")
	req.Header.Set("X-Request-Id", "req-1")
	res := h.Do(req, sluicetest.NewResponse(200, "secret"))
	var body struct {
		Error     string
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(res.Response.Body, &body); err != nil {
		t.Fatal(err)
	}
	if res.Next || res.Response.StatusCode != 403 || body.RequestID != "req-1" || body.Error == "" ||
		res.Response.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %v %s", res.Response.StatusCode, res.Response.Header, res.Response.Body)
	}
}

func TestDenyOnly(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithConfig(`{"deny": ["203.0.113.0/24", "::ffff:198.51.100.0/120"]}`))
	for addr, want := range map[string]bool{"203.0.113.9:1": false, "198.51.100.20:1": false, "8.8.8.8:1": true, "[::1]:1": true} {
		if res := h.Do(from(addr), nil); res.Next != want {
			t.Errorf("%s: next=%v", addr, res.Next)
		}
	}
}

func TestBadConfig(t *testing.T) {
	for _, c := range []string{
		`{}`,
		`{"allow": ["10.0.0.0/33"]}`,
		`{"allow": ["10.0.0"]}`,
		`{"deny": ["fe80::1%eth0"]}`,
		`{"allow": ["10.0.0.0/8"], "request_id_header": "bad header"}`,
		`{"allow": "10.0.0.0/8"}`,
	} {
		if _, err := sluicetest.Load(t, sluicetest.WithConfig(c)); err == nil {
			t.Errorf("accepted %s", c)
		}
	}
}
