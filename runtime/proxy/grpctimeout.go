package proxy

import (
	"math"
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
// reset) would look like. A value too large for a time.Duration (over
// about 290 years) is no deadline to hold.
func grpcTimeout(r *http.Request) (time.Duration, bool) {
	v := r.Header.Get("Grpc-Timeout")
	if len(v) < 2 || len(v) > grpcTimeoutDigits+1 || !httperr.IsGRPC(r) {
		return 0, false
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	for _, u := range grpcTimeoutUnits {
		if u.sym == v[len(v)-1] {
			if n > math.MaxInt64/int64(u.d) {
				return 0, false
			}
			return time.Duration(n) * u.d, true
		}
	}
	return 0, false
}

// encodeGRPCTimeout is d as a grpc-timeout value in the finest unit whose
// count fits the eight digits, truncated: the upstream is never promised
// more than is left (the loss is at most a hundred-thousandth of d).
func encodeGRPCTimeout(d time.Duration) string {
	for _, u := range grpcTimeoutUnits {
		if n := d / u.d; n <= grpcTimeoutMax {
			return strconv.FormatInt(int64(n), 10) + string(u.sym)
		}
	}
	panic("unreachable: a time.Duration is under 99999999 hours")
}

// grpcTimeoutDigits is the spec's bound on the number in a grpc-timeout.
const (
	grpcTimeoutDigits = 8
	grpcTimeoutMax    = 99999999
)

// grpcTimeoutUnits are grpc-timeout's units, finest first (the order
// encodeGRPCTimeout tries them in).
var grpcTimeoutUnits = [...]struct {
	sym byte
	d   time.Duration
}{
	{'n', time.Nanosecond}, {'u', time.Microsecond}, {'m', time.Millisecond},
	{'S', time.Second}, {'M', time.Minute}, {'H', time.Hour},
}
