package edge

import (
	"context"
	"net"
	"net/http"
	"sync"

	"golang.org/x/net/http2"

	"github.com/sluicegw/sluice/runtime/h2guard"
)

// h2Server serves the HTTP/2 connections the dispatcher classified (TLS
// with ALPN h2, or h2c by prior knowledge) with golang.org/x/net/http2,
// one goroutine per connection. x/net/http2 checks what RFC 9113 asks of
// the connection preface, which net/http's prior-knowledge path did not;
// runtime/h2guard, under it, makes the two answers x/net gets wrong what
// the RFC asks (a malformed request is a stream error, not a 400; repeated
// settings apply in order). h2spec: 145/145 (TestH2Spec; RATIONALE.md
// "HTTP engine" and "h2spec").
type h2Server struct {
	srv    *http2.Server
	base   *http.Server // its Shutdown sends GOAWAY on every connection
	n      *Node
	limits h2guard.Limits

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// h2MaxFrameSize is RFC 9113's initial SETTINGS_MAX_FRAME_SIZE,
// advertised as is: a larger frame from a client is then the
// FRAME_SIZE_ERROR h2spec expects, and no client needs more for a request
// head.
const h2MaxFrameSize = 16 << 10

// h2HeaderTableSize is the HPACK table size of the server's decoder (the
// RFC's default), which the guard's decoder must share.
const h2HeaderTableSize = 4 << 10

func newH2Server(n *Node, base *http.Server) (*h2Server, error) {
	s := &h2Server{
		srv: &http2.Server{
			IdleTimeout:               n.opts.IdleTimeout,
			MaxReadFrameSize:          h2MaxFrameSize,
			MaxDecoderHeaderTableSize: h2HeaderTableSize,
		},
		base: base,
		n:    n,
		limits: h2guard.Limits{
			MaxFrameSize:    h2MaxFrameSize,
			HeaderTableSize: h2HeaderTableSize,
			// x/net bounds a name or value by its header list size,
			// MaxHeaderBytes plus 320 bytes: the guard's bound is above.
			MaxHeaderString: 2 * base.MaxHeaderBytes,
		},
		conns: map[net.Conn]struct{}{},
	}
	if err := http2.ConfigureServer(base, s.srv); err != nil {
		return nil, err
	}
	return s, nil
}

// serve takes connections from q until it closes.
func (s *h2Server) serve(q *connQueue) error {
	for {
		c, err := q.Accept()
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serveConn(c)
	}
}

func (s *h2Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	s.n.connOpened()
	defer func() {
		s.n.connClosed()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	ctx := context.WithValue(context.Background(), connStateKey, &connInfo{guard: guardOf(c)})
	s.srv.ServeConn(h2guard.NewConn(c, s.limits), &http2.ServeConnOpts{Context: ctx, BaseConfig: s.base, Handler: s.n})
}

// wait waits for the connections to finish (the base server's Shutdown
// has sent them GOAWAY) until ctx ends, then closes what is left.
func (s *h2Server) wait(ctx context.Context) {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	<-done
}
