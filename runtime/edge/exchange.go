package edge

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/sluicegw/sluice/runtime/auth"
	"github.com/sluicegw/sluice/runtime/httperr"
	"github.com/sluicegw/sluice/runtime/route"
	"github.com/sluicegw/sluice/runtime/tracing"
)

// Exchange is one request on its way through the pipeline: the request
// view and response writer both engines fill (net/http's types, which the
// policy input, the filter host and every stage already read), and what the
// stages learn about it as they go. A stage reads and changes it; nothing
// keeps it after the request (it is pooled).
type Exchange struct {
	node  *Node
	W     http.ResponseWriter // the response; a stage may wrap it (compression)
	R     *http.Request
	rec   recorder // what the access log and metrics see of the response
	start time.Time
	rid   string // request id, also sent upstream and to the client
	// decisionID names the access decision of a route with a policy
	// (DecisionHeader); "" otherwise.
	decisionID string

	snap    *Snapshot
	matched *route.Route   // what the router matched (its rewrite)
	route   *compiledRoute // the same route as the snapshot compiled it
	// upgrade is the protocol the client asked to switch to, classified
	// once (httpguard.UpgradeOf); "" for every other request, whose stray
	// Upgrade header is then dropped.
	upgrade  string
	guard    guardCheck
	identity *auth.Identity // who authenticated; nil without auth
	filters  *filterRun     // the route's request-phase filters; nil without
	body     *bodyWatch     // the client's request body, watched for errors

	// span is the request's server span while it is being recorded
	// (trace.go); stageSpan the running stage's. nil otherwise.
	span      trace.Span
	stageSpan trace.Span
	stageCtx  context.Context // carries stageSpan: the parent of a stage's own children
	tracer    *tracing.Tracer

	logPath  string // the path as the client sent it, for the access log
	upstream string // the pool that answered, for the access log
	log      logFields

	cleanups []func() // run in reverse order when the request ends

	// stream is the response body when the engine copies it after the
	// handler returned (fasthttp): the request is logged when it ends.
	stream streamedBody
}

// stage is one step of a route's pipeline. It returns nil to go on,
// errAnswered when it wrote the whole response itself, or an error whose
// *httperr.Error status is the answer.
type stage func(*Exchange) error

// errAnswered stops the pipeline without an error: the stage answered.
var errAnswered = errors.New("answered")

var exchanges = sync.Pool{New: func() any { return new(Exchange) }}

func getExchange(n *Node, w http.ResponseWriter, r *http.Request) *Exchange {
	x := exchanges.Get().(*Exchange)
	x.node, x.R, x.start = n, r, time.Now()
	x.stream.x = x
	x.rec = recorder{ResponseWriter: w, status: http.StatusOK, stream: &x.stream}
	x.W = &x.rec
	x.logPath = r.URL.Path
	return x
}

func (x *Exchange) release() {
	cleanups := x.cleanups[:0]
	*x = Exchange{cleanups: cleanups}
	exchanges.Put(x)
}

// onDone registers f to run when the request ends, before it is logged;
// the last registered runs first.
func (x *Exchange) onDone(f func()) { x.cleanups = append(x.cleanups, f) }

// run passes x through stages in order until one answers or fails.
func (x *Exchange) run(stages []stage) error {
	if x.span != nil {
		for i, s := range stages {
			if err := x.runTraced(i, s); err != nil {
				return err
			}
		}
		return nil
	}
	for _, s := range stages {
		if err := s(x); err != nil {
			return err
		}
	}
	return nil
}

