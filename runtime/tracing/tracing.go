// Package tracing is the node's OpenTelemetry tracing: one provider per
// snapshot with a `tracing:` block, exporting over OTLP/HTTP, with W3C
// trace context taken from requests and given to upstreams. Span and
// attribute names follow OpenTelemetry's HTTP semantic conventions where
// one exists (http.request.method, url.path, server.address,
// http.response.status_code) and use a sluice. prefix otherwise.
package tracing

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicegw/sluice/runtime/config"
)

// Name is the instrumentation scope of every span the node makes.
const Name = "github.com/sluicegw/sluice"

// propagator reads and writes traceparent and tracestate.
var propagator = propagation.TraceContext{}

// Tracer records the spans of one snapshot's requests.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	sample   float64
}

// New builds the exporter and provider for cfg. Nothing is sent until a
// sampled request ends; an unreachable collector costs dropped spans (the
// batch queue is bounded), never a failed request.
func New(cfg *config.Tracing, nodeID string) (*Tracer, error) {
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(cfg.OTLP+"/v1/traces"))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter for %q: %w", cfg.OTLP, err)
	}
	sample := config.DefaultTraceSample
	if cfg.Sample != nil {
		sample = *cfg.Sample
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", cfg.Service),
		attribute.String("service.instance.id", nodeID),
	)
	p := sdktrace.NewTracerProvider(
		// Spans leave within a second of their request's end.
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Second)),
		sdktrace.WithResource(res),
		// StartRequest decides before a span exists (sampled), so the
		// provider records what it is given.
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
	)
	return &Tracer{provider: p, tracer: p.Tracer(Name), sample: sample}, nil
}

// sampled is the head sampling decision, taken before anything is
// allocated, as ParentBased(TraceIDRatioBased) would take it: a parent's
// sampled flag decides for it; a new trace is kept at the ratio. An
// unsampled request then costs a header lookup and, without a parent, one
// random number.
func (t *Tracer) sampled(h http.Header) bool {
	if tp := h["Traceparent"]; len(tp) == 1 {
		if flags, ok := traceFlags(tp[0]); ok {
			return flags&1 == 1
		}
	}
	return t.sample >= 1 || (t.sample > 0 && rand.Float64() < t.sample)
}

// traceFlags reads the flags of a version-00 traceparent
// ("00-" 32 hex "-" 16 hex "-" 2 hex); ok is false for anything else,
// which Extract ignores too.
func traceFlags(v string) (byte, bool) {
	if len(v) != 55 || v[0] != '0' || v[1] != '0' || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return 0, false
	}
	hi, ok1 := unhex(v[53])
	lo, ok2 := unhex(v[54])
	return hi<<4 | lo, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// Close flushes what is queued and stops the exporter, within ctx.
func (t *Tracer) Close(ctx context.Context) error { return t.provider.Shutdown(ctx) }

// StartRequest continues the trace the request carries (traceparent,
// tracestate), or starts one, with the server span of the request. ok is
// false, and nothing was made, when the request is not sampled: a
// traceparent it carries then passes upstream as it came.
func (t *Tracer) StartRequest(ctx context.Context, r *http.Request, start time.Time) (_ context.Context, _ trace.Span, ok bool) {
	if !t.sampled(r.Header) {
		return ctx, nil, false
	}
	ctx = propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
	ctx, span := t.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
			attribute.String("server.address", r.Host),
			attribute.String("network.protocol.version", protocolVersion(r)),
			attribute.String("client.address", r.RemoteAddr),
		))
	return ctx, span, true
}

// StartAt starts a child of the span in ctx that began at start.
func (t *Tracer) StartAt(ctx context.Context, name string, start time.Time) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, name, trace.WithTimestamp(start))
}

// Inject writes the span context of ctx into h as traceparent and
// tracestate, for the next hop.
func Inject(ctx context.Context, h http.Header) {
	propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

func protocolVersion(r *http.Request) string {
	if r.ProtoMajor == 2 {
		return "2"
	}
	if r.ProtoMinor == 0 {
		return "1.0"
	}
	return "1.1"
}
