package edge

import (
	"context"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicegw/sluice/runtime/policy"
	"github.com/sluicegw/sluice/runtime/tracing"
)

// The spans a recorded request's stages make below their own (trace.go):
// the policy's evaluation, each filter phase, the cache. Each is made only
// when its parent is recorded; an unsampled request pays a nil test.

// tracePolicy records the policy's evaluation, from start, under the
// access stage.
func tracePolicy(ctx context.Context, name string, start time.Time, d policy.Decision, err error) {
	decision := "allow"
	switch {
	case err != nil:
		decision = "error" // failed closed
	case !d.Allow:
		decision = "deny"
	}
	_, span := tracing.Child(ctx, "sluice.policy", start,
		attribute.String("sluice.policy", name),
		attribute.String("sluice.policy.decision", decision))
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Outcomes of a filter phase, as its span's sluice.filter.outcome says.
const (
	filterNext     = "next"     // request phase: the filter passed the request on
	filterAnswered = "answered" // request phase: the filter answered it
	filterDone     = "done"     // response phase ran
	filterFailed   = "failed"   // the filter failed; the request failed with it (fail_closed)
	filterSkipped  = "skipped"  // the filter failed and was skipped (fail_open)
)

// startFilterSpan starts the span of one filter phase ("request" or
// "response"), waiting for an instance included; nil when the request is
// not recorded.
func (run *filterRun) startFilterSpan(f *routeFilter, phase string) trace.Span {
	if run.spanParent == nil {
		return nil
	}
	_, span := tracing.Child(run.spanParent, "sluice.filter", time.Now(),
		attribute.String("sluice.filter", f.name),
		attribute.String("sluice.filter.digest", f.module.Digest()),
		attribute.String("sluice.filter.phase", phase))
	return span
}

// endFilterSpan ends a filter phase's span with its outcome.
func endFilterSpan(span trace.Span, outcome string, err error) {
	if span == nil {
		return
	}
	span.SetAttributes(attribute.String("sluice.filter.outcome", outcome))
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// startCacheSpan starts the span of a cached route's lookup under the
// origin stage, and returns r carrying it: the upstream attempts of a miss
// are its children. nil and r itself when the request is not recorded.
func (x *Exchange) startCacheSpan(r *http.Request) (*http.Request, trace.Span) {
	if x.stageCtx == nil {
		return r, nil
	}
	ctx, span := tracing.Child(x.stageCtx, "sluice.cache", time.Now(), attribute.String("sluice.route", x.route.name))
	return r.WithContext(ctx), span
}

// endCacheSpan records hit or miss, as the cache marked the response.
func endCacheSpan(span trace.Span, w http.ResponseWriter) {
	if span == nil {
		return
	}
	result := "miss"
	if v := w.Header().Get("X-Cache"); v != "" {
		result = strings.ToLower(v)
	}
	span.SetAttributes(attribute.String("sluice.cache", result))
	span.End()
}
