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
