package filter

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics a guest defines through the sluice host module
// (hostfuncs_sluice_metrics.go). A metric is a family shared by every
// filter that defines the same name, exported as sluice_filter_NAME with a
// "filter" label before the guest's own labels. Cardinality is bounded:
// past maxSeriesPerMetric series in a family, a new combination of label
// values is dropped and counted in sluice_filter_metric_series_dropped_total.
const (
	maxSeriesPerMetric   = 1000
	maxMetricsPerModule  = 64
	maxMetricLabels      = 8
	maxMetricNameBytes   = 64
	maxLabelValueBytes   = 256
	guestMetricHelp      = "Defined by a filter through the sluice host module."
	guestMetricLabelSelf = "filter"
)

// MetricKind (i32) is the first parameter of define_metric.
type MetricKind uint32

const (
	// MetricCounter (0): record_metric adds the value, which must be >= 0.
	MetricCounter MetricKind = 0
	// MetricGauge (1): record_metric sets the value.
	MetricGauge MetricKind = 1
	// MetricHistogram (2): record_metric observes the value, into
	// Prometheus' default buckets (5 ms to 10 s: suited to seconds).
	MetricHistogram MetricKind = 2
)

func (k MetricKind) String() string {
	switch k {
	case MetricCounter:
		return "counter"
	case MetricGauge:
		return "gauge"
	case MetricHistogram:
		return "histogram"
	}
	return fmt.Sprintf("kind %d", uint32(k))
}

// guestMetrics are every family guests defined on the runtime.
type guestMetrics struct {
	mu       sync.Mutex
	families map[string]*guestFamily // by the guest's name
	dropped  *prometheus.CounterVec
}

func newGuestMetrics() *guestMetrics {
	return &guestMetrics{
		families: map[string]*guestFamily{},
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricSeriesDropped,
			Help: "Values a filter recorded for a new series of one of its metrics beyond the cap of series per metric, dropped.",
		}, []string{"filter", "metric"}),
	}
}

// guestFamily is one metric name: its kind and labels are fixed by the
// first definition.
type guestFamily struct {
	name   string
	kind   MetricKind
	labels []string // the guest's, without "filter"
	vec    prometheus.Collector

	mu     sync.Mutex
	series map[string]struct{} // filter NUL label values: the cap's count
}

// define returns the family name, creating it; a second definition must
// match the first.
func (g *guestMetrics) define(name string, kind MetricKind, labels []string) (*guestFamily, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.families[name]; ok {
		if f.kind != kind || !slices.Equal(f.labels, labels) {
			return nil, fmt.Errorf("metric %q is already defined as a %s with labels %q (a filter's metric has one kind and one label set on a node)",
				name, f.kind, f.labels)
		}
		return f, nil
	}
	if other := g.suffixClash(name, kind); other != "" {
		return nil, fmt.Errorf("metric %q would clash with the histogram series of metric %q (_bucket, _count, _sum)", name, other)
	}
	f := &guestFamily{name: name, kind: kind, labels: labels, series: map[string]struct{}{}}
	all := append([]string{guestMetricLabelSelf}, labels...)
	full := guestMetricPrefix + name
	switch kind {
	case MetricCounter:
		f.vec = prometheus.NewCounterVec(prometheus.CounterOpts{Name: full, Help: guestMetricHelp}, all)
	case MetricGauge:
		f.vec = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: full, Help: guestMetricHelp}, all)
	case MetricHistogram:
		f.vec = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: full, Help: guestMetricHelp, Buckets: prometheus.DefBuckets}, all)
	}
	g.families[name] = f
	return f, nil
}

// histogramSuffixes are the series names a histogram adds to its own;
// another metric by one of those names would fail the whole scrape.
var histogramSuffixes = []string{"_bucket", "_count", "_sum"}

// suffixClash returns the metric whose histogram series name would
// collide with name (or name's with it), "" if none. Called with g.mu held.
func (g *guestMetrics) suffixClash(name string, kind MetricKind) string {
	for _, sfx := range histogramSuffixes {
		if base, ok := strings.CutSuffix(name, sfx); ok {
			if f := g.families[base]; f != nil && f.kind == MetricHistogram {
				return base
			}
		}
		if kind == MetricHistogram && g.families[name+sfx] != nil {
			return name + sfx
		}
	}
	return ""
}

