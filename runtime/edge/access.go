package edge

import (
	"context"

	"math/rand/v2"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/sluicegw/sluice/runtime/auth"
	"github.com/sluicegw/sluice/runtime/httperr"
	"github.com/sluicegw/sluice/runtime/policy"
	"github.com/sluicegw/sluice/runtime/tracing"
)

// routePolicy is a route's access policy, resolved at snapshot build.
type routePolicy struct {
	name   string
	policy *policy.Policy
	// logDecisions logs every deny and a sample of allows (DecisionLog).
	logDecisions bool
	sample       float64
}

// stageAccess lets through only callers the route's auth and policy admit.
func stageAccess(x *Exchange) error {
	if x.route.policy != nil {
		// Every response of a route with a policy names its decision, a
		// 401 before the policy is asked included; it is the request id
		// scheme, so ids never repeat within a node.
		x.decisionID = newRequestID()
		x.W.Header().Set(DecisionHeader, x.decisionID)
	}
	ctx, r := x.R.Context(), x.R
	if x.stageCtx != nil { // traced: each provider and the policy get a span under this stage's
		ctx, r = x.stageCtx, x.R.WithContext(x.stageCtx)
	}
	id, err := x.node.checkAccess(ctx, x.snap, r, x.route.name, x.rid, x.decisionID, x.route)
	x.identity = id
	if sp := x.stageSpan; sp != nil && x.route.policy != nil {
		decision := "allow"
		if err != nil {
			decision = "deny"
			if httperr.StatusOf(err) >= 500 {
				decision = "error" // failed closed
			}
		}
		sp.SetAttributes(attribute.String("sluice.policy", x.route.policy.name), attribute.String("sluice.policy.decision", decision))
	}
	return err
}

// checkAccess authenticates the caller with the route's providers (any one
// suffices) and asks the route's policy. It fails closed: an error at either
// step refuses the request. On allow, headers the decision names are added
// to the upstream request. It returns who the caller authenticated as (nil
// without auth) for the stages after it (rate-limit keys).
func (n *Node) checkAccess(ctx context.Context, snap *Snapshot, r *http.Request, routeName, rid, did string, x *compiledRoute) (*auth.Identity, error) {
	var id *auth.Identity
	if len(x.auth) > 0 {
		var err error
		if id, err = snap.auth.Authenticate(r, x.auth); err != nil {
			return nil, err
		}
	}
	if x.policy == nil {
		return id, nil
	}
	start := time.Now()
	in := &policy.Input{
		Method:     r.Method,
		Path:       r.URL.Path,
		Host:       r.Host,
		RemoteAddr: r.RemoteAddr,
		Route:      routeName,
		Headers:    r.Header,
		RawQuery:   r.URL.RawQuery,
		Auth:       id,
	}
	d, err := x.policy.policy.Decide(ctx, in)
	took := time.Since(start)
	if tracing.Recording(ctx) {
		tracePolicy(ctx, x.policy.name, start, d, err)
	}
	n.metrics.observePolicy(x.policy.name, took)
	if x.policy.logDecisions && (err != nil || !d.Allow || rand.Float64() < x.policy.sample) {
		n.logDecision(r, routeName, rid, did, x.policy.name, id, d, err, took)
		if n.decisions.enabled() {
			n.decisions.offer(n.decisionRecord(snap, r, in, routeName, rid, did, x.policy, d, err))
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			// The client left during the evaluation: not the policy's fault.
			return nil, httperr.ClientClosed(err)
		}
		n.log.Error("policy error; request denied", "policy", x.policy.name, "route", routeName, "error", err.Error())
		return nil, err // a 503 *httperr.Error: never allow on error
	}
	if !d.Allow {
		status := d.Status
		if status == 0 {
			status = http.StatusForbidden
		}
		reason := d.Reason
		if reason == "" {
			reason = "denied by policy"
		}
		e := httperr.New(status, reason)
		if len(d.Headers) > 0 {
			e.Header = http.Header{}
			for k, v := range d.Headers {
				e.Header.Set(k, v)
			}
		}
		return nil, e
	}
	for k, v := range d.Headers {
		r.Header.Set(k, v)
	}
	return id, nil
}

// logDecision writes one decision log line: who asked for what, and what the
// policy said, with the request id that ties it to the access log.
func (n *Node) logDecision(r *http.Request, route, rid, did, pol string, id *auth.Identity, d policy.Decision, err error, took time.Duration) {
	attrs := []any{
		"policy", pol, "route", route, "request_id", rid, "decision_id", did,
		"method", r.Method, "path", r.URL.Path, "remote_addr", r.RemoteAddr,
		"allow", err == nil && d.Allow, "took_us", took.Microseconds(),
	}
	if id != nil {
		attrs = append(attrs, "auth_method", id.Method, "subject", id.Subject, "consumer", id.Consumer)
	}
	switch {
	case err != nil:
		attrs = append(attrs, "error", err.Error())
	case !d.Allow:
		attrs = append(attrs, "status", d.Status, "reason", d.Reason)
	}
	n.log.Info("policy decision", attrs...)
}
