package traffic

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicegw/sluice/runtime/tracing"
)

// startSpan starts the span of one backend call of a recorded request
// ("sluice.aggregate"): its upstream attempts are children of it.
func (b *aggBackend) startSpan(ctx context.Context) (context.Context, trace.Span) {
	return tracing.Child(ctx, "sluice.aggregate", time.Now(),
		attribute.String("sluice.aggregate.backend", b.key),
		attribute.String("sluice.upstream", b.upstream))
}

// endBackendSpan ends it with the backend's status (0 when none came) and
// whether its answer was merged.
func endBackendSpan(span trace.Span, status int, merged bool, err error) {
	if status != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", status))
	}
	span.SetAttributes(attribute.Bool("sluice.aggregate.merged", merged))
	switch {
	case err != nil:
		span.SetStatus(codes.Error, err.Error())
	case !merged:
		span.SetStatus(codes.Error, "answer not merged")
	}
	span.End()
}
