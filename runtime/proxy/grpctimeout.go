package proxy

import (
	"net/http"
	"strconv"
	"time"

	"github.com/sluicegw/sluice/runtime/httperr"
)

// grpcTimeout is the deadline a gRPC call carries in its grpc-timeout
// header (gRPC over HTTP/2: at most 8 digits and a unit, H M S m u n).
// The node holds the call to it as to a route timeout, so a call whose
// deadline passes is answered DEADLINE_EXCEEDED by the node, not as
// whatever the upstream's own reaction to the same deadline (a stream
// reset) would look like.
func grpcTimeout(r *http.Request) (time.Duration, bool) {
	v := r.Header.Get("Grpc-Timeout")
	if len(v) < 2 || len(v) > 9 || !httperr.IsGRPC(r) {
		return 0, false
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	unit, ok := grpcTimeoutUnits[v[len(v)-1]]
	if !ok {
		return 0, false
	}
	return time.Duration(n) * unit, true
}

var grpcTimeoutUnits = map[byte]time.Duration{
	'H': time.Hour, 'M': time.Minute, 'S': time.Second,
	'm': time.Millisecond, 'u': time.Microsecond, 'n': time.Nanosecond,
}
