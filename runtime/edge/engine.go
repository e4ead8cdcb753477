package edge

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/sluicegw/sluice/runtime/httpguard"
)

// Engine names what serves HTTP/1.1 on the data listener. HTTP/2 (TLS ALPN
// h2 and h2c by prior knowledge) is always net/http's, on the same port.
type Engine string

const (
	// EngineFast serves HTTP/1.1 with github.com/valyala/fasthttp: one
	// goroutine and one reused request context per connection, no
	// background read. The default (RATIONALE.md, "The HTTP/1.1 engine").
	EngineFast Engine = "fasthttp"
	// EngineNetHTTP serves HTTP/1.1 with net/http, as release 1 did.
	EngineNetHTTP Engine = "net/http"
)

// ParseEngine accepts the names of Engine.
func ParseEngine(s string) (Engine, error) {
	switch Engine(s) {
	case EngineFast, EngineNetHTTP:
		return Engine(s), nil
	case "":
		return EngineFast, nil
	}
	return "", fmt.Errorf("unknown HTTP/1.1 engine %q (want %s or %s)", s, EngineFast, EngineNetHTTP)
}

// h2Preface is what an HTTP/2 connection starts with (RFC 9113 §3.4).
var h2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

// dispatcher hands each accepted connection to the engine that speaks its
// protocol: TLS connections by their ALPN result, plain ones by whether
// they open with the HTTP/2 preface. Classifying happens on the
// connection's own goroutine, so a slow client never holds up Accept.
type dispatcher struct {
	ln       net.Listener // guarded: every connection is an *httpguard.Conn
	h1, h2   *connQueue
	deadline time.Duration // for the TLS handshake and the first bytes
	log      func(msg string, args ...any)
}

func (d *dispatcher) serve() error {
	for {
		c, err := d.ln.Accept()
		if err != nil {
			d.h1.close(err)
			d.h2.close(err)
			return err
		}
		go d.classify(c)
	}
}

func (d *dispatcher) classify(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(d.deadline))
	if g, ok := c.(*httpguard.Conn); ok {
		if tc, ok := g.Conn.(*tls.Conn); ok {
			if err := tc.Handshake(); err != nil {
				d.log("TLS handshake failed", "remote", c.RemoteAddr().String(), "err", err)
				c.Close()
				return
			}
			_ = c.SetReadDeadline(time.Time{})
			if tc.ConnectionState().NegotiatedProtocol == "h2" {
				d.h2.push(c)
			} else {
				d.h1.push(c)
			}
			return
		}
	}
	head, err := readPrefix(c, h2Preface)
	_ = c.SetReadDeadline(time.Time{})
	if err != nil && len(head) == 0 {
		c.Close() // nothing was said: nobody to answer
		return
	}
	pc := &peekedConn{Conn: c, head: head, err: err}
	if bytes.Equal(head, h2Preface) {
		d.h2.push(pc)
	} else {
		d.h1.push(pc)
	}
}

// readPrefix reads from c until what it read differs from want or equals
// it; it returns what it read.
func readPrefix(c net.Conn, want []byte) ([]byte, error) {
	buf := make([]byte, len(want))
	n := 0
	for n < len(want) {
		m, err := c.Read(buf[n:])
		n += m
		if !bytes.Equal(buf[:n], want[:n]) {
			return buf[:n], nil
		}
		if err != nil {
			return buf[:n], err
		}
	}
	return buf[:n], nil
}

// peekedConn replays the bytes the dispatcher read before the engine reads
// the connection itself, and then the error that ended the peek, if any.
type peekedConn struct {
	net.Conn
	head []byte
	err  error
}

func (p *peekedConn) Read(b []byte) (int, error) {
	if len(p.head) > 0 {
		n := copy(b, p.head)
		p.head = p.head[n:]
		return n, nil
	}
	if p.err != nil {
		err := p.err
		p.err = nil
		if !errors.Is(err, io.EOF) {
			return 0, err
		}
		return 0, io.EOF
	}
	return p.Conn.Read(b)
}

// connQueue is a net.Listener fed by the dispatcher, one per engine.
type connQueue struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	err   error
}

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (q *connQueue) push(c net.Conn) {
	select {
	case q.conns <- c:
	case <-q.done:
		c.Close()
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.conns:
		return c, nil
	case <-q.done:
		return nil, q.err
	}
}

func (q *connQueue) close(err error) {
	q.once.Do(func() {
		if err == nil || errors.Is(err, net.ErrClosed) {
			err = net.ErrClosed
		}
		q.err = err
		close(q.done)
	})
}

// Close stops the queue; the dispatcher's listener is closed by its owner.
func (q *connQueue) Close() error { q.close(nil); return nil }

func (q *connQueue) Addr() net.Addr { return q.addr }
