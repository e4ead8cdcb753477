package proxy

import (
	"io"
	"net"
	"net/http"
)

// The forwarder asks the writer it was given (never one it unwraps) for
// these: a wrapper that transforms the body (compression, the cache's
// fill, a filter's buffer) does not implement them, so a body never
// bypasses it; wrappers that only watch (the recorder, a filter's header
// hook) pass them on.

// BodyStreamer is a response writer that takes a body as a reader instead
// of writes: an engine that sends responses after the handler returns
// (fasthttp) streams it from there, chunk by chunk, and closes it at the
// end. trailers, when set, is called once the body ended. It reports
// false, having taken nothing, when the writer it wraps cannot stream.
type BodyStreamer interface {
	StreamBody(body io.ReadCloser, size int64, trailers func() http.Header) bool
}

// ProtocolSwitcher is a response writer that sends the 101 (with its
// header map as it is) and hands the client connection to session after
// the handler returns, instead of letting the handler hijack it. It
// reports false, having done nothing, when the writer it wraps cannot.
// Once it reported true, session is called exactly once; with a nil
// connection when the switch was refused after all (a response filter
// failed at the 101).
type ProtocolSwitcher interface {
	SwitchProtocols(session func(client net.Conn)) bool
}
