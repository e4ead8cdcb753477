package edge

import (
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"

	"github.com/sluicegw/sluice/runtime/httperr"
)

// stageOrigin gets the response: from the route's cache or its origin (the
// upstream pool or an aggregation), through the response filters. A
// serverless route has no origin: reaching it means no filter answered.
func stageOrigin(x *Exchange) error {
	c := x.route
	if c.origin == nil {
		return httperr.New(http.StatusInternalServerError, "no filter answered the request")
	}
	if c.pool != nil {
		x.upstream = c.pool.Name()
	}
	body := watchBody(x.R)
	err := x.forward()
	if sp := x.stageSpan; sp != nil && c.cache != nil {
		sp.SetAttributes(attribute.String("sluice.cache", strings.ToLower(x.W.Header().Get("X-Cache"))))
	}
	if body != nil {
		if v := x.guard.recheck(); !v.OK() {
			err = httperr.New(v.Status, v.Reason)
		} else if berr := body.failure(); berr != nil && err != nil {
			err = x.requestBodyFailure(berr)
		}
	}
	return err
}

// forward fetches the response. With filters pinned for the response
// phase, it passes through them: buffered when one of them reads or
// rewrites the body, streamed with a header hook otherwise.
func (x *Exchange) forward() error {
	run := x.filters
	if run == nil || len(run.pinned) == 0 {
		return x.fetch(x.W)
	}
	// An upgrade's response has no body to buffer (and a buffer cannot
	// be hijacked): its filters run at the 101, in the header hook.
	if run.buffersResponse() && x.upgrade == "" {
		b := newBufferWriter()
		err := x.fetch(b)
		if b.overflow {
			err = httperr.Wrap(http.StatusBadGateway, "upstream response too large for the route's filters", errResponseTooLarge)
		}
		if err != nil {
			_ = run.runResponseFilters(true) // the client gets err whatever the filters do
			return err
		}
		fillFromBuffer(run, b)
		if err := run.runResponseFilters(false); err != nil {
			return err
		}
		writeFilterResponse(x.W, run.x.Resp)
		return nil
	}
	hw := &headerHookWriter{ResponseWriter: x.W, run: run, x: x}
	err := x.fetch(hw)
	if hw.err != nil {
		return nil // a response filter failed; its error is already the answer
	}
	if err != nil && !hw.done {
		_ = run.runResponseFilters(true)
	}
	if err == nil {
		err = hw.finish()
		if hw.err != nil {
			return nil // a guest failed at the end while it held the headers: its error is the answer
		}
	}
	if hw.cut != nil {
		return responseCut{hw.cut}
	}
	return err
}

// fetch gets the response from the route's cache or its origin. An
// upgrade never touches the cache.
func (x *Exchange) fetch(w http.ResponseWriter) error {
	c := x.route
	if c.cache != nil && x.upgrade == "" {
		r, span := x.startCacheSpan(x.R)
		err := c.cache.Serve(w, r, len(c.auth) > 0, x.node.now(), c.origin)
		endCacheSpan(span, w)
		return err
	}
	return c.origin(w, x.R)
}
