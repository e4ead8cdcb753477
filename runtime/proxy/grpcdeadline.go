package proxy

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/sluicegw/sluice/runtime/httperr"
)

// A gRPC call's grpc-timeout is the client's whole budget. The upstream
// is told what is left of it when the request leaves the node, after
// authentication, policy, filters and failed attempts took their share,
// and bounded by the route's timeout; an upstream told the original would
// work on past the point where the node has answered DEADLINE_EXCEEDED.

// receivedKey carries the time the node received a request.
type receivedKey struct{}

// WithReceivedAt records in ctx when the node received the request: a
// gRPC call's grpc-timeout counts from then. Only requests that carry a
// grpc-timeout need it; without it the count starts when Forward is called.
func WithReceivedAt(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, receivedKey{}, t)
}

// receivedAt is when the node received r, or now if nobody recorded it.
func receivedAt(r *http.Request) time.Time {
	if t, ok := r.Context().Value(receivedKey{}).(time.Time); ok {
		return t
	}
	return time.Now()
}

// withCallTimeout sets hdr's grpc-timeout to what is left of ctx's
// deadline (the call's, the route's, whichever ends first) for this
// attempt, or returns the DEADLINE_EXCEEDED answer when nothing is left:
// the upstream is not called for a call that is already over. A retry
// gets a copy of hdr, since the previous attempt's transport may still be
// reading the one it was given.
func (p *Pool) withCallTimeout(ctx context.Context, hdr http.Header, attempt int) (http.Header, *httperr.Error) {
	deadline, _ := ctx.Deadline() // Forward set one: the call has a deadline
	left := time.Until(deadline)
	if left <= 0 {
		return hdr, p.deadlineSpent(attempt)
	}
	if attempt > 0 {
		hdr = maps.Clone(hdr)
	}
	hdr["Grpc-Timeout"] = []string{encodeGRPCTimeout(left)}
	return hdr, nil
}

// deadlineSpent is the answer to a call whose deadline passed before
// attempt could be sent: 504, which a gRPC client reads as
// DEADLINE_EXCEEDED.
func (p *Pool) deadlineSpent(attempt int) *httperr.Error {
	return httperr.Wrap(http.StatusGatewayTimeout, reasonDeadlineSpent,
		fmt.Errorf("upstream %q: the call's grpc-timeout passed before attempt %d was sent", p.name, attempt))
}
