// Package httpguard refuses ambiguous HTTP/1.1 request framing before the
// HTTP engine sees it.
//
// net/http quietly repairs some request shapes that other HTTP parsers read
// differently: it drops Content-Length when Transfer-Encoding is present,
// accepts obs-folded header lines and bare LF line endings. Each such
// disagreement between two parsers on one path is a request-smuggling
// vector, so an edge proxy must refuse them instead of repairing them.
// net/http offers no hook on the raw header block, so Conn watches the bytes
// as the engine reads them, follows the HTTP/1.1 message framing, and records
// a verdict for the first bad request; the handler asks for it by the
// request's position on the connection and answers 400 (or 431) and closes.
package httpguard

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
)

// Verdict is what the guard decided about one request on a connection.
type Verdict struct {
	Status int    // 0 when the request is fine; 400 or 431 otherwise
	Reason string // a short, client-safe description
}

// OK reports whether the request may be served.
func (v Verdict) OK() bool { return v.Status == 0 }

// Conn wraps an accepted connection and checks every request head read from
// it. It is safe for the concurrent Reads net/http does (its background read
// while a handler runs) and for Verdict calls from the handler.
type Conn struct {
	net.Conn
	mu sync.Mutex
	t  tracker
	// endAtBad ends the stream at the first bad request (see EndAtBad).
	endAtBad bool
}

// ErrRefused is what Read returns, with EndAtBad, once a request on the
// connection was judged bad.
var ErrRefused = errors.New("httpguard: request refused; the connection's framing is lost")

// EndAtBad makes reads after a bad verdict fail with ErrRefused instead of
// waiting for more bytes. An engine stricter than the guard may otherwise
// sit waiting for the end of a head it cannot parse (fasthttp with a bare
// LF head) while the guard already knows the answer; with the stream ended
// it reports a parse error, and the edge answers with the verdict. Call it
// before the first Read.
func (c *Conn) EndAtBad() { c.endAtBad = true }

// NewConn starts guarding c. maxHead bounds one request head (request line
// and headers) in bytes; a longer one gets a 431 verdict. maxHead <= 0 means
// DefaultMaxHead.
func NewConn(c net.Conn, maxHead int) *Conn {
	if maxHead <= 0 {
		maxHead = DefaultMaxHead
	}
	g := &Conn{Conn: c}
	g.t.maxHead = maxHead
	g.t.firstBad = -1
	return g
}

// Read passes bytes through unchanged while following the framing.
func (c *Conn) Read(p []byte) (int, error) {
	if c.endAtBad {
		c.mu.Lock()
		bad := c.t.firstBad >= 0
		c.mu.Unlock()
		if bad {
			return 0, ErrRefused
		}
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.t.feed(p[:n])
		c.mu.Unlock()
	}
	return n, err
}

// Verdict returns the decision for the index-th request (0-based) handed to
// the handler on this connection. Requests after the first bad one are bad
// too: framing is lost from there, and the connection must close.
func (c *Conn) Verdict(index int) Verdict {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t.firstBad >= 0 && index >= c.t.firstBad {
		return c.t.bad
	}
	return Verdict{}
}

// TLSState returns the TLS state when the guarded connection is TLS; the
// engine cannot see it through the wrapper, so the handler asks here.
func (c *Conn) TLSState() (*tls.ConnectionState, bool) {
	tc, ok := c.Conn.(*tls.Conn)
	if !ok {
		return nil, false
	}
	st := tc.ConnectionState()
	return &st, true
}

// Listener guards every connection it accepts.
type Listener struct {
	net.Listener
	MaxHead int // head limit per request; <= 0 means DefaultMaxHead
}

// Accept returns the next connection wrapped in a Conn.
func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return NewConn(c, l.MaxHead), nil
}
