package main

import (
	"net"
	"sync"
)

// joinedListener accepts from two listeners as one: the dev node's HTTP
// and HTTPS ports feed one node. The node's dispatcher tells a TLS
// connection (from tls.NewListener) by its type and hands it on by ALPN.
type joinedListener struct {
	ls    [2]net.Listener
	conns chan net.Conn
	errs  chan error
	done  chan struct{}
	once  sync.Once
}

func joinListeners(a, b net.Listener) net.Listener {
	j := &joinedListener{ls: [2]net.Listener{a, b}, conns: make(chan net.Conn), errs: make(chan error, 2), done: make(chan struct{})}
	go j.pump(a)
	go j.pump(b)
	return j
}

func (j *joinedListener) pump(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			j.errs <- err
			return
		}
		select {
		case j.conns <- c:
		case <-j.done:
			c.Close()
			return
		}
	}
}

func (j *joinedListener) Accept() (net.Conn, error) {
	select {
	case c := <-j.conns:
		return c, nil
	case err := <-j.errs:
		return nil, err
	case <-j.done:
		return nil, net.ErrClosed
	}
}

// Close closes both listeners.
func (j *joinedListener) Close() error {
	j.once.Do(func() { close(j.done) })
	err := j.ls[0].Close()
	if err2 := j.ls[1].Close(); err == nil {
		err = err2
	}
	return err
}

// Addr is the first listener's (the HTTP port).
func (j *joinedListener) Addr() net.Addr { return j.ls[0].Addr() }
