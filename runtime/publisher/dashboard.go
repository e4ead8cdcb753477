package publisher

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicegw/sluice/runtime/edge"
	"github.com/sluicegw/sluice/runtime/fleet"
)

// The fleet page's charts: the publisher follows every node's status
// reports and keeps, per node and route, what was served between two
// consecutive reports, for the last DashboardWindow.
const (
	// DashboardWindow is how far back the charts reach.
	DashboardWindow = 15 * time.Minute
	// dashboardStep is the width of the time slots in which the nodes of
	// one track (stable or canary) are summed: a node reports every
	// fleet.StatusInterval, so each slot holds about one report per node.
	dashboardStep = fleet.StatusInterval
	// maxSamples bounds one series whatever the report rate: reports
	// every 5 s fill 180 in the window; reports on changes add a few.
	maxSamples = 720
)

// Sample is what one node served on one route (or all of them) between two
// consecutive status reports.
type Sample struct {
	Time     time.Time // of the later report
	Seconds  float64   // between the two reports
	Revision int64     // the node ran at the later report
	Requests int64
	Errors   int64 // 5xx
	Latency  *fleet.Latency
}

// dashboard is the publisher's bounded memory of recent samples.
type dashboard struct {
	mu    sync.Mutex
	nodes map[string]*nodeSamples
	now   func() time.Time
	// forgotAt is when ingest last swept every node: a sweep per report
	// made the publisher's work per round of reports grow with the square
	// of the fleet (7% of a 1,000-node run's CPU); readers sweep anyway.
	forgotAt time.Time
}

type nodeSamples struct {
	last   fleet.NodeStatus
	total  []Sample
	routes map[string][]Sample
}

func newDashboard() *dashboard {
	return &dashboard{nodes: map[string]*nodeSamples{}, now: time.Now}
}

// run follows the node-status bucket until ctx ends, a sample per route
// for each report after a node's first.
func (d *dashboard) run(ctx context.Context, nodes jetstream.KeyValue) {
	for ctx.Err() == nil {
		w, err := nodes.WatchAll(ctx)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		for e := range w.Updates() {
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			var st fleet.NodeStatus
			if json.Unmarshal(e.Value(), &st) == nil {
				d.ingest(st)
			}
		}
		_ = w.Stop()
	}
}

// ingest turns st and the node's previous report into samples.
func (d *dashboard) ingest(st fleet.NodeStatus) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ns := d.nodes[st.ID]
	if ns == nil {
		ns = &nodeSamples{routes: map[string][]Sample{}}
		d.nodes[st.ID] = ns
	}
	prev := ns.last
	if !st.LastSeen.After(prev.LastSeen) {
		return // a replayed or reordered report
	}
	ns.last = st
	if prev.LastSeen.IsZero() {
		return // the first report: nothing to subtract it from
	}
	secs := st.LastSeen.Sub(prev.LastSeen).Seconds()
	total := Sample{Time: st.LastSeen, Seconds: secs, Revision: st.Revision, Latency: &fleet.Latency{}}
	for name, cur := range st.Routes {
		s := routeSample(cur, prev.Routes[name])
		s.Time, s.Seconds, s.Revision = st.LastSeen, secs, st.Revision
		ns.routes[name] = appendSample(ns.routes[name], s, d.now())
		total.Requests += s.Requests
		total.Errors += s.Errors
		total.Latency.Add(s.Latency)
	}
	ns.total = appendSample(ns.total, total, d.now())
	if now := d.now(); now.Sub(d.forgotAt) >= dashboardStep {
		d.forget(now)
		d.forgotAt = now
	}
}

// routeSample is what a route served between two reports; a node that
// restarted in between (its totals went down) counts from zero.
func routeSample(cur, prev edge.RouteStats) Sample {
	if cur.Requests < prev.Requests {
		prev = edge.RouteStats{}
	}
	now, before := latencyOf(cur), latencyOf(prev)
	return Sample{Requests: cur.Requests - prev.Requests, Errors: max(0, cur.Errors5xx-prev.Errors5xx), Latency: now.Since(before)}
}

func latencyOf(r edge.RouteStats) *fleet.Latency {
	if r.LatencyBounds == nil {
		return nil
	}
	return &fleet.Latency{Bounds: r.LatencyBounds, Counts: r.LatencyCounts, Count: r.LatencyCount}
}

// appendSample adds s and drops what is older than the window or past
// maxSamples.
func appendSample(ss []Sample, s Sample, now time.Time) []Sample {
	ss = append(ss, s)
	cut := 0
	for cut < len(ss) && (now.Sub(ss[cut].Time) > DashboardWindow || len(ss)-cut > maxSamples) {
		cut++
	}
	return ss[cut:]
}

