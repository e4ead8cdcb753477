package proxy

import (
	"context"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicegw/sluice/runtime/tracing"
)

// traceAttempt starts the client span of one attempt when the request is
// being recorded, and gives the upstream its context (traceparent with
// this span as the parent) in hdr. It returns nil otherwise, leaving a
// traceparent the client sent to pass through as it came.
func (p *Pool) traceAttempt(ctx context.Context, e *endpoint, attempt int, hdr http.Header) trace.Span {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return nil
	}
	sctx, span := parent.TracerProvider().Tracer(tracing.Name).Start(ctx, "upstream "+p.name,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("sluice.upstream", p.name),
			attribute.String("server.address", e.host),
			attribute.String("url.full", e.raw),
			attribute.Int("http.request.resend_count", attempt),
		))
	tracing.Inject(sctx, hdr)
	return span
}

// endAttempt ends an attempt's span with the upstream's status or the
// failure.
func endAttempt(span trace.Span, status int, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	} else {
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, "status "+strconv.Itoa(status))
		}
	}
	span.End()
}
