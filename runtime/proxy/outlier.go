package proxy

import (
	"time"

	"github.com/sluicegw/sluice/runtime/config"
)

// outlierPolicy is passive health checking: an endpoint that answers
// `threshold` 5xx in a row, or fails that many times to connect or respond,
// is ejected for `eject` and then returns on its own. Unlike active checks it
// costs nothing extra and sees real traffic, so it catches an endpoint whose
// /healthz is fine but whose requests fail. There is no panic routing: when
// every endpoint is ejected the pool answers 503.
type outlierPolicy struct {
	threshold int32 // 0 = disabled
	eject     time.Duration
}

func newOutlierPolicy(o *config.Outlier) outlierPolicy {
	if o == nil || o.Consecutive5xx <= 0 || o.Eject <= 0 {
		return outlierPolicy{}
	}
	return outlierPolicy{threshold: int32(o.Consecutive5xx), eject: o.Eject.D()}
}

// success resets e's run of failures. The load before the store keeps the
// hot path from writing a shared cache line on every request.
func (p *Pool) outlierSuccess(e *endpoint) {
	if p.outlier.threshold > 0 && e.failures.Load() != 0 {
		e.failures.Store(0)
	}
}

// outlierFailure counts one failure of e and ejects it at the threshold.
func (p *Pool) outlierFailure(e *endpoint, cause string) {
	if p.outlier.threshold == 0 {
		return
	}
	if e.failures.Add(1) < p.outlier.threshold {
		return
	}
	e.failures.Store(0)
	now := monotonic()
	old := e.ejectedUntil.Load()
	if old != 0 && now < old {
		return // already ejected
	}
	if e.ejectedUntil.CompareAndSwap(old, now+int64(p.outlier.eject)) {
		e.log.Warn("endpoint ejected", "consecutive_failures", p.outlier.threshold,
			"for", p.outlier.eject, "last_failure", cause)
	}
}