// forget drops nodes whose last report left the window, and the routes a
// node no longer reports once their samples did.
func (d *dashboard) forget(now time.Time) {
	for id, ns := range d.nodes {
		if now.Sub(ns.last.LastSeen) > DashboardWindow {
			delete(d.nodes, id)
			continue
		}
		for name, ss := range ns.routes {
			if len(ss) == 0 || now.Sub(ss[len(ss)-1].Time) > DashboardWindow {
				delete(ns.routes, name)
			}
		}
	}
}

// ChartPoint is one point of a chart: what was served in an interval, as
// counts, rates and latency quantiles (nil when nothing was measured).
type ChartPoint struct {
	Time      time.Time `json:"t"`
	Seconds   float64   `json:"seconds"`
	Requests  int64     `json:"requests"`
	Errors5xx int64     `json:"errors_5xx"`
	RPS       float64   `json:"rps"`
	ErrorRPS  float64   `json:"error_rps"`
	P50       *float64  `json:"p50_ms"`
	P99       *float64  `json:"p99_ms"`
}

func point(s Sample) ChartPoint {
	p := ChartPoint{Time: s.Time, Seconds: s.Seconds, Requests: s.Requests, Errors5xx: s.Errors}
	if s.Seconds > 0 {
		p.RPS, p.ErrorRPS = float64(s.Requests)/s.Seconds, float64(s.Errors)/s.Seconds
	}
	if s.Latency != nil && s.Latency.Count > 0 {
		p50, p99 := s.Latency.Quantile(0.5)*1000, s.Latency.Quantile(0.99)*1000
		p.P50, p.P99 = &p50, &p99
	}
	return p
}

func points(ss []Sample) []ChartPoint {
	out := make([]ChartPoint, len(ss))
	for i, s := range ss {
		out[i] = point(s)
	}
	return out
}

// NodeCharts are one node's series: all routes, and each route.
type NodeCharts struct {
	ID       string                  `json:"id"`
	Revision int64                   `json:"revision"`
	Total    []ChartPoint            `json:"total"`
	Routes   map[string][]ChartPoint `json:"routes"`
}

// TrackCharts are the series of every node while it ran one revision,
// summed in slots of dashboardStep.
type TrackCharts struct {
	Revision int64                   `json:"revision"`
	Total    []ChartPoint            `json:"total"`
	Routes   map[string][]ChartPoint `json:"routes"`
}

// nodeCharts returns every node's series, by id.
func (d *dashboard) nodeCharts() []NodeCharts {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.forget(d.now())
	out := []NodeCharts{}
	for id, ns := range d.nodes {
		nc := NodeCharts{ID: id, Revision: ns.last.Revision, Total: points(ns.total), Routes: map[string][]ChartPoint{}}
		for name, ss := range ns.routes {
			nc.Routes[name] = points(ss)
		}
		out = append(out, nc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// track sums, slot by slot, the samples every node served on rev.
func (d *dashboard) track(rev int64) *TrackCharts {
	d.mu.Lock()
	defer d.mu.Unlock()
	total := map[int64]*Sample{}
	routes := map[string]map[int64]*Sample{}
	add := func(slots map[int64]*Sample, s Sample) {
		if s.Revision != rev {
			return
		}
		at := s.Time.Truncate(dashboardStep)
		slot := slots[at.UnixNano()]
		if slot == nil {
			slot = &Sample{Time: at.Add(dashboardStep), Seconds: dashboardStep.Seconds(), Revision: rev, Latency: &fleet.Latency{}}
			slots[at.UnixNano()] = slot
		}
		slot.Requests += s.Requests
		slot.Errors += s.Errors
		slot.Latency.Add(s.Latency)
	}
	for _, ns := range d.nodes {
		for _, s := range ns.total {
			add(total, s)
		}
		for name, ss := range ns.routes {
			if routes[name] == nil {
				routes[name] = map[int64]*Sample{}
			}
			for _, s := range ss {
				add(routes[name], s)
			}
		}
	}
	t := &TrackCharts{Revision: rev, Total: slotPoints(total), Routes: map[string][]ChartPoint{}}
	for name, slots := range routes {
		if len(slots) > 0 {
			t.Routes[name] = slotPoints(slots)
		}
	}
	return t
}

func slotPoints(slots map[int64]*Sample) []ChartPoint {
	keys := make([]int64, 0, len(slots))
	for k := range slots {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	out := make([]ChartPoint, len(keys))
	for i, k := range keys {
		out[i] = point(*slots[k])
	}
	return out
}
