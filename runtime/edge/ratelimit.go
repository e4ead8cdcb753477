package edge

import (
	"net/http"
	"strconv"
	"time"

	"github.com/sluicegw/sluice/runtime/auth"
	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/httperr"
	"github.com/sluicegw/sluice/runtime/traffic"
)

// routeLimit is a route's rate limit, resolved at snapshot build.
type routeLimit struct {
	checker  traffic.Checker
	key      traffic.KeyFunc
	limitHdr []string // the RateLimit-Limit value, shared by every response
}

func newRouteLimit(rl *config.RateLimit, checker traffic.Checker) (*routeLimit, error) {
	key, err := traffic.ParseKey(rl.Key)
	if err != nil {
		return nil, err
	}
	return &routeLimit{
		checker:  checker,
		key:      key,
		limitHdr: []string{strconv.Itoa(rl.Requests + rl.Burst)},
	}, nil
}

// checkRateLimit takes a token for the request. Every response of the route
// carries the RateLimit headers; a refused request gets a 429 with
// Retry-After.
func checkRateLimit(w http.ResponseWriter, r *http.Request, l *routeLimit, id *auth.Identity, now time.Time) error {
	d := l.checker.Allow(traffic.HashKey(l.key(r, id)), now)
	h := w.Header()
	h["Ratelimit-Limit"] = l.limitHdr
	h["Ratelimit-Remaining"] = []string{strconv.Itoa(d.Remaining)}
	h["Ratelimit-Reset"] = []string{strconv.FormatInt(traffic.Seconds(d.Reset), 10)}
	if d.Allowed {
		return nil
	}
	e := httperr.New(http.StatusTooManyRequests, "rate limit exceeded")
	e.Header = http.Header{"Retry-After": {strconv.FormatInt(max(traffic.Seconds(d.RetryAfter), 1), 10)}}
	return e
}