func (g *guestMetrics) collect(ch chan<- prometheus.Metric) {
	g.dropped.Collect(ch)
	g.mu.Lock()
	fams := make([]*guestFamily, 0, len(g.families))
	for _, f := range g.families {
		fams = append(fams, f)
	}
	g.mu.Unlock()
	for _, f := range fams {
		f.vec.Collect(ch)
	}
}

// admit reports whether the family may hold the series key (new or not),
// counting it against the cap.
func (f *guestFamily) admit(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.series[key]; ok {
		return true
	}
	if len(f.series) >= maxSeriesPerMetric {
		return false
	}
	f.series[key] = struct{}{}
	return true
}

// child resolves the series of values (filter first).
func (f *guestFamily) child(values []string) (func(float64), error) {
	switch v := f.vec.(type) {
	case *prometheus.CounterVec:
		c, err := v.GetMetricWithLabelValues(values...)
		if err != nil {
			return nil, err
		}
		return c.Add, nil
	case *prometheus.GaugeVec:
		g, err := v.GetMetricWithLabelValues(values...)
		if err != nil {
			return nil, err
		}
		return g.Set, nil
	case *prometheus.HistogramVec:
		o, err := v.GetMetricWithLabelValues(values...)
		if err != nil {
			return nil, err
		}
		return o.Observe, nil
	}
	return nil, fmt.Errorf("metric %q: no series type", f.name)
}

// moduleMetric is one metric as a module defined it: its id is its index
// in the module's table. It caches the series the module recorded, by the
// label values as the guest passed them, so a record is one map read.
type moduleMetric struct {
	fam     *guestFamily
	dropped prometheus.Counter

	mu     sync.RWMutex
	series map[string]func(float64) // by raw label values; nil func: dropped
}

// defineMetric gives the module's id for a metric, defining it on the
// runtime on first use. The same name, kind and labels give the same id,
// so a guest that defines its metrics in every instance (rather than once,
// while initialising) gets the ids its image already holds.
func (m *Module) defineMetric(name string, kind MetricKind, labels []string) (int, error) {
	if err := checkMetricName(name); err != nil {
		return 0, err
	}
	if kind > MetricHistogram {
		return 0, fmt.Errorf("metric %q: unknown kind %d (0 counter, 1 gauge, 2 histogram)", name, uint32(kind))
	}
	if err := checkLabelNames(name, kind, labels); err != nil {
		return 0, err
	}
	m.metricsMu.Lock()
	defer m.metricsMu.Unlock()
	for id, mm := range m.guestMetrics {
		if mm.fam.name == name {
			if mm.fam.kind != kind || !slices.Equal(mm.fam.labels, labels) {
				return 0, fmt.Errorf("metric %q is already defined as a %s with labels %q", name, mm.fam.kind, mm.fam.labels)
			}
			return id, nil
		}
	}
	if len(m.guestMetrics) >= maxMetricsPerModule {
		return 0, fmt.Errorf("metric %q: a filter defines at most %d metrics", name, maxMetricsPerModule)
	}
	fam, err := m.rt.metrics.guests.define(name, kind, labels)
	if err != nil {
		return 0, err
	}
	m.guestMetrics = append(m.guestMetrics, &moduleMetric{
		fam:     fam,
		dropped: m.rt.metrics.guests.dropped.WithLabelValues(m.name, name),
		series:  map[string]func(float64){},
	})
	return len(m.guestMetrics) - 1, nil
}

