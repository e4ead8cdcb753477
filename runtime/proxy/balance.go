package proxy

import (
	"fmt"
	"net/http"

	"github.com/sluicegw/sluice/runtime/config"
)

// balancer picks the endpoint for one attempt. It returns only endpoints for
// which usable(tried) holds, or nil when there is none. Implementations are
// safe for concurrent use.
type balancer interface {
	pick(r *http.Request, tried []*endpoint) *endpoint
}

// newBalancer builds the strategy named by the config's balance key.
func newBalancer(kind string, hashOn config.HashOn, eps []*endpoint) (balancer, error) {
	switch kind {
	case config.BalanceRoundRobin, "":
		return newRoundRobin(eps), nil
	case config.BalanceLeastRequest:
		return &leastRequest{endpoints: eps}, nil
	case config.BalanceP2CEWMA:
		return &p2cEWMA{endpoints: eps}, nil
	case config.BalanceConsistentHash:
		return newRingHash(eps, hashOn)
	default:
		return nil, fmt.Errorf("unknown balance %q (want %s, %s, %s or %s)", kind,
			config.BalanceRoundRobin, config.BalanceLeastRequest, config.BalanceP2CEWMA, config.BalanceConsistentHash)
	}
}
