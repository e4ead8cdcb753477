package proxy

import (
	"math/rand/v2"
	"net/http"
)

// leastRequest picks the endpoint with the fewest in-flight requests per unit
// of weight. Ties (typically every endpoint idle, at low load) are broken by
// a weighted random draw, so weights still shape traffic when nothing is
// queued and concurrent pickers do not all pile onto the first endpoint.
type leastRequest struct {
	endpoints []*endpoint
}

func (b *leastRequest) pick(_ *http.Request, tried []*endpoint) *endpoint {
	var best *endpoint
	var bestLoad int64
	tieWeight := 0
	for _, e := range b.endpoints {
		if !e.usable(tried) {
			continue
		}
		load := e.inflight.Load()
		if best == nil {
			best, bestLoad, tieWeight = e, load, e.weight
			continue
		}
		// load/e.weight compared with bestLoad/best.weight, without division.
		l, r := load*int64(best.weight), bestLoad*int64(e.weight)
		switch {
		case l < r:
			best, bestLoad, tieWeight = e, load, e.weight
		case l == r:
			// Weighted reservoir sampling over the tied endpoints.
			tieWeight += e.weight
			if rand.IntN(tieWeight) < e.weight {
				best, bestLoad = e, load
			}
		}
	}
	return best
}
