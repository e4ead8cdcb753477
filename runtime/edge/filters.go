package edge

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/sluicegw/sluice/runtime/filter"
	"github.com/sluicegw/sluice/runtime/httperr"
)

// routeFilter is one filter of a route's chain, resolved at snapshot build.
type routeFilter struct {
	name     string
	module   *filter.Module
	failOpen bool
	wait     time.Duration // the longest a request waits for an instance: the route's timeout
}

// filterRun is one request's pass through a route's filter chain. An
// instance that lets the request go on is pinned until the response phase
// (it is single-threaded and may keep per-request state in its memory),
// unless its guest declared itself stateless (filter.FeatureStateless):
// that instance goes back to its pool at once, and the response phase runs
// on any instance of the filter, with the reqCtx the guest returned.
type filterRun struct {
	// ctx is the request's context without its cancellation: the response
	// phase must run even when the client is gone, since guests free their
	// per-request state in handle_response. Each call is still bounded by
	// the filter's own timeout.
	ctx      context.Context
	x        *filter.Exchange
	pinned   []pinnedFilter // the filters that let the request go on, in request order
	answered bool           // a filter answered the request itself
	log      *slog.Logger
	// spanParent carries the span of the stage running the filters when
	// the request is recorded (each phase of each filter is a child of it);
	// nil otherwise.
	spanParent context.Context
}

// filterRunMeta is what a filter run takes from its request beyond the
// request itself.
type filterRunMeta struct {
	rid        string          // the request id, for the guests' log lines
	spanParent context.Context // see filterRun.spanParent
}

type pinnedFilter struct {
	f *routeFilter
	// inst is a pinned filter's instance, nil once released; always nil
	// for an unpinned one, whose pending request takes an instance only
	// for handle_response.
	inst     *filter.Instance
	pending  filter.Pending
	features filter.Features // in effect for the request (buffer_response)
	owed     bool            // handle_response has yet to run
	// streaming: the response body streams through the filter's guest,
	// which holds inst until the body ends (filterbody.go).
	streaming bool
}

// stageRequestFilters runs the request phase of the route's filters. A
// filter that answers ends the pipeline: the filters before it see the
// answer in their response phase.
func stageRequestFilters(x *Exchange) error {
	run, err := runRequestFilters(x.R.Context(), x.route.filters, x.W, x.R, x.node.log, filterRunMeta{x.rid, x.stageCtx})
	x.filters = run
	x.onDone(run.release)
	if err != nil {
		return err
	}
	if run.answered {
		run.x.Resp.Buffered = true // the answer is whole: no body streams
		if err := run.runResponseFilters(false); err != nil {
			return err
		}
		writeFilterResponse(x.W, run.x.Resp)
		return errAnswered
	}
	return nil
}

// runRequestFilters runs the request phase of chain in order. It stops at
// the first filter that answers (next=0); handle_response is then called
// only for the filters before it, as the http-wasm ABI says.
func runRequestFilters(ctx context.Context, chain []routeFilter, w http.ResponseWriter, r *http.Request, log *slog.Logger, meta filterRunMeta) (*filterRun, error) {
	run := &filterRun{ctx: context.WithoutCancel(ctx), x: filter.NewExchange(r), pinned: make([]pinnedFilter, 0, len(chain)), log: log,
		spanParent: meta.spanParent}
	run.x.SetReadDeadline = http.NewResponseController(w).SetReadDeadline
	run.x.RequestID = meta.rid
	// Acquire waits for an instance at a filter's cap until its context is
	// done; the request's context has no deadline here (the route's timeout
	// is applied around the upstream call), so the wait gets one.
	actx, cancel := context.WithTimeout(ctx, chain[0].wait)
	defer cancel()
	for i := range chain {
		f := &chain[i]
		span := run.startFilterSpan(f, "request")
		inst, err := f.module.Acquire(actx)
		if err != nil {
			if run.skip(f, "acquire", err) {
				endFilterSpan(span, filterSkipped, err)
				continue
			}
			endFilterSpan(span, filterFailed, err)
			return run, filterFailure(f.name, err)
		}
		var saved savedExchange
		if f.failOpen {
			saved = save(run.x)
		}
		next, err := inst.HandleRequest(ctx, run.x)
		if err != nil {
			f.module.Release(inst) // the pool drops a trapped or timed-out instance
			if !errors.Is(err, filter.ErrBodyConsumed) && !errors.Is(err, filter.ErrClientBody) && run.skip(f, "handle_request", err) {
				saved.restore(run.x) // as if the filter had not run
				endFilterSpan(span, filterSkipped, err)
				continue
			}
			endFilterSpan(span, filterFailed, err)
			return run, filterFailure(f.name, err)
		}
		if !next {
			f.module.Release(inst)
			run.answered = true
			endFilterSpan(span, filterAnswered, nil)
			return run, nil
		}
		endFilterSpan(span, filterNext, nil)
		p := pinnedFilter{f: f, inst: inst, features: inst.Features(), owed: true}
		if !f.module.Pinned() {
			// Not held across the upstream's answer: the instance serves
			// other requests meanwhile, so a stateless filter needs about
			// as many instances as cores, not as requests in flight.
			if p.pending, err = inst.Detach(); err != nil { // cannot fail for an unpinned module
				f.module.Release(inst)
				return run, filterFailure(f.name, err)
			}
			f.module.Release(inst)
			p.inst = nil
		}
		run.pinned = append(run.pinned, p)
	}
	return run, nil
}

