package edge

import (
	"context"
	"net"
	"net/http"
	"sync"

	"golang.org/x/net/http2"
)

// h2Server serves the HTTP/2 connections the dispatcher classified (TLS
// with ALPN h2, or h2c by prior knowledge) with golang.org/x/net/http2,
// one goroutine per connection. x/net/http2 checks what RFC 9113 asks of a
// request (no connection-specific fields, TE only "trailers": an
// HTTP/2-to-HTTP/1.1 smuggling vector otherwise) and of the connection
// preface, which net/http's prior-knowledge path did not (h2spec: 140/145
// before, RATIONALE.md "HTTP engine").
type h2Server struct {
	srv  *http2.Server
	base *http.Server // its Shutdown sends GOAWAY on every connection
	n    *Node

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func newH2Server(n *Node, base *http.Server) (*h2Server, error) {
	s := &h2Server{
		srv: &http2.Server{
			IdleTimeout: n.opts.IdleTimeout,
			// RFC 9113's initial value, advertised as is: a larger frame
			// from a client is then the FRAME_SIZE_ERROR h2spec expects,
			// and no client needs more for a request head.
			MaxReadFrameSize: 16 << 10,
		},
		base:  base,
		n:     n,
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
	s.srv.ServeConn(c, &http2.ServeConnOpts{Context: ctx, BaseConfig: s.base, Handler: s.n})
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
