package auth

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/sluicegw/sluice/runtime/tracing"
)

// Outcomes of one provider's try, as its span's sluice.auth.outcome says.
const (
	outcomeAccepted    = "accepted"    // the provider authenticated the caller
	outcomeAbsent      = "absent"      // no credentials of its kind were sent
	outcomeRefused     = "refused"     // credentials were sent and refused
	outcomeUnavailable = "unavailable" // a token came, but no keys to check it yet
)

// traceProvider records one provider's try, from start, as a child span
// of the request's access stage ("sluice.auth").
func traceProvider(ctx context.Context, name string, p provider, start time.Time, f *failure) {
	outcome := outcomeAccepted
	switch {
	case f == nil:
	case f.noKeys:
		outcome = outcomeUnavailable
	case f.presented:
		outcome = outcomeRefused
	default:
		outcome = outcomeAbsent
	}
	_, span := tracing.Child(ctx, "sluice.auth", start,
		attribute.String("sluice.auth.provider", name),
		attribute.String("sluice.auth.kind", providerKind(p)),
		attribute.String("sluice.auth.outcome", outcome))
	if f != nil && f.presented {
		span.SetStatus(codes.Error, f.reason)
	}
	span.End()
}

func providerKind(p provider) string {
	if _, ok := p.(*jwtProvider); ok {
		return "jwt"
	}
	return "api_key"
}
