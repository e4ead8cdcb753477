package proxy

import (
	"net/http"
	"testing"

	"github.com/sluicegw/sluice/runtime/httpguard"
)

func TestUpgradeProtocol(t *testing.T) {
	for _, tc := range []struct {
		proto      int
		connection string
		upgrade    string
		want       string
	}{
		{1, "Upgrade", "websocket", "websocket"},
		{1, "keep-alive, upgrade", "websocket", "websocket"},
		{1, "keep-alive", "websocket", ""}, // Upgrade without the Connection token
		{1, "Upgrade", "", ""},
		{1, "Upgrade, HTTP2-Settings", "h2c", ""},
		{2, "Upgrade", "websocket", ""},
	} {
		r := &http.Request{ProtoMajor: tc.proto, Header: http.Header{}}
		if tc.connection != "" {
			r.Header.Set("Connection", tc.connection)
		}
		if tc.upgrade != "" {
			r.Header.Set("Upgrade", tc.upgrade)
		}
		if got := httpguard.UpgradeOf(r); got != tc.want {
			t.Errorf("HTTP/%d Connection %q Upgrade %q: %q, want %q", tc.proto, tc.connection, tc.upgrade, got, tc.want)
		}
	}
}

func TestOutboundHeaderLeavesRequestAlone(t *testing.T) {
	r := &http.Request{ProtoMajor: 1, Host: "api.example.com", RemoteAddr: "192.0.2.1:999", Header: http.Header{
		"Connection":      {"X-Hop"},
		"X-Hop":           {"1"},
		"X-Forwarded-For": make([]string, 1, 4), // spare capacity must not be written into
		"Via":             {"1.0 cdn"},
	}}
	r.Header["X-Forwarded-For"][0] = "203.0.113.9"
	h := outboundHeader(r, "")
	if len(r.Header) != 4 || r.Header.Get("X-Hop") != "1" || r.Header["X-Forwarded-For"][:2][1] != "" || len(r.Header["Via"]) != 1 {
		t.Fatalf("caller's header changed: %v", r.Header)
	}
	if h.Get("X-Forwarded-For") != "203.0.113.9, 192.0.2.1" || h.Get("X-Hop") != "" || len(h["Via"]) != 2 {
		t.Fatalf("outbound header %v", h)
	}
}
