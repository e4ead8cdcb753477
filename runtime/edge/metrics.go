package edge

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the node's Prometheus series, on a registry of its own so
// several nodes can live in one process (tests, `sluice dev`).
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	reloads  *prometheus.CounterVec
	openConn prometheus.Gauge
	policy   *prometheus.HistogramVec
	policyBy sync.Map // policy name → prometheus.Observer

	// children caches resolved series per (route, status), so the hot path
	// does one map read instead of hashing label values.
	mu       sync.RWMutex
	children map[seriesKey]series

	// Totals for Node.Stats (the fleet status report), kept beside the
	// Prometheus series because reading those back means a full gather.
	served, failed5xx, conns atomic.Int64
}

type seriesKey struct {
	route  string
	status int
}

type series struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

func newMetrics(n *Node) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_requests_total",
			Help: "Requests served, by route and status code. Route is empty when no route matched.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sluice_request_duration_seconds",
			Help:    "Time from request start to the end of the response, by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_config_reloads_total",
			Help: "Snapshot builds, by result (ok or error).",
		}, []string{"result"}),
		openConn: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_open_connections",
			Help: "Client connections currently open on the data listeners.",
		}),
		policy: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sluice_policy_duration_seconds",
			Help:    "Time to evaluate a route's OPA policy, by policy.",
			Buckets: []float64{5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, .01},
		}, []string{"policy"}),
		children: map[seriesKey]series{},
	}
	m.registry.MustRegister(m.requests, m.latency, m.reloads, m.openConn, m.policy,
		&snapshotCollector{node: n}, &wasmMetricsCollector{node: n},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	m.served.Add(1)
	if status >= 500 {
		m.failed5xx.Add(1)
	}
	k := seriesKey{route, status}
	m.mu.RLock()
	s, ok := m.children[k]
	m.mu.RUnlock()
	if !ok {
		s = series{
			count:   m.requests.WithLabelValues(route, strconv.Itoa(status)),
			latency: m.latency.WithLabelValues(route),
		}
		m.mu.Lock()
		m.children[k] = s
		m.mu.Unlock()
	}
	s.count.Inc()
	s.latency.Observe(d.Seconds())
}

func (m *metrics) observePolicy(name string, d time.Duration) {
	o, ok := m.policyBy.Load(name)
	if !ok {
		o, _ = m.policyBy.LoadOrStore(name, m.policy.WithLabelValues(name))
	}
	o.(prometheus.Observer).Observe(d.Seconds())
}

// snapshotCollector reads the running snapshot at scrape time: endpoint
// health and the snapshot's identity. Nothing is updated on the hot path.
type snapshotCollector struct{ node *Node }

var (
	endpointHealthyDesc = prometheus.NewDesc("sluice_upstream_endpoint_healthy",
		"1 when the endpoint is healthy and not ejected, else 0.", []string{"upstream", "endpoint"}, nil)
	endpointInflightDesc = prometheus.NewDesc("sluice_upstream_endpoint_inflight",
		"Requests in flight to the endpoint.", []string{"upstream", "endpoint"}, nil)
	snapshotDesc = prometheus.NewDesc("sluice_snapshot_info",
		"The running snapshot: revision and digest as labels, value 1.", []string{"revision", "digest"}, nil)
	cacheRequestsDesc = prometheus.NewDesc("sluice_cache_requests_total",
		"Requests through a route's response cache since the snapshot was built, by result (hit or miss).", []string{"route", "result"}, nil)
	cacheBytesDesc = prometheus.NewDesc("sluice_cache_bytes",
		"Bytes held by a route's response cache.", []string{"route"}, nil)
	cacheKeysDesc = prometheus.NewDesc("sluice_cache_keys",
		"Keys held by a route's response cache.", []string{"route"}, nil)
	filterInstancesDesc = prometheus.NewDesc("sluice_filter_instances",
		"A filter's live wasm instances, by state: idle, busy (held by a request), and waiting (requests waiting at the cap).",
		[]string{"filter", "state"}, nil)
)

func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- endpointHealthyDesc
	ch <- endpointInflightDesc
	ch <- snapshotDesc
	ch <- cacheRequestsDesc
	ch <- cacheBytesDesc
	ch <- cacheKeysDesc
	ch <- filterInstancesDesc
}

func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.node.acquire()
	if s == nil {
		return
	}
	defer s.release()
	ch <- prometheus.MustNewConstMetric(snapshotDesc, prometheus.GaugeValue, 1, strconv.FormatInt(s.Revision, 10), s.Digest)
	for name, p := range s.pools {
		for _, e := range p.Endpoints() {
			v := 0.0
			if e.Healthy && !e.Ejected {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(endpointHealthyDesc, prometheus.GaugeValue, v, name, e.URL)
			ch <- prometheus.MustNewConstMetric(endpointInflightDesc, prometheus.GaugeValue, float64(e.InFlight), name, e.URL)
		}
	}
	for i, r := range s.Config.Routes {
		c := s.compiled[i].cache
		if c == nil {
			continue
		}
		st := c.Stats()
		ch <- prometheus.MustNewConstMetric(cacheRequestsDesc, prometheus.CounterValue, float64(st.Hits), r.Name, "hit")
		ch <- prometheus.MustNewConstMetric(cacheRequestsDesc, prometheus.CounterValue, float64(st.Misses), r.Name, "miss")
		ch <- prometheus.MustNewConstMetric(cacheBytesDesc, prometheus.GaugeValue, float64(st.Bytes), r.Name)
		ch <- prometheus.MustNewConstMetric(cacheKeysDesc, prometheus.GaugeValue, float64(st.Keys), r.Name)
	}
	for name, m := range s.modules {
		st := m.Stats()
		ch <- prometheus.MustNewConstMetric(filterInstancesDesc, prometheus.GaugeValue, float64(st.Idle), name, "idle")
		ch <- prometheus.MustNewConstMetric(filterInstancesDesc, prometheus.GaugeValue, float64(st.Live-st.Idle), name, "busy")
		ch <- prometheus.MustNewConstMetric(filterInstancesDesc, prometheus.GaugeValue, float64(st.Waiters), name, "waiting")
	}
}

// Stats are a node's request totals since it started.
type Stats struct {
	Requests        int64 `json:"requests"`
	Errors5xx       int64 `json:"errors_5xx"`
	OpenConnections int64 `json:"open_connections"`
}

// Stats returns the node's request totals, for status reports.
func (n *Node) Stats() Stats {
	m := n.metrics
	return Stats{Requests: m.served.Load(), Errors5xx: m.failed5xx.Load(), OpenConnections: m.conns.Load()}
}
