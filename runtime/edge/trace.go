package edge

import (
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/sluicegw/sluice/runtime/httperr"
)

// startTrace starts the request's server span when the snapshot traces and
// the request is sampled; the request's context then carries it, so the
// upstream attempts (runtime/proxy) become its children. An unsampled
// request pays for the sampling decision only.
func (x *Exchange) startTrace() {
	t := x.snap.tracer
	if t == nil {
		return
	}
	ctx, span, ok := t.StartRequest(x.R.Context(), x.R, x.start)
	if !ok {
		return
	}
	x.span, x.tracer = span, t
	x.R = x.R.WithContext(ctx)
}

// traceMatch records the router's work, from start, as a child of the
// server span, and names the server span after the route.
func (x *Exchange) traceMatch(start time.Time) {
	_, span := x.tracer.StartAt(x.R.Context(), "sluice.route", start)
	if x.route != nil {
		span.SetAttributes(attribute.String("sluice.route", x.route.name))
		x.span.SetName(x.R.Method + " " + x.route.name)
	}
	span.End()
}

// runTraced runs stage i of the route inside its own span. The origin
// stage's span is the parent of the upstream attempts.
func (x *Exchange) runTraced(i int, s stage) error {
	name := x.route.names[i]
	ctx, span := x.tracer.StartAt(x.R.Context(), name, time.Now())
	if name == stageNameOrigin {
		x.R = x.R.WithContext(ctx)
	}
	x.stageSpan, x.stageCtx = span, ctx
	if x.filters != nil {
		x.filters.spanParent = ctx // response-phase filters run under the stage that runs them
	}
	err := s(x)
	x.stageSpan, x.stageCtx = nil, nil
	if err != nil && err != errAnswered {
		span.SetStatus(codes.Error, err.Error())
		span.SetAttributes(attribute.Int("http.response.status_code", httperr.StatusOf(err)))
	}
	span.End()
	return err
}

// endTrace ends the server span with what the access log records.
func (x *Exchange) endTrace(route string) {
	if x.span == nil {
		return
	}
	status := x.rec.status
	x.span.SetAttributes(
		attribute.Int("http.response.status_code", status),
		attribute.String("sluice.route", route),
		attribute.String("sluice.upstream", x.upstream),
		attribute.String("sluice.request_id", x.rid),
	)
	if status >= 500 {
		x.span.SetStatus(codes.Error, "status "+strconv.Itoa(status))
	}
	x.span.End()
}
