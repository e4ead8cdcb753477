package edge

import (
	"fmt"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/traffic"
)

// limiterSet keeps each route's rate limiter across snapshots, so a config
// push does not hand every client a full bucket again. A route keeps its
// limiter while its name and rate_limit stay the same.
type limiterSet struct {
	m map[string]limiterEntry // by route name
}

type limiterEntry struct {
	spec    config.RateLimit
	checker traffic.Checker
}

func (s *limiterSet) get(r *config.Route) (traffic.Checker, error) {
	if e, ok := s.m[r.Name]; ok && e.spec == *r.RateLimit {
		return e.checker, nil
	}
	rl := r.RateLimit
	if rl.Requests <= 0 || rl.Per <= 0 {
		return nil, fmt.Errorf("invalid rate %d per %v", rl.Requests, rl.Per.D())
	}
	c := traffic.NewLimiter(rl.Requests, rl.Per.D(), rl.Burst, 0)
	if s.m == nil {
		s.m = make(map[string]limiterEntry)
	}
	s.m[r.Name] = limiterEntry{spec: *rl, checker: c}
	return c, nil
}

// retain forgets the limiters of routes cfg no longer has; call it once cfg
// is applied.
func (s *limiterSet) retain(cfg *config.Config) {
	keep := make(map[string]bool, len(cfg.Routes))
	for _, r := range cfg.Routes {
		if r.RateLimit != nil {
			if e, ok := s.m[r.Name]; ok && e.spec == *r.RateLimit {
				keep[r.Name] = true
			}
		}
	}
	for name := range s.m {
		if !keep[name] {
			delete(s.m, name)
		}
	}
}