// skip logs a failed filter and reports whether the chain goes on without
// it (on_error: fail_open).
func (run *filterRun) skip(f *routeFilter, op string, err error) bool {
	if errors.Is(err, context.Canceled) {
		// The client left before the filter ran: nothing failed.
		run.log.Debug("filter not run: the client went away", "filter", f.name, "phase", op)
		return false
	}
	if f.failOpen {
		run.log.Warn("filter failed; skipped (fail_open)", "filter", f.name, "phase", op, "error", err.Error())
		return true
	}
	run.log.Error("filter failed; request refused (fail_closed)", "filter", f.name, "phase", op, "error", err.Error())
	return false
}

// buffersResponse reports whether a filter awaiting its response phase
// asked to see the response body; the upstream response is then buffered
// instead of streamed.
func (run *filterRun) buffersResponse() bool {
	for _, p := range run.pinned {
		if p.features.Has(filter.FeatureBufferResponse) {
			return true
		}
	}
	return false
}

// runResponseFilters runs the response phase in reverse order, releasing
// each instance as soon as it is done. When a fail_closed filter fails, the
// filters before it still get their handle_response, with isError set, and
// the first failure is the answer. An unpinned filter first takes an
// instance, waiting at its cap as in the request phase; a wait that ends
// at the route's timeout fails that filter like any failure of its
// handle_response.
func (run *filterRun) runResponseFilters(isError bool) error {
	var first error
	for i := len(run.pinned) - 1; i >= 0; i-- {
		p := &run.pinned[i]
		if !p.owed {
			continue
		}
		p.owed = false
		span := run.startFilterSpan(p.f, "response")
		inst, err := run.responseInstance(p)
		if err != nil {
			if run.skip(p.f, "handle_response", err) {
				endFilterSpan(span, filterSkipped, err)
				continue
			}
			endFilterSpan(span, filterFailed, err)
			if first == nil {
				first = filterFailure(p.f.name, err)
			}
			continue
		}
		var saved savedExchange
		if p.f.failOpen {
			saved = save(run.x)
		}
		err = inst.HandleResponse(run.ctx, run.x, isError || first != nil)
		if err == nil && inst.ResponseBodyPending() {
			// Held for the body's chunks (filterbody.go).
			p.inst, p.streaming = inst, true
		} else {
			p.f.module.Release(inst)
			p.inst = nil
		}
		switch {
		case err == nil:
			endFilterSpan(span, filterDone, nil)
		case run.skip(p.f, "handle_response", err):
			saved.restore(run.x)
			endFilterSpan(span, filterSkipped, err)
		default:
			endFilterSpan(span, filterFailed, err)
			if first == nil {
				first = filterFailure(p.f.name, err)
			}
		}
	}
	return first
}

// responseInstance is the instance p's handle_response runs on: its pinned
// one, or for an unpinned filter any, resumed with the request's pending
// state. The wait for one is bounded by the route's timeout from now, on
// the request's uncancelled context: the phase runs even when the client
// left, as for a pinned filter.
func (run *filterRun) responseInstance(p *pinnedFilter) (*filter.Instance, error) {
	if p.inst != nil {
		return p.inst, nil
	}
	ctx, cancel := context.WithTimeout(run.ctx, p.f.wait)
	defer cancel()
	inst, err := p.f.module.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	if err := inst.Resume(p.pending, run.x); err != nil {
		p.f.module.Release(inst)
		return nil, err
	}
	return inst, nil
}

// release ends the response phase of filters still owed one, pinned or
// not, with isError set (the request failed before it: a later filter
// refused it or failed, or nothing answered), and returns their instances. The http-wasm ABI calls
// handle_response after every handle_request that returned next=1.
func (run *filterRun) release() {
	if run == nil {
		return
	}
	run.endResponseBodies()
	for i := range run.pinned {
		if run.pinned[i].owed {
			_ = run.runResponseFilters(true)
			return
		}
	}
}

