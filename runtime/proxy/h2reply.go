package proxy

import (
	"net"
	"strings"
	"sync"

	"golang.org/x/net/http2"
)

// h2Client is a pool's HTTP/2 client and, for h2c, what the newest
// connection to each endpoint answered first.
type h2Client struct {
	*http2.Transport
	replies *firstReplies // nil for h2, where ALPN already tells
}

// answeredHTTP1 reports whether the newest h2c connection to host opened
// with an HTTP/1.1 reply. x/net's client names that reply in its error only
// when the request already had a stream on the connection; a request that
// raced the connection's end gets "client conn could not be established",
// which says nothing, so the pool asks here.
func (c *h2Client) answeredHTTP1(host string) bool {
	if c.replies == nil {
		return false
	}
	v, ok := c.replies.m.Load(dialAddr(host))
	return ok && v.(bool)
}

// firstReplies records, per dialed address, whether the newest connection
// opened with "HTTP/1.": x/net reads it before the request learns its
// connection failed, so the record is there when the request asks.
type firstReplies struct{ m sync.Map } // address -> bool

func (f *firstReplies) watch(c net.Conn, addr string) net.Conn {
	return &firstReplyConn{Conn: c, addr: addr, replies: f}
}

// http1Reply is how every HTTP/1.x response starts.
const http1Reply = "HTTP/1."

// firstReplyConn looks at the first bytes an h2c upstream sends: an HTTP/2
// server sends a SETTINGS frame, an HTTP/1.1 server a status line. Reads
// come from x/net's one read loop per connection.
type firstReplyConn struct {
	net.Conn
	addr    string
	replies *firstReplies
	head    []byte
	judged  bool
}

func (c *firstReplyConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.judged && n > 0 {
		c.head = append(c.head, p[:min(n, len(http1Reply)-len(c.head))]...)
		if len(c.head) == len(http1Reply) {
			c.judged = true
			c.replies.m.Store(c.addr, string(c.head) == http1Reply)
			c.head = nil
		}
	}
	return n, err
}

// dialAddr is the address x/net's client dials for an http:// endpoint's
// host: host:port, port 80 when the URL names none.
func dialAddr(host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), "80")
}
