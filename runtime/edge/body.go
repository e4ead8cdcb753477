package edge

import (
	"errors"
	"io"
	"net/http"
	"sync"
)

// bodyWatch remembers why reading the client's request body failed, so a
// malformed or truncated body is answered 400 (the client's fault) instead
// of the 502 the proxy would report for a failed upstream exchange. A read
// that fails because our side closed the body (a transport giving up on a
// failed upstream exchange) is not the client's fault: not remembered.
type bodyWatch struct {
	io.ReadCloser
	mu     sync.Mutex // the transport reads the body on its own goroutine
	err    error
	closed bool
}

func (b *bodyWatch) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		b.mu.Lock()
		if b.err == nil && !b.closed {
			b.err = err
		}
		b.mu.Unlock()
	}
	return n, err
}

// Close marks the body closed before closing it, so the read it ends is
// known to fail for that reason.
func (b *bodyWatch) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return b.ReadCloser.Close()
}

func (b *bodyWatch) failure() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// watchBody wraps r.Body when there is one; it returns nil otherwise.
func watchBody(r *http.Request) *bodyWatch {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	w := &bodyWatch{ReadCloser: r.Body}
	r.Body = w
	return w
}
