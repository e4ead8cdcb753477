package proxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/sluicegw/sluice/runtime/httperr"
)

// switchProtocols completes an upgrade (WebSocket and the like) the upstream
// accepted with a 101: it takes over the client's connection, sends it the
// 101, then copies bytes both ways until either side closes or the request's
// context ends. HTTP/1 only: HTTP/2 requests never carry an upgrade here.
//
// A writer that sends the 101 itself after the handler returns
// (ProtocolSwitcher) gets the session instead; then the endpoint, the
// upstream connection and cancel are released when the session ends, and
// switchProtocols reports true.
func (p *Pool) switchProtocols(ctx context.Context, cancel context.CancelFunc, w http.ResponseWriter, resp *http.Response, e *endpoint, upgrade string) (handedOff bool, err error) {
	backend, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		resp.Body.Close()
		e.inflight.Add(-1)
		return false, httperr.Wrap(http.StatusBadGateway, reasonFailed,
			fmt.Errorf("upstream %q: endpoint %s: 101 response without a writable connection", p.name, e.raw))
	}
	got := resp.Header.Get("Upgrade")
	if !strings.EqualFold(got, upgrade) {
		backend.Close()
		e.inflight.Add(-1)
		return false, httperr.Wrap(http.StatusBadGateway, reasonFailed,
			fmt.Errorf("upstream %q: endpoint %s: switched to %q, the client asked for %q", p.name, e.raw, got, upgrade))
	}

	// The 101 as the upstream sent it, minus hop-by-hop headers, plus what
	// earlier stages set on the response.
	h := w.Header()
	removeHopByHop(resp.Header)
	copyResponseHeader(h, resp.Header)
	h["Connection"] = upgradeVal
	h["Upgrade"] = []string{got}
	addVia(h)

	if sw, ok := w.(ProtocolSwitcher); ok && sw.SwitchProtocols(func(client net.Conn) {
		defer cancel()
		defer e.inflight.Add(-1)
		defer backend.Close()
		if client != nil {
			splice(client, backend, nil)
		}
	}) {
		return true, nil
	}
	defer e.inflight.Add(-1)
	defer backend.Close()
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false, httperr.Wrap(http.StatusInternalServerError, "cannot switch protocols",
			fmt.Errorf("upstream %q: hijack client connection for %s upgrade: %w", p.name, upgrade, err))
	}
	defer conn.Close()

	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	_ = h.Write(brw)
	_, _ = brw.WriteString("\r\n")
	if err := brw.Flush(); err != nil {
		return false, nil // the client is gone; the 101 was as far as we got
	}
	// Bytes the client sent right after its request sit in the server's
	// buffer; they go first.
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		if _, err := backend.Write(b); err != nil {
			return false, nil
		}
	}
	splice(conn, backend, ctx.Done())
	return false, nil
}

// splice copies bytes both ways between the client and the upstream until
// either side closes or stop is closed; then it closes both and waits for
// both copies, so no goroutine outlives it.
func splice(conn net.Conn, backend io.ReadWriteCloser, stop <-chan struct{}) {
	done := make(chan struct{}, 2)
	go pipe(backend, conn, done)
	go pipe(conn, backend, done)
	waiting := 2
	select {
	case <-done:
		waiting--
	case <-stop:
	}
	// Either side closing ends the session: closing both unblocks the
	// other copy, which is waited for so no goroutine outlives the call.
	conn.Close()
	backend.Close()
	for ; waiting > 0; waiting-- {
		<-done
	}
}

// pipe copies src to dst with a pooled buffer and reports when it stops.
func pipe(dst io.Writer, src io.Reader, done chan<- struct{}) {
	bp := copyBufs.Get().(*[]byte)
	_, _ = io.CopyBuffer(dst, src, *bp)
	copyBufs.Put(bp)
	done <- struct{}{}
}
