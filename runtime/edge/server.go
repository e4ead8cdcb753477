package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/sluicegw/sluice/runtime/httpguard"
)

// Listeners are where a node serves. Data is required; TLS, when set, makes
// Data a TLS listener (ALPN h2 and http/1.1); Admin is optional.
type Listeners struct {
	Data  net.Listener
	TLS   *tls.Config
	Admin net.Listener
}

// Run serves until ctx is done, then stops accepting, drains in-flight
// requests up to the shutdown deadline and returns nil. It returns early
// with an error only if a listener fails.
func (n *Node) Run(ctx context.Context, l Listeners) error {
	data := n.dataServer()
	ln := l.Data
	if l.TLS != nil {
		cfg := l.TLS.Clone()
		if len(cfg.NextProtos) == 0 {
			cfg.NextProtos = []string{"h2", "http/1.1"}
		}
		ln = tls.NewListener(ln, cfg)
	}
	// The guard wraps the (decrypted) stream: every engine reads through it.
	ln = httpguard.Listener{Listener: ln, MaxHead: n.opts.MaxHeaderBytes}

	// One port, engines by protocol: the dispatcher sends HTTP/2 (h2c, or
	// TLS with ALPN h2) to x/net/http2 and HTTP/1 to the HTTP/1.1 engine,
	// all behind one guard.
	d := &dispatcher{
		ln: ln, h1: newConnQueue(ln.Addr()), h2: newConnQueue(ln.Addr()),
		deadline: n.opts.ReadHeaderTimeout, log: n.log.Debug,
	}
	h2, err := newH2Server(n, data)
	if err != nil {
		return fmt.Errorf("edge: HTTP/2 server: %w", err)
	}
	errc := make(chan error, 4)
	var fast *fasthttp.Server
	go func() { errc <- d.serve() }()
	go func() { errc <- h2.serve(d.h2) }()
	if n.opts.Engine == EngineNetHTTP {
		go func() { errc <- data.Serve(d.h1) }()
	} else {
		fast = n.fastServer()
		go func() { errc <- fast.Serve(fastListener{d.h1}) }()
	}
	var admin *http.Server
	if l.Admin != nil {
		admin = &http.Server{Handler: n.AdminHandler(), ReadHeaderTimeout: n.opts.ReadHeaderTimeout}
		go func() { errc <- admin.Serve(l.Admin) }()
	}

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			runErr = err
		}
	}
	n.draining.Store(true)
	n.log.Info("draining", "deadline", n.opts.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), n.opts.ShutdownTimeout)
	defer cancel()
	_ = ln.Close() // the dispatcher's; the engines close their queues
	var wg sync.WaitGroup
	if fast != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fast.ShutdownWithContext(sctx); err != nil {
				n.log.Warn("drain deadline passed; closing remaining HTTP/1 connections", "error", err)
			}
		}()
	}
	if err := data.Shutdown(sctx); err != nil {
		n.log.Warn("drain deadline passed; closing remaining connections", "error", err)
		_ = data.Close()
	}
	h2.wait(sctx) // data.Shutdown sent them GOAWAY
	wg.Wait()
	if admin != nil {
		_ = admin.Shutdown(sctx)
	}
	n.Close()
	return runErr
}

func (n *Node) dataServer() *http.Server {
	var protos http.Protocols
	protos.SetHTTP1(true) // HTTP/2 connections never reach it (h2server.go)
	return &http.Server{
		Handler:           n,
		Protocols:         &protos,
		ReadHeaderTimeout: n.opts.ReadHeaderTimeout,
		IdleTimeout:       n.opts.IdleTimeout,
		// The guard answers 431 with a JSON body for heads over the limit;
		// the engine's own limit sits above it as a backstop.
		MaxHeaderBytes: 2 * n.opts.MaxHeaderBytes,
		ConnContext:    connContext,
		ConnState:      n.trackConn,
		ErrorLog:       nil,
	}
}

func (n *Node) trackConn(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		n.connOpened()
	case http.StateClosed, http.StateHijacked:
		n.connClosed()
	}
}

// connOpened and connClosed count the data connections every engine
// serves (sluice_open_connections and the node's status).
func (n *Node) connOpened() {
	n.metrics.openConn.Inc()
	n.metrics.conns.Add(1)
}

func (n *Node) connClosed() {
	n.metrics.openConn.Dec()
	n.metrics.conns.Add(-1)
}
