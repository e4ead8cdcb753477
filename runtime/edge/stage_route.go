package edge

import (
	"net/http"
	"time"

	"github.com/sluicegw/sluice/runtime/httperr"
	"github.com/sluicegw/sluice/runtime/traffic"
)

// stageRoute takes the running snapshot for the request and finds its
// route, on a path cleaned of dot segments.
func stageRoute(x *Exchange) error {
	snap := x.node.acquire()
	if snap == nil {
		return httperr.New(http.StatusServiceUnavailable, "no configuration loaded")
	}
	x.snap = snap // released when the request is done
	x.startTrace()
	r := x.R
	cleanRequestPath(r)
	var matchStart time.Time
	if x.span != nil {
		matchStart = time.Now()
	}
	rt, params := snap.routes.Match(r.Host, r.Method, r.URL.Path, r.Header.Get)
	if rt != nil {
		x.matched, x.route = rt, &snap.compiled[rt.Index]
	}
	if x.span != nil {
		x.traceMatch(matchStart)
	}
	if rt == nil {
		return httperr.New(http.StatusNotFound, "no route")
	}
	if x.route.aggregate {
		x.R = r.WithContext(traffic.WithParams(r.Context(), params))
	}
	return nil
}
