package sluice

import (
	"strings"

	"github.com/sluicegw/sluice/sdk/internal/abi"
)

// Metrics a filter defines and records, exported by the Sluice node on its
// /metrics as sluice_filter_NAME with a "filter" label (the filter's name in
// the config) before the filter's own labels. Define them in package
// variables or the constructor of [HandleNew], so they exist from the
// start; defining the same metric again returns the same one.
//
// Names and label names are lower case letters, digits and _ (not starting
// with a digit, at most 64 bytes); a filter has at most 64 metrics of at
// most 8 labels each. A bad name stops the filter while it initialises, so
// Sluice refuses it when it loads the config. Each metric holds at most 1000
// series (combinations of label values) on a node; values for further ones
// are dropped and counted in sluice_filter_metric_series_dropped_total, so
// keep label values to small sets (a status class, a rule name), never
// request data such as a path or a user.
//
// These use Sluice's own host module "sluice": a filter that defines a
// metric runs on Sluice only (other http-wasm hosts refuse its import). A
// filter that defines none imports nothing from it.

// Counter is a metric that only goes up.
type Counter struct{ id int32 }

// Gauge is a metric that is set to a value.
type Gauge struct{ id int32 }

// Histogram is a metric that counts observations into buckets (Prometheus'
// defaults, 5 ms to 10 s: suited to durations in seconds), with their sum.
type Histogram struct{ id int32 }

// NewCounter defines the counter name with labelNames.
func NewCounter(name string, labelNames ...string) Counter {
	return Counter{abi.DefineMetric(abi.MetricCounter, name, joinNUL(labelNames))}
}

// NewGauge defines the gauge name with labelNames.
func NewGauge(name string, labelNames ...string) Gauge {
	return Gauge{abi.DefineMetric(abi.MetricGauge, name, joinNUL(labelNames))}
}

// NewHistogram defines the histogram name with labelNames.
func NewHistogram(name string, labelNames ...string) Histogram {
	return Histogram{abi.DefineMetric(abi.MetricHistogram, name, joinNUL(labelNames))}
}

// Add adds v (>= 0) to the series of labelValues, one per label name in
// the order they were defined.
func (c Counter) Add(v float64, labelValues ...string) {
	abi.RecordMetric(c.id, v, joinNUL(labelValues))
}

// Inc adds 1 to the series of labelValues.
func (c Counter) Inc(labelValues ...string) { c.Add(1, labelValues...) }

// Set sets the series of labelValues to v.
func (g Gauge) Set(v float64, labelValues ...string) {
	abi.RecordMetric(g.id, v, joinNUL(labelValues))
}

// Observe records v in the series of labelValues.
func (h Histogram) Observe(v float64, labelValues ...string) {
	abi.RecordMetric(h.id, v, joinNUL(labelValues))
}

// joinNUL encodes strings as the sluice module takes them: each followed
// by a NUL.
func joinNUL(ss []string) string {
	switch len(ss) {
	case 0:
		return ""
	case 1:
		return ss[0] + "\x00"
	}
	var b strings.Builder
	for _, s := range ss {
		b.WriteString(s)
		b.WriteByte(0)
	}
	return b.String()
}
