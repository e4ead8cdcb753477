package tracing

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Recording reports whether ctx carries a span being recorded: a sampled
// request's. Packages below the edge (auth, traffic, proxy) test it before
// they build a child span's attributes, so an unsampled request pays one
// context lookup.
func Recording(ctx context.Context) bool {
	return ctx != nil && trace.SpanFromContext(ctx).IsRecording()
}

// Child starts a span named name under the recorded span of ctx, from
// start, with attrs. Call it only when Recording(ctx).
func Child(ctx context.Context, name string, start time.Time, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	return parent.TracerProvider().Tracer(Name).Start(ctx, name, trace.WithTimestamp(start), trace.WithAttributes(attrs...))
}
