package filter

import (
	"github.com/prometheus/client_golang/prometheus"
)

// The node's own series about its filters, by filter name (and phase:
// "request" or "response"). They live on the Runtime, not the Module, so a
// counter carries on across snapshots that reload the same filter. The
// edge registers Runtime.Collector on its /metrics registry.
const (
	metricCallDuration     = "sluice_filter_call_duration_seconds"
	metricTraps            = "sluice_filter_traps_total"
	metricTimeouts         = "sluice_filter_timeouts_total"
	metricInstancesCreated = "sluice_filter_instances_created_total"
	metricSeriesDropped    = "sluice_filter_metric_series_dropped_total"
	// guestMetricPrefix is put before the name a guest defines a metric
	// by (define_metric): "hits" is exported as sluice_filter_hits.
	guestMetricPrefix = "sluice_filter_"
)

// reservedGuestNames are the names a guest may not define, since with the
// prefix they are the host's own series (the edge's sluice_filter_instances
// included).
var reservedGuestNames = map[string]bool{
	"call_duration_seconds":       true,
	"traps_total":                 true,
	"timeouts_total":              true,
	"instances_created_total":     true,
	"metric_series_dropped_total": true,
	"instances":                   true,
}

// Phase labels of the call metrics.
const (
	phaseLabelRequest  = "request"
	phaseLabelResponse = "response"
)

// hostMetrics are the runtime's series about guest calls.
type hostMetrics struct {
	calls    *prometheus.HistogramVec
	traps    *prometheus.CounterVec
	timeouts *prometheus.CounterVec
	created  *prometheus.CounterVec
	guests   *guestMetrics
}

func newHostMetrics() *hostMetrics {
	return &hostMetrics{
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: metricCallDuration,
			Help: "Time of one guest call (handle_request or handle_response), by filter and phase.",
			// A header-sized call of a small guest is ~2 µs, of a Go guest
			// 4-7 µs; a body rewrite or a slow guest reaches milliseconds.
			Buckets: []float64{2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, .01, .05, .1},
		}, []string{"filter", "phase"}),
		traps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricTraps,
			Help: "Guest calls that trapped, exited, misused a host function or ran out of memory, by filter and phase.",
		}, []string{"filter", "phase"}),
		timeouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricTimeouts,
			Help: "Guest calls stopped at the filter's deadline (limits.timeout), by filter and phase.",
		}, []string{"filter", "phase"}),
		created: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricInstancesCreated,
			Help: "Instances created (first one at load, then on demand up to limits.instances), by filter.",
		}, []string{"filter"}),
		guests: newGuestMetrics(),
	}
}

// moduleMetrics are a module's resolved series, so a call pays no label
// hashing. Index 0 is the request phase, 1 the response phase.
type moduleMetrics struct {
	calls    [2]prometheus.Observer
	traps    [2]prometheus.Counter
	timeouts [2]prometheus.Counter
	created  prometheus.Counter
}

func (h *hostMetrics) forModule(name string) moduleMetrics {
	var mm moduleMetrics
	for i, phase := range [2]string{phaseLabelRequest, phaseLabelResponse} {
		mm.calls[i] = h.calls.WithLabelValues(name, phase)
		mm.traps[i] = h.traps.WithLabelValues(name, phase)
		mm.timeouts[i] = h.timeouts.WithLabelValues(name, phase)
	}
	mm.created = h.created.WithLabelValues(name)
	return mm
}

// phaseIndex maps a guest call to its phase label index; false for the
// calls that initialise an instance, which are not request work.
func phaseIndex(op string) (int, bool) {
	switch op {
	case exportRequest, pwOnRequestHeaders.name, pwOnRequestBody.name, pwOnRequestTrailers.name:
		return 0, true
	case exportResponse, pwOnResponseHeaders.name, pwOnResponseBody.name, pwOnResponseTrailers.name:
		return 1, true
	}
	return 0, false
}

// Collector returns the filters' series for a Prometheus registry: guest
// calls, traps, timeouts, instances created, and the metrics guests define
// through the sluice host module.
func (r *Runtime) Collector() prometheus.Collector { return r.metrics }

// Describe describes nothing: guest families are defined at run time, so
// the collector is an unchecked one (a checked collector may only collect
// what it described).
func (h *hostMetrics) Describe(chan<- *prometheus.Desc) {}

func (h *hostMetrics) Collect(ch chan<- prometheus.Metric) {
	h.calls.Collect(ch)
	h.traps.Collect(ch)
	h.timeouts.Collect(ch)
	h.created.Collect(ch)
	h.guests.collect(ch)
}
