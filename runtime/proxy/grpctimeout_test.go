package proxy

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestGRPCTimeout(t *testing.T) {
	for _, tc := range []struct {
		ct, v string
		want  time.Duration
		ok    bool
	}{
		{"application/grpc", "200m", 200 * time.Millisecond, true},
		{"application/grpc+proto", "3S", 3 * time.Second, true},
		{"application/grpc", "99999999n", 99999999 * time.Nanosecond, true},
		{"application/grpc", "1H", time.Hour, true},
		{"application/grpc", "123456789m", 0, false}, // nine digits
		{"application/grpc", "5x", 0, false},
		{"application/grpc", "m", 0, false},
		{"application/grpc", "-1S", 0, false},
		{"application/json", "1S", 0, false}, // not a gRPC call: the header means nothing
	} {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Content-Type", tc.ct)
		r.Header.Set("Grpc-Timeout", tc.v)
		if got, ok := grpcTimeout(r); got != tc.want || ok != tc.ok {
			t.Errorf("%s %q: got %v %v, want %v %v", tc.ct, tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

// TestGRPCTimeoutOverflow: a grpc-timeout too large for a time.Duration
// is no deadline, not a negative one.
func TestGRPCTimeoutOverflow(t *testing.T) {
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("Content-Type", "application/grpc")
	r.Header.Set("Grpc-Timeout", "99999999H")
	if d, ok := grpcTimeout(r); ok {
		t.Errorf("got %v, want no deadline", d)
	}
}

// TestEncodeGRPCTimeout: the finest unit whose count fits eight digits,
// truncated, and what it encodes parses back to at most the duration.
func TestEncodeGRPCTimeout(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{1, "1n"},
		{99999999, "99999999n"},
		{100 * time.Millisecond, "100000u"},
		{1999999999, "1999999u"}, // truncated, never rounded up
		{2 * time.Second, "2000000u"},
		{100 * time.Second, "100000m"},
		{30 * time.Hour, "108000S"},
		{100000 * time.Hour, "6000000M"},
		{time.Duration(1<<63 - 1), "2562047H"},
	} {
		got := encodeGRPCTimeout(tc.d)
		if got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.d, got, tc.want)
			continue
		}
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Content-Type", "application/grpc")
		r.Header.Set("Grpc-Timeout", got)
		if back, ok := grpcTimeout(r); !ok || back > tc.d || tc.d-back > tc.d/100_000 {
			t.Errorf("%v: %q parses back as %v %v", tc.d, got, back, ok)
		}
	}
}
