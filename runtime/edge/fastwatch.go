package edge

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicegw/sluice/runtime/httpguard"
)

// Watching for the client leaving, on the fasthttp engine.
//
// net/http reads a connection in the background while its handler runs and
// cancels the request's context when the client hangs up, which cancels the
// upstream request and logs a 499. fasthttp does not read a connection
// until its handler returns. So the engine does that read itself, but only
// for requests still running clientWatchGrace after their body was read
// (or after they began, without a body): a fast request pays for arming and
// stopping a timer, never for a goroutine.
//
// The watch reads one byte from the connection, below fasthttp's buffered
// reader. An end or a failure means the client is gone: the connection's
// context (every request's context on it) is canceled. A byte that arrives
// is the start of a pipelined request: it is kept, and fastConn.Read gives
// it to fasthttp first. Before the handler returns, the watch is stopped
// with a read deadline in the past, and waited for.

// clientWatchGrace is how long a request runs, after its body was read,
// before the engine starts watching its connection.
const clientWatchGrace = 50 * time.Millisecond

// errClientGone is the cause of a connection context canceled because the
// client closed or reset the connection.
var errClientGone = errors.New("client closed the connection")

// clientWatches counts what the watches saw, for tests.
var clientWatches struct {
	started, held, gone atomic.Int64
}

// watch states of a fastConn, per request.
const (
	watchOff      = iota // no request, or the request ended: nothing starts
	watchIdle            // the request runs; its body is still being read
	watchArmed           // the timer runs
	watchReading         // a goroutine reads the connection
	watchStopping        // the handler returns; the read is being ended
)

// clientWatch is a fastConn's watch. One request at a time runs on a
// connection, so one watch serves all of them in turn.
type clientWatch struct {
	mu    sync.Mutex
	state int
	timer *time.Timer
	done  chan struct{} // closed when the read returned
	// held is a byte the watch read: the start of the next request.
	held    [1]byte
	hasHeld bool
	// gone is set when the watch saw the client leave.
	gone bool
}

// beginWatch starts a request: a watch may be armed from now until
// stopWatch. A request without a body arms it at once.
func (fc *fastConn) beginWatch(arm bool) {
	w := &fc.watch
	w.mu.Lock()
	w.state = watchIdle
	if arm {
		w.armLocked(fc)
	}
	w.mu.Unlock()
}

// armWatch starts the grace timer once the request's body was read. It
// may be called from any goroutine, several times; only the first call
// of a request counts.
func (fc *fastConn) armWatch() {
	w := &fc.watch
	w.mu.Lock()
	w.armLocked(fc)
	w.mu.Unlock()
}

func (w *clientWatch) armLocked(fc *fastConn) {
	if w.state != watchIdle {
		return
	}
	w.state = watchArmed
	if w.timer == nil {
		w.timer = time.AfterFunc(clientWatchGrace, fc.watchConn)
	} else {
		w.timer.Reset(clientWatchGrace)
	}
}

// watchConn runs on the timer's goroutine: it reads one byte from the
// connection unless the request ended first.
func (fc *fastConn) watchConn() {
	w := &fc.watch
	w.mu.Lock()
	if w.state != watchArmed {
		// The request ended, or this is a timer the request's stop could
		// no longer stop: nothing to watch.
		w.mu.Unlock()
		return
	}
	w.state = watchReading
	done := make(chan struct{})
	w.done = done
	w.mu.Unlock()
	clientWatches.started.Add(1)

	var b [1]byte
	n, err := fc.Conn.Read(b[:])

	w.mu.Lock()
	stopping := w.state == watchStopping
	if n == 1 {
		w.held[0], w.hasHeld = b[0], true
		clientWatches.held.Add(1)
	}
	w.mu.Unlock()
	if n == 0 && err != nil && !stopping && clientLeft(err) {
		clientWatches.gone.Add(1)
		w.mu.Lock()
		w.gone = true
		w.mu.Unlock()
		fc.cancel(errClientGone)
	}
	close(done)
}

// clientLeft tells a departed client from the reasons a read stops that
// are not the client's doing: a deadline (the watch's own stop, or one a
// filter set for the body) or the guard ending a connection it refused.
func clientLeft(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return !errors.Is(err, httpguard.ErrRefused)
}

// stopWatch ends the request's watch before the handler returns, so that
// fasthttp alone reads the connection again.
func (fc *fastConn) stopWatch() {
	w := &fc.watch
	w.mu.Lock()
	switch w.state {
	case watchArmed:
		// If the timer fired already, its watchConn finds the state off
		// and returns without reading.
		w.timer.Stop()
	case watchReading:
		w.state = watchStopping
		done := w.done
		w.mu.Unlock()
		_ = fc.Conn.SetReadDeadline(time.Unix(1, 0))
		<-done
		_ = fc.Conn.SetReadDeadline(time.Time{})
		w.mu.Lock()
	}
	w.state = watchOff
	w.done = nil
	w.mu.Unlock()
}

// Read gives fasthttp the byte a watch read first.
func (fc *fastConn) Read(p []byte) (int, error) {
	if fc.watch.hasHeld && len(p) > 0 {
		// Written by the watch before stopWatch returned, on the
		// goroutine that reads now: no lock needed.
		fc.watch.hasHeld = false
		p[0] = fc.watch.held[0]
		return 1, nil
	}
	return fc.Conn.Read(p)
}

// Close cancels the context of the requests on the connection.
func (fc *fastConn) Close() error {
	fc.cancel(net.ErrClosed)
	return fc.Conn.Close()
}

// fastBody is a streamed request body that arms the client watch when it
// was read to its end.
type fastBody struct {
	r     io.Reader
	fc    *fastConn
	left  int64 // bytes still to come; -1 for a chunked body
	armed bool
}

func (b *fastBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.left > 0 {
		b.left -= int64(n)
	}
	if !b.armed && b.fc != nil && (err == io.EOF || b.left == 0) {
		b.armed = true
		b.fc.armWatch()
	}
	return n, err
}

// Close leaves the rest of the body to fasthttp, which discards it.
func (b *fastBody) Close() error { return nil }
