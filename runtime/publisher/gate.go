package publisher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicegw/sluice/runtime/fleet"
)

// Gate is what a metric-gated canary is judged on (apply --canary SEL
// --bake D): the publisher promotes it when the bake ends, or aborts it as
// soon as the canary nodes' share of 5xx exceeds MaxErrorRate percent or
// their p99 latency exceeds the stable nodes' by more than MaxP99Increase
// percent.
type Gate struct {
	Bake           time.Duration `json:"bake"`
	MaxErrorRate   float64       `json:"max_error_rate"`   // percent of requests
	MaxP99Increase float64       `json:"max_p99_increase"` // percent over the stable nodes' p99
	// Started is when the canary was published: the bake ends Bake later.
	Started time.Time `json:"started"`
}

// Defaults for a gate's bounds, as README.md ("Metric-gated canary") documents them.
const (
	DefaultMaxErrorRate   = 1.0
	DefaultMaxP99Increase = 50.0
)

// Judging needs enough samples: below these, a bound is not checked (one
// 5xx out of three requests is not a 33% error rate worth an abort; the
// p99 of 20 requests is their slowest, often a cold connection), and a
// canary that served fewer than minGateRequests in its whole bake is
// aborted, not promoted on no evidence.
const (
	minGateRequests = 20
	minGateLatency  = 100
)

// GateInterval is how often the publisher judges a gated canary.
var GateInterval = 500 * time.Millisecond

func (g *Gate) check() error {
	switch {
	case g.Bake <= 0:
		return fmt.Errorf("--bake %s: want a positive duration: %w", g.Bake, fleet.ErrBadRequest)
	case g.MaxErrorRate < 0 || g.MaxErrorRate > 100:
		return fmt.Errorf("--max-error-rate %g: want 0 to 100 (percent): %w", g.MaxErrorRate, fleet.ErrBadRequest)
	case g.MaxP99Increase < 0:
		return fmt.Errorf("--max-p99-increase %g: want 0 or more (percent): %w", g.MaxP99Increase, fleet.ErrBadRequest)
	}
	return nil
}

// gateRun is the publisher's memory of the gated canary it is judging:
// each node's first report on the revision it should run during the bake,
// which later reports are measured against.
type gateRun struct {
	revision int64
	base     map[string]fleet.NodeStatus // node id → first report seen on its revision
}

// RunGates judges gated canaries until ctx is done.
func (p *Publisher) RunGates(ctx context.Context) {
	t := time.NewTicker(GateInterval)
	defer t.Stop()
	var run *gateRun
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var err error
		if run, err = p.judge(ctx, run); err != nil && ctx.Err() == nil {
			p.log.Warn("canary gate", "error", err)
		}
	}
}

// GateNumbers are what a gated canary was judged on, kept in the history.
type GateNumbers struct {
	CanaryRequests int64
	Canary5xx      int64
	ErrorRate      float64 // percent; NaN without enough requests
	CanaryP99      float64 // seconds; NaN without enough samples
	StableP99      float64
	P99Increase    float64 // percent; NaN when either p99 is
	CanaryNodes    int
	StableNodes    int
	StableRequests int64
}

func (n *GateNumbers) history() map[string]float64 {
	out := map[string]float64{
		"canary_requests": float64(n.CanaryRequests), "canary_5xx": float64(n.Canary5xx),
		"canary_nodes": float64(n.CanaryNodes), "stable_nodes": float64(n.StableNodes),
		"stable_requests": float64(n.StableRequests),
	}
	put := func(k string, v float64) {
		if !math.IsNaN(v) {
			out[k] = math.Round(v*1000) / 1000
		}
	}
	put("canary_error_rate_pct", n.ErrorRate)
	put("canary_p99_ms", n.CanaryP99*1000)
	put("stable_p99_ms", n.StableP99*1000)
	put("p99_increase_pct", n.P99Increase)
	return out
}

