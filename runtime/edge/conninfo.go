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
	return context.WithValue(ctx, connStateKey, &connInfo{guard: guardOf(c)})
}

// guardOf finds the guard under a connection the dispatcher handed over.
func guardOf(c net.Conn) *httpguard.Conn {
	if pc, ok := c.(*peekedConn); ok {
		c = pc.Conn
	}
	g, _ := c.(*httpguard.Conn)
	return g
}

// guardCheck is one request's handle on its connection's guard.
type guardCheck struct {
	guard *httpguard.Conn
	index int
}

// priVerdict refuses a "PRI" request the engine passed to the handler: a
// real HTTP/2 preface never reaches it, and one with headers would turn the
// guard off for the rest of the connection.
var priVerdict = httpguard.Verdict{Status: http.StatusBadRequest, Reason: "unexpected HTTP/2 preface"}

// checkGuard asks the connection's guard about this request. HTTP/2 framing
// is binary and checked by the engine, so only HTTP/1 is asked.
func checkGuard(r *http.Request) (guardCheck, httpguard.Verdict) {
	if r.Method == "PRI" {
		return guardCheck{}, priVerdict
	}
	if r.ProtoMajor != 1 {
		return guardCheck{}, httpguard.Verdict{}
	}
	ci := connFromContext(r.Context())
	if ci == nil || ci.guard == nil {
		return guardCheck{}, httpguard.Verdict{}
	}
	g := guardCheck{guard: ci.guard, index: int(ci.requests.Add(1) - 1)}
	return g, g.guard.Verdict(g.index)
}

// recheck asks again after the body was read: a malformed chunked body is
// only seen by the guard as it streams through.
func (g guardCheck) recheck() httpguard.Verdict {
	if g.guard == nil {
		return httpguard.Verdict{}
	}
	return g.guard.Verdict(g.index)
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