// finish answers a failed request. It is the pipeline's one failure exit:
// the error's status and reason go to the client unless the client left
// (499, logged only) or the response has already begun; a 400 then cuts
// the connection, since its framing can no longer be trusted, and so does
// a responseCut, whose body is incomplete.
func (x *Exchange) finish(err error) {
	if err == nil || err == errAnswered {
		return
	}
	x.rec.err = err
	status := httperr.StatusOf(err)
	if status == httperr.StatusClientClosedRequest {
		x.rec.status = httperr.StatusClientClosedRequest // nobody is left to answer
		return
	}
	if x.rec.wroteHeader {
		var cut responseCut
		if status == http.StatusBadRequest || errors.As(err, &cut) {
			panic(http.ErrAbortHandler)
		}
		return
	}
	if status == http.StatusBadRequest {
		x.W.Header().Set("Connection", "close")
	}
	x.writeError(x.W, err)
}

// responseCut is a failure after the response's headers were sent that
// leaves its body incomplete (a streaming guest failed): finish cuts the
// connection or stream, so the client cannot take the body for a whole one.
type responseCut struct{ error }

func (c responseCut) Unwrap() error { return c.error }

// writeError answers err on w, which writes to the client through x.rec:
// as the JSON error body, or, for a gRPC call, as a gRPC status its client
// can read (a trailers-only response, 200 on the wire). Either way the
// access log and the metrics count it by its HTTP status, so a denied or
// failed call is never a 200 there.
func (x *Exchange) writeError(w http.ResponseWriter, err error) {
	if !httperr.IsGRPC(x.R) {
		httperr.WriteError(w, err, x.rid)
		return
	}
	httperr.WriteGRPCError(w, err, x.rid)
	x.rec.status = httperr.StatusOf(err)
}

// end ends the request when the handler returns: its cleanups, and its
// metrics and access log line, then the exchange goes back to the pool.
// A response body the engine copies after the handler (fasthttp) delays
// the metrics, the log line and the release to the end of the body, so
// they count all of it, and its time, as they do on net/http.
func (x *Exchange) end() {
	for i := len(x.cleanups) - 1; i >= 0; i-- {
		x.cleanups[i]()
	}
	if x.snap != nil {
		x.snap.release()
	}
	routeName := ""
	if x.route != nil {
		routeName = x.route.name
	}
	r := x.R
	x.log = logFields{route: routeName, upstream: x.upstream, path: x.logPath, requestID: x.rid, decisionID: x.decisionID,
		method: r.Method, host: r.Host, proto: r.Proto, remote: r.RemoteAddr}
	if x.rec.handed && x.stream.endLater() {
		return // streamedBody.Close records and releases x
	}
	x.record()
}

// record writes the request to the metrics and the access log, and
// releases the exchange.
func (x *Exchange) record() {
	x.endTrace(x.log.route)
	n := x.node
	elapsed := time.Since(x.start)
	if x.rec.handed {
		x.rec.bytes += x.stream.n
		if x.rec.err == nil {
			x.rec.err = x.stream.err
		}
	}
	x.log.status, x.log.grpcStatus = servedStatus(&x.rec, x.log.proto)
	n.metrics.observe(x.log.route, x.log.status, elapsed)
	if n.opts.AccessLog != nil {
		n.accessLog(&x.rec, x.log, elapsed)
	}
	x.release()
}

// streamedBody is a response body handed to the engine, which copies it
// after the handler returned (fasthttp). It counts what was read of it;
// its end records the exchange.
type streamedBody struct {
	io.ReadCloser
	x   *Exchange
	n   int64 // bytes read
	err error // why reading it failed
	mu  sync.Mutex
	// closed is set when the body ended; waiting when the handler
	// returned before it did, leaving the record to Close.
	closed, waiting bool
}

func (b *streamedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

func (b *streamedBody) Close() error {
	b.mu.Lock()
	if b.closed || b.ReadCloser == nil {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	waiting, rc := b.waiting, b.ReadCloser
	b.mu.Unlock()
	err := rc.Close()
	if waiting {
		b.x.record()
	}
	return err
}

// endLater reports whether the body is still being copied: Close then
// records the exchange. It reports false when the body already ended.
func (b *streamedBody) endLater() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.waiting = true
	return true
}