// judge looks at the canary once: promote, abort or wait.
func (p *Publisher) judge(ctx context.Context, run *gateRun) (*gateRun, error) {
	canary, err := p.envelope(ctx, fleet.CanaryKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return run, err
	}
	e, err := p.b.Config.Get(ctx, fleet.RevisionKey(canary.Revision))
	if err != nil {
		return run, fmt.Errorf("revision %d: %w", canary.Revision, err)
	}
	var rec Revision
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return run, fmt.Errorf("revision %d: %w", canary.Revision, err)
	}
	if rec.Gate == nil {
		return nil, nil // a canary promoted or aborted by hand
	}
	if run == nil || run.revision != canary.Revision {
		run = &gateRun{revision: canary.Revision, base: map[string]fleet.NodeStatus{}}
	}
	stable, err := p.envelope(ctx, fleet.StableKey)
	if err != nil {
		return run, fmt.Errorf("stable revision: %w", err)
	}
	sel, err := fleet.ParseSelector(canary.Selector)
	if err != nil {
		return run, err
	}
	nodes, err := fleet.ListNodes(ctx, p.b)
	if err != nil {
		return run, err
	}
	n := measure(run, nodes, sel, canary.Revision, stable.Revision)
	g := rec.Gate
	why := ""
	switch {
	case n.CanaryRequests >= minGateRequests && n.ErrorRate > g.MaxErrorRate:
		why = fmt.Sprintf("canary 5xx rate %.2f%% (%d of %d requests) exceeds --max-error-rate %g%%",
			n.ErrorRate, n.Canary5xx, n.CanaryRequests, g.MaxErrorRate)
	case !math.IsNaN(n.P99Increase) && n.P99Increase > g.MaxP99Increase:
		why = fmt.Sprintf("canary p99 %.1f ms is %.0f%% over the stable nodes' %.1f ms, more than --max-p99-increase %g%%",
			n.CanaryP99*1000, n.P99Increase, n.StableP99*1000, g.MaxP99Increase)
	case time.Since(g.Started) < g.Bake:
		return run, nil // still baking
	case n.CanaryRequests < minGateRequests:
		why = fmt.Sprintf("the canary nodes served %d requests in the %s bake, fewer than the %d needed to judge it",
			n.CanaryRequests, g.Bake, minGateRequests)
	}
	entry := HistoryEntry{Who: PublisherWho, Revision: canary.Revision, Digest: canary.Digest, Selector: canary.Selector,
		Numbers: n.history()}
	if why != "" {
		entry.Action, entry.Detail = ActionAbort, why
		if _, err := p.abortRevision(ctx, canary.Revision); err != nil {
			if errors.Is(err, fleet.ErrNoCanary) {
				return nil, nil // decided by hand meanwhile
			}
			return run, err
		}
		entry.Outcome = OutcomeAborted
		p.log.Warn("gated canary aborted", "revision", canary.Revision, "reason", why)
	} else {
		entry.Action = ActionPromote
		entry.Detail = fmt.Sprintf("baked %s: 5xx %s, p99 %s", g.Bake, pct(n.ErrorRate), p99Text(n))
		if _, err := p.promoteRevision(ctx, canary.Revision); err != nil {
			if errors.Is(err, fleet.ErrNoCanary) {
				return nil, nil
			}
			return run, err
		}
		entry.Outcome = OutcomePromoted
		p.log.Info("gated canary promoted", "revision", canary.Revision, "detail", entry.Detail)
	}
	p.audit(ctx, entry)
	return nil, nil
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f%%", v)
}

func p99Text(n *GateNumbers) string {
	if math.IsNaN(n.CanaryP99) {
		return "n/a"
	}
	s := fmt.Sprintf("%.1f ms", n.CanaryP99*1000)
	if !math.IsNaN(n.StableP99) {
		s += fmt.Sprintf(" (stable %.1f ms)", n.StableP99*1000)
	}
	return s
}

// measure sums, over the canary nodes running the canary and the other
// nodes running stable, what each served since its first report on that
// revision during this bake.
func measure(run *gateRun, nodes []fleet.NodeStatus, sel fleet.Selector, canaryRev, stableRev int64) *GateNumbers {
	n := &GateNumbers{}
	canaryLat, stableLat := &fleet.Latency{}, &fleet.Latency{}
	for _, st := range nodes {
		inCanary := sel.Matches(st.ID, st.Labels)
		want := stableRev
		if inCanary {
			want = canaryRev
		}
		if st.Revision != want {
			delete(run.base, st.ID)
			continue
		}
		base, ok := run.base[st.ID]
		// A report from before the node knew of the canary has no
		// latency to measure from: start from the first one that has.
		if !ok || base.Revision != st.Revision || (base.Latency == nil && st.Latency != nil) {
			run.base[st.ID] = st
			base = st
		}
		req := st.Stats.Requests - base.Stats.Requests
		e5 := st.Stats.Errors5xx - base.Stats.Errors5xx
		if req < 0 { // restarted
			req, e5 = st.Stats.Requests, st.Stats.Errors5xx
		}
		lat := st.Latency.Since(base.Latency)
		if inCanary {
			n.CanaryNodes++
			n.CanaryRequests += req
			n.Canary5xx += e5
			canaryLat.Add(lat)
		} else {
			n.StableNodes++
			n.StableRequests += req
			stableLat.Add(lat)
		}
	}
	n.ErrorRate = math.NaN()
	if n.CanaryRequests > 0 {
		n.ErrorRate = 100 * float64(n.Canary5xx) / float64(n.CanaryRequests)
	}
	n.CanaryP99, n.StableP99, n.P99Increase = math.NaN(), math.NaN(), math.NaN()
	if canaryLat.Count >= minGateLatency {
		n.CanaryP99 = canaryLat.Quantile(0.99)
	}
	if stableLat.Count >= minGateLatency {
		n.StableP99 = stableLat.Quantile(0.99)
	}
	if !math.IsNaN(n.CanaryP99) && !math.IsNaN(n.StableP99) && n.StableP99 > 0 {
		n.P99Increase = 100 * (n.CanaryP99 - n.StableP99) / n.StableP99
	}
	return n
}