// filterFailure maps a filter error to the client's status. The detail
// (trap message, guest log) stays in the node's log.
func filterFailure(name string, err error) error {
	if errors.Is(err, filter.ErrClientBody) {
		// The connection's request body is unusable: close it after the
		// answer (net/http would otherwise read the rest of the body first,
		// waiting on the very client that is too slow).
		e := &httperr.Error{Status: http.StatusBadRequest, Reason: "malformed request body", Err: err,
			Header: http.Header{"Connection": {"close"}}}
		switch {
		case errors.Is(err, filter.ErrTooLarge):
			e.Status, e.Reason = http.StatusRequestEntityTooLarge, "request body too large for filter "+strconv.Quote(name)
		case errors.Is(err, os.ErrDeadlineExceeded):
			e.Status, e.Reason = http.StatusRequestTimeout, "request body too slow"
		case errors.Is(err, context.Canceled):
			e = httperr.ClientClosed(err)
		}
		return e
	}
	if errors.Is(err, context.Canceled) {
		return httperr.ClientClosed(err)
	}
	if errors.Is(err, filter.ErrBusy) {
		return &httperr.Error{Status: http.StatusServiceUnavailable, Reason: "filter " + strconv.Quote(name) + " is at capacity", Err: err,
			Header: http.Header{"Retry-After": {"1"}}}
	}
	return httperr.Wrap(http.StatusInternalServerError, "filter "+strconv.Quote(name)+" failed", err)
}

// requestBodyFailure is the answer when reading the request body for the
// upstream failed with berr. A proxy-wasm filter sees the body as the
// upstream's transport reads it (filter/proxywasm_reqbody.go), so the read
// fails when its body callback fails (a filter failure's status: 500,
// 413 for a body it held past its limit) or answers (its local response,
// if the upstream's has not begun); otherwise the client's body was
// malformed or cut short: 400.
func (x *Exchange) requestBodyFailure(berr error) error {
	var se *filter.StreamError
	switch {
	case !errors.As(berr, &se):
		return httperr.Wrap(http.StatusBadRequest, "malformed request body", berr)
	case se.Answer == nil:
		return filterFailure(se.Filter, se.Err)
	case x.rec.wroteHeader:
		return httperr.Wrap(http.StatusBadGateway, "filter "+strconv.Quote(se.Filter)+" answered after the response began", berr)
	}
	writeFilterResponse(x.W, se.Answer)
	return errAnswered
}

// writeFilterResponse sends the response a filter chain built.
func writeFilterResponse(w http.ResponseWriter, resp *filter.Response) {
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = vs
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	h.Del("Transfer-Encoding")
	if len(resp.Trailer) > 0 {
		writeTrailers(w, resp.Trailer)
	} else {
		h.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	}
	w.WriteHeader(status)
	if len(resp.Body) > 0 {
		_, _ = w.Write(resp.Body)
	}
}

// savedExchange is what a fail_open filter may change before it fails, kept
// so that the chain goes on as if the filter had not run. (The request body
// is the instance's to restore: see filter.ErrBodyConsumed.)
type savedExchange struct {
	ok          bool
	method      string
	url         url.URL
	host        string
	header      http.Header
	status      int
	respHeader  http.Header
	respBody    []byte
	bodyWritten bool
}

func save(x *filter.Exchange) savedExchange {
	return savedExchange{
		ok:          true,
		method:      x.Req.Method,
		url:         *x.Req.URL,
		host:        x.Req.Host,
		header:      x.Req.Header.Clone(),
		status:      x.Resp.Status,
		respHeader:  x.Resp.Header.Clone(),
		respBody:    x.Resp.Body, // write_body replaces the slice, never writes into it
		bodyWritten: x.Resp.BodyWritten,
	}
}

func (s *savedExchange) restore(x *filter.Exchange) {
	if !s.ok {
		return
	}
	x.Req.Method, x.Req.Host = s.method, s.host
	*x.Req.URL = s.url
	// In place: the maps may be the ones net/http will write (the response
	// writer's headers, in the streamed response phase).
	replaceHeader(x.Req.Header, s.header)
	replaceHeader(x.Resp.Header, s.respHeader)
	x.Resp.Status = s.status
	x.Resp.Body, x.Resp.BodyWritten = s.respBody, s.bodyWritten
}

func replaceHeader(dst, src http.Header) {
	clear(dst)
	for k, v := range src {
		dst[k] = v
	}
}
