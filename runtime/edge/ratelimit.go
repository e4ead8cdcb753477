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
	key, err := traffic.KeyFor(rl.Key)
	if err != nil {
		return nil, err
	}
	return &routeLimit{
		checker:  checker,
		key:      key,
		limitHdr: []string{strconv.Itoa(rl.Requests + rl.Burst)},
	}, nil
}

// stageRateLimit takes a token for the request from the route's limiter.
func stageRateLimit(x *Exchange) error {
	return checkRateLimit(x.W, x.R, x.route.limit, x.identity, x.node.now())
}

// checkRateLimit takes a token for the request. Every response of the route
// carries the RateLimit headers; a refused request gets a 429 with
// Retry-After.
func checkRateLimit(w http.ResponseWriter, r *http.Request, l *routeLimit, id *auth.Identity, now time.Time) error {
	d := l.checker.Allow(traffic.HashKey(l.key(r, id)), now)
	h := w.Header()
	h["Ratelimit-Limit"] = l.limitHdr
	h["Ratelimit-Remaining"] = numberHeader(int64(d.Remaining))
	h["Ratelimit-Reset"] = numberHeader(traffic.Seconds(d.Reset))
	if d.Allowed {
		return nil
	}
	e := httperr.New(http.StatusTooManyRequests, "rate limit exceeded")
	e.Header = http.Header{"Retry-After": {strconv.FormatInt(max(traffic.Seconds(d.RetryAfter), 1), 10)}}
	return e
}

// smallNumbers holds header values for 0..len-1, made once: the RateLimit
// headers of a request then cost no allocation. Each slice has cap 1, so a
// later Add copies instead of writing into the shared array.
var smallNumbers = func() [][]string {
	out := make([][]string, 4096)
	for i := range out {
		out[i] = []string{strconv.Itoa(i)}[:1:1]
	}
	return out
}()

func numberHeader(n int64) []string {
	if n >= 0 && n < int64(len(smallNumbers)) {
		return smallNumbers[n]
	}
	return []string{strconv.FormatInt(n, 10)}
}
