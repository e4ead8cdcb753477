package edge

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/sluicegw/sluice/runtime/filter"
	"github.com/sluicegw/sluice/runtime/httperr"
)

// routeFilter is one filter of a route's chain, resolved at snapshot build.
type routeFilter struct {
	name     string
	module   *filter.Module
	failOpen bool
}

// filterRun is one request's pass through a route's filter chain. Instances
// that let the request go on are pinned until the response phase: an
// instance is single-threaded and keeps per-request state in its memory.
type filterRun struct {
	x        *filter.Exchange
	pinned   []pinnedFilter // in request order
	answered bool           // a filter answered the request itself
	log      *slog.Logger
}

type pinnedFilter struct {
	f    *routeFilter
	inst *filter.Instance // nil once released
}

// runRequestFilters runs the request phase of chain in order. It stops at
// the first filter that answers (next=0); handle_response is then called
// only for the filters before it, as the http-wasm ABI says.
func runRequestFilters(ctx context.Context, chain []routeFilter, r *http.Request, log *slog.Logger) (*filterRun, error) {
	run := &filterRun{x: filter.NewExchange(r), pinned: make([]pinnedFilter, 0, len(chain)), log: log}
	for i := range chain {
		f := &chain[i]
		inst, err := f.module.Acquire(ctx)
		if err != nil {
			if run.skip(f, "acquire", err) {
				continue
			}
			return run, filterFailure(f, err)
		}
		next, err := inst.HandleRequest(ctx, run.x)
		if err != nil {
			f.module.Release(inst) // the pool drops a trapped or timed-out instance
			if run.skip(f, "handle_request", err) {
				continue
			}
			return run, filterFailure(f, err)
		}
		if !next {
			f.module.Release(inst)
			run.answered = true
			return run, nil
		}
		run.pinned = append(run.pinned, pinnedFilter{f: f, inst: inst})
	}
	return run, nil
}

// skip logs a failed filter and reports whether the chain goes on without
// it (on_error: fail_open).
func (run *filterRun) skip(f *routeFilter, op string, err error) bool {
	if f.failOpen {
		run.log.Warn("filter failed; skipped (fail_open)", "filter", f.name, "phase", op, "error", err.Error())
		return true
	}
	run.log.Error("filter failed; request refused (fail_closed)", "filter", f.name, "phase", op, "error", err.Error())
	return false
}

// buffersResponse reports whether a pinned filter asked to see the response
// body; the upstream response is then buffered instead of streamed.
func (run *filterRun) buffersResponse() bool {
	for _, p := range run.pinned {
		if p.inst.Features().Has(filter.FeatureBufferResponse) {
			return true
		}
	}
	return false
}

// runResponseFilters runs the response phase in reverse order, releasing
// each instance as soon as it is done.
func (run *filterRun) runResponseFilters(ctx context.Context, isError bool) error {
	for i := len(run.pinned) - 1; i >= 0; i-- {
		p := &run.pinned[i]
		err := p.inst.HandleResponse(ctx, run.x, isError)
		p.f.module.Release(p.inst)
		p.inst = nil
		if err != nil && !run.skip(p.f, "handle_response", err) {
			return filterFailure(p.f, err)
		}
	}
	return nil
}

// release returns instances still pinned (the request failed before the
// response phase).
func (run *filterRun) release() {
	for i := range run.pinned {
		if p := &run.pinned[i]; p.inst != nil {
			p.f.module.Release(p.inst)
			p.inst = nil
		}
	}
}

// filterFailure maps a filter error to the client's status. The detail
// (trap message, guest log) stays in the node's log.
func filterFailure(f *routeFilter, err error) error {
	if errors.Is(err, filter.ErrBusy) {
		return &httperr.Error{Status: http.StatusServiceUnavailable, Reason: "filter " + strconv.Quote(f.name) + " is at capacity", Err: err,
			Header: http.Header{"Retry-After": {"1"}}}
	}
	return httperr.Wrap(http.StatusInternalServerError, "filter "+strconv.Quote(f.name)+" failed", err)
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
	h.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	w.WriteHeader(status)
	if len(resp.Body) > 0 {
		_, _ = w.Write(resp.Body)
	}
}
