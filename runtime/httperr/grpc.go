package httperr

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// IsGRPC reports whether r is a gRPC call: its content type is
// application/grpc or a subtype (application/grpc+proto). gRPC-Web is not:
// its trailers travel in the body.
func IsGRPC(r *http.Request) bool {
	return IsGRPCContentType(r.Header.Get("Content-Type"))
}

// IsGRPCContentType reports whether ct is application/grpc or a subtype:
// a gRPC call's, or its response's.
func IsGRPCContentType(ct string) bool {
	rest, ok := strings.CutPrefix(ct, "application/grpc")
	return ok && (rest == "" || rest[0] == '+' || rest[0] == ';')
}

// GRPCCode is the gRPC status code for a gateway's HTTP status, as gRPC
// maps them (doc/http-grpc-status-mapping.md in grpc/grpc) and Envoy
// answers its own errors: 401 UNAUTHENTICATED, 403 PERMISSION_DENIED,
// 404 UNIMPLEMENTED, 400 INTERNAL, 429/502/503 UNAVAILABLE (a client may
// try again), anything else UNKNOWN. One departure: the node's 504 is its
// own deadline passing (the route's timeout or the call's grpc-timeout),
// which gRPC calls DEADLINE_EXCEEDED; the table's UNAVAILABLE is for a 504
// from some HTTP hop that gRPC cannot see into.
func GRPCCode(status int) int {
	switch status {
	case http.StatusBadRequest:
		return 13 // INTERNAL
	case http.StatusUnauthorized:
		return 16 // UNAUTHENTICATED
	case http.StatusForbidden:
		return 7 // PERMISSION_DENIED
	case http.StatusNotFound:
		return 12 // UNIMPLEMENTED
	case http.StatusGatewayTimeout:
		return 4 // DEADLINE_EXCEEDED
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable:
		return 14 // UNAVAILABLE
	}
	return 2 // UNKNOWN
}

// HTTPStatusOfGRPC is the HTTP status a gRPC status code stands for, as
// gateways translate them (grpc-gateway's table: NOT_FOUND 404,
// UNAVAILABLE 503, INTERNAL 500, ...): how the node counts a gRPC call
// that ended in an error behind an HTTP 200.
func HTTPStatusOfGRPC(code int) int {
	switch code {
	case 0: // OK
		return http.StatusOK
	case 1: // CANCELLED
		return StatusClientClosedRequest
	case 3, 9, 11: // INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE
		return http.StatusBadRequest
	case 4: // DEADLINE_EXCEEDED
		return http.StatusGatewayTimeout
	case 5: // NOT_FOUND
		return http.StatusNotFound
	case 6, 10: // ALREADY_EXISTS, ABORTED
		return http.StatusConflict
	case 7: // PERMISSION_DENIED
		return http.StatusForbidden
	case 8: // RESOURCE_EXHAUSTED
		return http.StatusTooManyRequests
	case 12: // UNIMPLEMENTED
		return http.StatusNotImplemented
	case 14: // UNAVAILABLE
		return http.StatusServiceUnavailable
	case 16: // UNAUTHENTICATED
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError // UNKNOWN, INTERNAL, DATA_LOSS, and codes gRPC has not defined
}

// WriteGRPCError answers a gRPC call with err as a trailers-only response
// (the gRPC over HTTP/2 protocol): status 200, content type
// application/grpc, grpc-status from err's HTTP status and grpc-message
// from its reason, in one HEADERS frame that ends the stream. A gRPC
// client reads that as the call's status; it cannot read a JSON error
// page. err's headers (WWW-Authenticate, Retry-After, a policy's) and the
// request id go along as response metadata.
func WriteGRPCError(w http.ResponseWriter, err error, requestID string) {
	status, reason := http.StatusInternalServerError, "internal error"
	var e *Error
	if errors.As(err, &e) {
		status, reason = e.Status, e.Reason
		for k, vs := range e.Header {
			w.Header()[k] = vs
		}
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", strconv.Itoa(GRPCCode(status)))
	h.Set("Grpc-Message", grpcMessage(reason))
	if h.Get("X-Request-Id") == "" && requestID != "" {
		h.Set("X-Request-Id", requestID)
	}
	w.WriteHeader(http.StatusOK)
}

// EndGRPCStream ends a gRPC response whose headers (and maybe some
// messages) were sent with err as its status: grpc-status and grpc-message
// as trailers, mapped as WriteGRPCError maps them, which the handler's
// return sends. A client then reads why its call ended instead of a stream
// reset with no status. Over HTTP/1.1, which gRPC does not use, a caller
// must cut the response instead.
func EndGRPCStream(w http.ResponseWriter, err error) {
	status, reason := http.StatusInternalServerError, "internal error"
	var e *Error
	if errors.As(err, &e) {
		status, reason = e.Status, e.Reason
	}
	h := w.Header()
	h[http.TrailerPrefix+"Grpc-Status"] = []string{strconv.Itoa(GRPCCode(status))}
	h[http.TrailerPrefix+"Grpc-Message"] = []string{grpcMessage(reason)}
}

// grpcMessage percent-encodes a message as grpc-message requires: every
// byte outside printable ASCII, and '%' itself, as %XX.
func grpcMessage(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '%' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
