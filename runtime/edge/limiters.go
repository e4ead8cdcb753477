package edge

import (
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/traffic"
)

// limiterSet keeps each route's rate limiter across snapshots, so a config
// push does not hand every client a full bucket again. A route keeps its
// limiter while its name and rate_limit stay the same. Fleet-scope limiters
// share their buckets over nc; without nc they fall back to node scope
// (see RATIONALE.md, "Fleet-scope rate limits").
type limiterSet struct {
	nc    *nats.Conn
	sync  time.Duration
	now   func() time.Time
	log   *slog.Logger
	m     map[limiterID]traffic.Checker
	warns map[string]bool // routes already warned about the fallback
}

type limiterID struct {
	route string
	spec  config.RateLimit
}

func (s *limiterSet) get(r *config.Route) (traffic.Checker, error) {
	id := limiterID{r.Name, *r.RateLimit}
	if c, ok := s.m[id]; ok {
		return c, nil
	}
	rl := r.RateLimit
	if rl.Requests <= 0 || rl.Per <= 0 {
		return nil, fmt.Errorf("invalid rate %d per %v", rl.Requests, rl.Per.D())
	}
	local := traffic.NewLimiter(rl.Requests, rl.Per.D(), rl.Burst, 0)
	var c traffic.Checker = local
	if rl.Scope == config.ScopeFleet {
		if s.nc == nil {
			if !s.warns[r.Name] {
				s.log.Warn("rate_limit scope fleet without NATS: limiting per node", "route", r.Name)
				if s.warns == nil {
					s.warns = map[string]bool{}
				}
				s.warns[r.Name] = true
			}
		} else {
			f, err := traffic.NewFleetLimiter(s.nc, fleetSubject(id), local, s.sync, s.now, s.log)
			if err != nil {
				return nil, err
			}
			c = f
		}
	}
	if s.m == nil {
		s.m = make(map[limiterID]traffic.Checker)
	}
	s.m[id] = c
	return c, nil
}

// fleetSubject names a limit on NATS by route and settings, so nodes still
// on an older config never mix their counts with the new limit's.
func fleetSubject(id limiterID) string {
	spec := fmt.Sprintf("%s|%d|%d|%d|%s", id.route, id.spec.Requests, id.spec.Per.D(), id.spec.Burst, id.spec.Key)
	return fleet.RateLimitSubjectPrefix + strconv.FormatUint(traffic.HashKey(spec), 16)
}

// retain closes and forgets the limiters cfg no longer uses; call it once
// cfg is applied (nil: close them all).
func (s *limiterSet) retain(cfg *config.Config) {
	keep := map[limiterID]bool{}
	if cfg != nil {
		for _, r := range cfg.Routes {
			if r.RateLimit != nil {
				keep[limiterID{r.Name, *r.RateLimit}] = true
			}
		}
	}
	for id, c := range s.m {
		if !keep[id] {
			if f, ok := c.(*traffic.FleetLimiter); ok {
				f.Close()
			}
			delete(s.m, id)
		}
	}
}
