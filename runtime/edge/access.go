package edge

import (
	"context"
	"net/http"
	"time"

	"github.com/sluicegw/sluice/runtime/auth"
	"github.com/sluicegw/sluice/runtime/httperr"
	"github.com/sluicegw/sluice/runtime/policy"
)

// routePolicy is a route's access policy, resolved at snapshot build.
type routePolicy struct {
	name   string
	policy *policy.Policy
}

// checkAccess authenticates the caller with the route's providers (any one
// suffices) and asks the route's policy. It fails closed: an error at either
// step refuses the request. On allow, headers the decision names are added
// to the upstream request.
func (n *Node) checkAccess(ctx context.Context, snap *Snapshot, r *http.Request, routeName string, x *routeExtras) error {
	var id *auth.Identity
	if len(x.auth) > 0 {
		var err error
		if id, err = snap.auth.Authenticate(r, x.auth); err != nil {
			return err
		}
	}
	if x.policy == nil {
		return nil
	}
	start := time.Now()
	d, err := x.policy.policy.Decide(ctx, &policy.Input{
		Method:     r.Method,
		Path:       r.URL.Path,
		Host:       r.Host,
		RemoteAddr: r.RemoteAddr,
		Route:      routeName,
		Headers:    r.Header,
		Query:      r.URL.Query(),
		Auth:       id,
	})
	n.metrics.observePolicy(x.policy.name, time.Since(start))
	if err != nil {
		n.log.Error("policy error; request denied", "policy", x.policy.name, "route", routeName, "error", err.Error())
		return err // a 503 *httperr.Error: never allow on error
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
		return e
	}
	for k, v := range d.Headers {
		r.Header.Set(k, v)
	}
	return nil
}
