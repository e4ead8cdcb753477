package edge

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/sluicegw/sluice/runtime/httpguard"
)

// connInfo is per-connection state the pipeline needs: the smuggling guard
// of the connection and how many requests it has carried.
type connInfo struct {
	guard    *httpguard.Conn
	requests atomic.Int64
}

// connContext attaches connInfo to every request of a connection.
func connContext(ctx context.Context, c net.Conn) context.Context {
	g, _ := c.(*httpguard.Conn)
	return context.WithValue(ctx, connStateKey, &connInfo{guard: g})
}

// guardVerdict asks the connection's guard about this request. HTTP/2
// framing is binary and checked by the engine, so only HTTP/1 is asked.
func guardVerdict(r *http.Request) httpguard.Verdict {
	if r.ProtoMajor != 1 {
		return httpguard.Verdict{}
	}
	ci := connFromContext(r.Context())
	if ci == nil || ci.guard == nil {
		return httpguard.Verdict{}
	}
	return ci.guard.Verdict(int(ci.requests.Add(1) - 1))
}

// guardTLS returns the TLS state of a connection the edge terminated itself
// (the engine sees only the guard wrapper, so r.TLS is nil there).
func guardTLS(r *http.Request) (*tls.ConnectionState, bool) {
	if r.TLS != nil {
		return nil, false
	}
	ci := connFromContext(r.Context())
	if ci == nil || ci.guard == nil {
		return nil, false
	}
	return ci.guard.TLSState()
}
