package proxy

import (
	"net/http"
	"sync"
)

// roundRobin is nginx's smooth weighted round robin: every pick adds each
// candidate's weight to its running score, takes the highest and subtracts
// the total from it. Weights 5,1,1 give a a b a c a a, never a run of five,
// so a heavy endpoint's share is spread evenly over time.
type roundRobin struct {
	mu        sync.Mutex
	endpoints []*endpoint
	current   []int // running score per endpoint, guarded by mu
}

func newRoundRobin(eps []*endpoint) *roundRobin {
	return &roundRobin{endpoints: eps, current: make([]int, len(eps))}
}

func (b *roundRobin) pick(_ *http.Request, tried []*endpoint) *endpoint {
	b.mu.Lock()
	defer b.mu.Unlock()
	total, best := 0, -1
	for i, e := range b.endpoints {
		if !e.usable(tried) {
			continue
		}
		b.current[i] += e.weight
		total += e.weight
		if best < 0 || b.current[i] > b.current[best] {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	b.current[best] -= total
	return b.endpoints[best]
}
