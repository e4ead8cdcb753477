package proxy

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/sluicegw/sluice/runtime/config"
)

// endpoint is one instance of an upstream and everything the policies learn
// about it. Counters are atomics: they are read on every pick.
type endpoint struct {
	raw    string // as written in the config, for logs and metrics
	scheme string
	host   string // host[:port], sent as Host and used to dial
	weight int
	log    *slog.Logger

	healthy      atomic.Bool  // verdict of active health checks
	ejectedUntil atomic.Int64 // monotonic nanoseconds; 0 = not ejected
	inflight     atomic.Int64
	failures     atomic.Int32 // consecutive 5xx or connect failures (outlier.go)
	latency      peakEWMA     // for p2c_ewma (balance_p2c.go)

	conns *connPool // keep-alive connections for plain requests (fastclient.go)
}

func newEndpoint(ec config.Endpoint, log *slog.Logger, tlsBase *tls.Config) (*endpoint, error) {
	u, err := url.Parse(ec.URL)
	switch {
	case err != nil:
		return nil, err
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("scheme must be http or https")
	case u.Host == "":
		return nil, errors.New("no host")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return nil, errors.New("must be scheme://host[:port] only")
	}
	e := &endpoint{
		raw:    ec.URL,
		scheme: u.Scheme,
		host:   u.Host,
		weight: max(ec.Weight, 1),
		log:    log.With("endpoint", ec.URL),
		conns:  newConnPool(u.Scheme, u.Host, tlsBase),
	}
	e.healthy.Store(true)
	return e, nil
}

// usable reports whether e may take a request: healthy, not ejected, and not
// among the endpoints this request already tried.
func (e *endpoint) usable(tried []*endpoint) bool {
	for _, t := range tried {
		if t == e {
			return false
		}
	}
	return e.available()
}

// available reports whether e is healthy and not ejected. The clock is read
// only for an endpoint that has been ejected, so the common path is two
// atomic loads. An ejection that has run out is cleared (and logged) here,
// by whichever request notices first.
func (e *endpoint) available() bool {
	if !e.healthy.Load() {
		return false
	}
	until := e.ejectedUntil.Load()
	if until == 0 {
		return true
	}
	if monotonic() < until {
		return false
	}
	if e.ejectedUntil.CompareAndSwap(until, 0) {
		e.log.Info("endpoint back from outlier ejection")
	}
	return true
}

// ejectedAt reports whether e is ejected at monotonic time now.
func (e *endpoint) ejectedAt(now int64) bool {
	until := e.ejectedUntil.Load()
	return until != 0 && now < until
}

// epoch anchors monotonic(); time.Since uses the monotonic clock, so
// ejections and latency decay are immune to wall-clock jumps.
var epoch = time.Now()

// monotonic returns nanoseconds since the process loaded this package.
func monotonic() int64 { return int64(time.Since(epoch)) }
