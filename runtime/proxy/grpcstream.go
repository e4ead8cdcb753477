package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"

	"golang.org/x/net/http2"

	"github.com/sluicegw/sluice/runtime/httperr"
)

// An upstream that fails after a gRPC response began cannot change the
// response's status, but gRPC's status is in the trailers, which are still
// to come: the node ends the stream with grpc-status UNAVAILABLE (or
// DEADLINE_EXCEEDED when a deadline cut it) and a grpc-message naming the
// cause, as Envoy does, instead of resetting it. The client then knows why
// its call ended, and that the messages it received are all it gets.

// grpcStream reports whether a response whose body broke off can be ended
// with a gRPC status: a gRPC call over HTTP/2 (HTTP/1.1 has no trailers a
// gRPC client would read) answered as gRPC.
func grpcStream(r *http.Request, upstream http.Header) bool {
	return r.ProtoMajor == 2 && httperr.IsGRPC(r) && httperr.IsGRPCContentType(upstream.Get("Content-Type"))
}

// midStreamFailure is the status a gRPC stream ends with when its upstream
// body broke off with err: 504 (DEADLINE_EXCEEDED) when a deadline passed,
// otherwise 502 (UNAVAILABLE, which a client may retry) with the cause in
// words that name no address (the error itself goes to the log).
func midStreamFailure(ctx context.Context, err error) *httperr.Error {
	if timedOut(ctx) {
		return httperr.New(http.StatusGatewayTimeout, reasonTimeout)
	}
	return httperr.New(http.StatusBadGateway, reasonFailed+" mid-response: "+resetCause(err))
}

// resetCause says in a few words how an upstream response broke off.
func resetCause(err error) string {
	var se http2.StreamError
	var ga http2.GoAwayError
	switch {
	case errors.As(err, &se):
		return "stream reset (" + se.Code.String() + ")"
	case errors.As(err, &ga):
		return "upstream went away (GOAWAY " + ga.ErrCode.String() + ")"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET):
		// One cause: whether a closing peer's kernel sent FIN or RST
		// depends on what it had left unread, not on the upstream.
		return "connection lost"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "read timed out"
	}
	return "response body failed"
}
