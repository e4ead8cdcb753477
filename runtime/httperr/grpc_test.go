package httperr

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestIsGRPC(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/grpc":                 true,
		"application/grpc+proto":           true,
		"application/grpc;charset=utf-8":   true,
		"application/grpc-web":             false,
		"application/grpc-web-text":        false,
		"application/json":                 false,
		"":                                 false,
		"application/grpcx":                false,
		"text/plain; see application/grpc": false,
	} {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Content-Type", ct)
		if got := IsGRPC(r); got != want {
			t.Errorf("IsGRPC(%q) = %v, want %v", ct, got, want)
		}
	}
}

// TestWriteGRPCError: a trailers-only response with the mapped code, the
// reason percent-encoded, the error's own headers, no body.
func TestWriteGRPCError(t *testing.T) {
	w := httptest.NewRecorder()
	w.Header().Set("Content-Length", "12") // left by an earlier writer: dropped
	err := &Error{Status: http.StatusTooManyRequests, Reason: "slow down: 100% used, café", Header: http.Header{"Retry-After": {"3"}}}
	WriteGRPCError(w, err, "rid-1")
	h := w.Result().Header
	for k, want := range map[string]string{
		"Content-Type": "application/grpc", "Grpc-Status": "14", "Grpc-Message": "slow down: 100%25 used, caf%C3%A9",
		"Retry-After": "3", "X-Request-Id": "rid-1", "Content-Length": "",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("status %d body %q, want 200 and no body", w.Code, w.Body)
	}
}

func TestGRPCCode(t *testing.T) {
	for status, want := range map[int]int{400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 4, 500: 2, 413: 2} {
		if got := GRPCCode(status); got != want {
			t.Errorf("GRPCCode(%d) = %d, want %d", status, got, want)
		}
	}
}

// TestEndGRPCStream: a response already under way gets the status as
// trailers, the message percent-encoded; the headers sent stay as sent.
func TestEndGRPCStream(t *testing.T) {
	w := httptest.NewRecorder()
	w.Header().Set("Content-Type", "application/grpc")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte{0, 0, 0, 0, 0})
	EndGRPCStream(w, New(http.StatusBadGateway, "upstream failed mid-response: 100% gone"))
	res := w.Result()
	if res.Header.Get("Grpc-Status") != "" {
		t.Errorf("grpc-status in the headers: %v", res.Header)
	}
	if got := res.Trailer.Get("Grpc-Status"); got != "14" {
		t.Errorf("grpc-status trailer %q, want 14 (UNAVAILABLE)", got)
	}
	if got := res.Trailer.Get("Grpc-Message"); got != "upstream failed mid-response: 100%25 gone" {
		t.Errorf("grpc-message trailer %q", got)
	}
	w = httptest.NewRecorder()
	w.WriteHeader(http.StatusOK)
	EndGRPCStream(w, New(http.StatusGatewayTimeout, "upstream timed out"))
	if got := w.Result().Trailer.Get("Grpc-Status"); got != "4" {
		t.Errorf("a deadline: grpc-status %q, want 4 (DEADLINE_EXCEEDED)", got)
	}
}

// TestHTTPStatusOfGRPC: a call that failed behind an HTTP 200 counts as a
// client error or a server error as its code means; every code gRPC has
// not defined counts as a server error.
func TestHTTPStatusOfGRPC(t *testing.T) {
	for code, want := range map[int]int{0: 200, 1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 7: 403, 8: 429, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401, 17: 500, -1: 500} {
		if got := HTTPStatusOfGRPC(code); got != want {
			t.Errorf("gRPC code %d counts as %d, want %d", code, got, want)
		}
	}
}