// recordMetric records v in the series of metric id for the label values
// raw (each NUL-terminated, as the guest passed them).
func (m *Module) recordMetric(id uint32, v float64, raw []byte) error {
	m.metricsMu.RLock()
	if uint64(id) >= uint64(len(m.guestMetrics)) {
		n := len(m.guestMetrics)
		m.metricsMu.RUnlock()
		return fmt.Errorf("metric id %d is not defined (this filter defined %d)", id, n)
	}
	mm := m.guestMetrics[id]
	m.metricsMu.RUnlock()
	fam := mm.fam
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("metric %q: value %v is not a finite number", fam.name, v)
	}
	if fam.kind == MetricCounter && v < 0 {
		return fmt.Errorf("metric %q: a counter only goes up; got %v", fam.name, v)
	}
	mm.mu.RLock()
	rec, ok := mm.series[string(raw)] // no allocation for the lookup
	mm.mu.RUnlock()
	if !ok {
		values, err := splitLabelValues(fam, raw)
		if err != nil {
			return err
		}
		if fam.admit(m.name + "\x00" + string(raw)) {
			if rec, err = fam.child(append([]string{m.name}, values...)); err != nil {
				return fmt.Errorf("metric %q: %v", fam.name, err)
			}
		}
		mm.mu.Lock()
		if len(mm.series) < maxSeriesPerMetric { // a dropped key is remembered too, up to the cap
			mm.series[string(raw)] = rec
		}
		mm.mu.Unlock()
	}
	if rec == nil {
		mm.dropped.Inc()
		return nil
	}
	rec(v)
	return nil
}

// splitLabelValues reads raw as one NUL-terminated value per label.
func splitLabelValues(fam *guestFamily, raw []byte) ([]string, error) {
	values := splitNULs(raw)
	if len(values) != len(fam.labels) {
		return nil, fmt.Errorf("metric %q has %d label(s) %q; got %d value(s)", fam.name, len(fam.labels), fam.labels, len(values))
	}
	for i, v := range values {
		if len(v) > maxLabelValueBytes {
			return nil, fmt.Errorf("metric %q: value of label %q is %d bytes, more than %d", fam.name, fam.labels[i], len(v), maxLabelValueBytes)
		}
	}
	return values, nil
}

// splitNULs splits "a\0b\0" into [a b]; a missing last NUL is tolerated.
func splitNULs(raw []byte) []string {
	if len(raw) == 0 {
		return nil
	}
	s := strings.TrimSuffix(string(raw), "\x00")
	return strings.Split(s, "\x00")
}

// checkMetricName allows what Prometheus allows, less upper case and
// colons (kept for recording rules), and none of the host's own names.
func checkMetricName(name string) error {
	if err := checkIdent(name); err != nil {
		return fmt.Errorf("metric name %q: %v", name, err)
	}
	base := name
	for _, sfx := range histogramSuffixes {
		base = strings.TrimSuffix(base, sfx)
	}
	if reservedGuestNames[name] || reservedGuestNames[base] {
		return fmt.Errorf("metric name %q: %s%s is one of the node's own series", name, guestMetricPrefix, name)
	}
	return nil
}

func checkLabelNames(metric string, kind MetricKind, labels []string) error {
	if len(labels) > maxMetricLabels {
		return fmt.Errorf("metric %q: %d labels, at most %d", metric, len(labels), maxMetricLabels)
	}
	for i, l := range labels {
		if err := checkIdent(l); err != nil {
			return fmt.Errorf("metric %q: label name %q: %v", metric, l, err)
		}
		switch {
		case strings.HasPrefix(l, "__"):
			return fmt.Errorf("metric %q: label name %q: names starting with __ are Prometheus' own", metric, l)
		case l == guestMetricLabelSelf:
			return fmt.Errorf("metric %q: label name %q is set by the host to the filter's name", metric, l)
		case l == "le" && kind == MetricHistogram:
			return fmt.Errorf("metric %q: label name \"le\" is a histogram's bucket bound", metric)
		case slices.Contains(labels[:i], l):
			return fmt.Errorf("metric %q: label name %q given twice", metric, l)
		}
	}
	return nil
}

// checkIdent accepts [a-z_][a-z0-9_]*, at most maxMetricNameBytes long.
func checkIdent(s string) error {
	if s == "" {
		return fmt.Errorf("empty")
	}
	if len(s) > maxMetricNameBytes {
		return fmt.Errorf("%d bytes, at most %d", len(s), maxMetricNameBytes)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return fmt.Errorf("byte %d (%q) is not allowed: use lower case letters, digits and _, not starting with a digit", i, c)
	}
	return nil
}
