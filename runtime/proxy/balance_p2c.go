package proxy

import (
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
)

// p2cEWMA is the power of two choices over peak-EWMA latency, as in Finagle
// and Linkerd: draw two distinct endpoints at random and take the cheaper,
// where cost = latency estimate × (in-flight + 1) / weight. Two random
// choices avoid the herd that a global "best" causes among many pickers,
// and the peak EWMA reacts at once to a slowdown but forgets it gradually.
type p2cEWMA struct {
	endpoints []*endpoint
}

func (b *p2cEWMA) pick(_ *http.Request, tried []*endpoint) *endpoint {
	var buf [32]*endpoint
	cands := buf[:0]
	for _, e := range b.endpoints {
		if e.usable(tried) {
			cands = append(cands, e)
		}
	}
	switch len(cands) {
	case 0:
		return nil
	case 1:
		return cands[0]
	}
	i := rand.IntN(len(cands))
	j := rand.IntN(len(cands) - 1)
	if j >= i {
		j++
	}
	now := monotonic()
	a, c := cands[i], cands[j]
	if cost(a, now) <= cost(c, now) {
		return a
	}
	return c
}

// cost is the expected wait on e. An endpoint never measured costs 0, so a
// new endpoint is tried at once and gets an estimate.
func cost(e *endpoint, now int64) float64 {
	return e.latency.value(now) * float64(e.inflight.Load()+1) / float64(e.weight)
}

// ewmaDecay is the time constant of the latency estimate: after it, an old
// peak has faded to 1/e. Finagle and Linkerd use 10 s.
const ewmaDecay = 10e9 // nanoseconds

// peakEWMA is a latency estimate that jumps to any sample above it and decays
// exponentially towards lower samples, and towards zero while no sample
// arrives, so an endpoint that was slow once is tried again eventually.
type peakEWMA struct {
	mu    sync.Mutex
	v     float64 // nanoseconds
	stamp int64   // monotonic time of the last sample
}

// observe records one latency sample (time to response headers).
func (m *peakEWMA) observe(sample float64, now int64) {
	m.mu.Lock()
	if sample > m.v {
		m.v = sample
	} else {
		w := math.Exp(-float64(now-m.stamp) / ewmaDecay)
		m.v = m.v*w + sample*(1-w)
	}
	m.stamp = now
	m.mu.Unlock()
}

// value returns the estimate at time now, decayed since the last sample.
func (m *peakEWMA) value(now int64) float64 {
	m.mu.Lock()
	v, stamp := m.v, m.stamp
	m.mu.Unlock()
	if v == 0 {
		return 0
	}
	return v * math.Exp(-float64(now-stamp)/ewmaDecay)
}
