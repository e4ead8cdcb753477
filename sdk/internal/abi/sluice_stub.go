//go:build !wasip1

package abi

import (
	"math"
	"slices"
	"strings"
)

// The in-memory host's side of the sluice module's metric functions,
// refusing what Sluice refuses (runtime/filter/guestmetrics.go) with the
// same reasons, so a filter's unit test fails where a node would refuse it.

// MetricDef is a metric the guest defined; its id is its index in
// Host.MetricDefs.
type MetricDef struct {
	Kind   uint32
	Name   string
	Labels []string
}

// MetricSeries is one series of a metric: a counter's total or a gauge's
// value in Value; a histogram's sum in Value and its observations in Count.
type MetricSeries struct {
	Value float64
	Count uint64
}

// Limits of guest metrics, as Sluice's.
const (
	maxSeriesPerMetric  = 1000
	maxMetricsPerFilter = 64
	maxMetricLabels     = 8
	maxMetricNameBytes  = 64
)

// reservedMetricNames are the node's own sluice_filter_* series.
var reservedMetricNames = []string{"call_duration_seconds", "traps_total", "timeouts_total",
	"instances_created_total", "metric_series_dropped_total", "instances"}

// DefineMetric is define_metric.
func DefineMetric(kind uint32, name string, labels string) int32 {
	h := Mem
	checkIdent("metric name", name)
	base := name
	for _, sfx := range []string{"_bucket", "_count", "_sum"} {
		base = strings.TrimSuffix(base, sfx)
	}
	if slices.Contains(reservedMetricNames, name) || slices.Contains(reservedMetricNames, base) {
		trap("define_metric: metric name %q: sluice_filter_%s is one of the node's own series", name, name)
	}
	if kind > MetricHistogram {
		trap("define_metric: metric %q: unknown kind %d (0 counter, 1 gauge, 2 histogram)", name, kind)
	}
	ls := splitNULs(labels)
	if len(ls) > maxMetricLabels {
		trap("define_metric: metric %q: %d labels, at most %d", name, len(ls), maxMetricLabels)
	}
	for i, l := range ls {
		checkIdent("label name", l)
		switch {
		case strings.HasPrefix(l, "__"):
			trap("define_metric: metric %q: label name %q: names starting with __ are Prometheus' own", name, l)
		case l == "filter":
			trap("define_metric: metric %q: label name %q is set by the host to the filter's name", name, l)
		case l == "le" && kind == MetricHistogram:
			trap("define_metric: metric %q: label name \"le\" is a histogram's bucket bound", name)
		case slices.Contains(ls[:i], l):
			trap("define_metric: metric %q: label name %q given twice", name, l)
		}
	}
	for id, d := range h.MetricDefs {
		if d.Name == name {
			if d.Kind != kind || !slices.Equal(d.Labels, ls) {
				trap("define_metric: metric %q is already defined as kind %d with labels %q", name, d.Kind, d.Labels)
			}
			return int32(id)
		}
	}
	for _, d := range h.MetricDefs { // a histogram's series names are taken (a node's scrape would fail)
		for _, sfx := range []string{"_bucket", "_count", "_sum"} {
			if d.Kind == MetricHistogram && name == d.Name+sfx || kind == MetricHistogram && d.Name == name+sfx {
				trap("define_metric: metric %q would clash with the histogram series of metric %q (_bucket, _count, _sum)", name, d.Name)
			}
		}
	}
	if len(h.MetricDefs) >= maxMetricsPerFilter {
		trap("define_metric: metric %q: a filter defines at most %d metrics", name, maxMetricsPerFilter)
	}
	h.MetricDefs = append(h.MetricDefs, MetricDef{Kind: kind, Name: name, Labels: ls})
	return int32(len(h.MetricDefs) - 1)
}

// RecordMetric is record_metric.
func RecordMetric(id int32, value float64, labelValues string) {
	h := Mem
	if id < 0 || int(id) >= len(h.MetricDefs) {
		trap("record_metric: metric id %d is not defined (this filter defined %d)", id, len(h.MetricDefs))
	}
	d := h.MetricDefs[id]
	if math.IsNaN(value) || math.IsInf(value, 0) {
		trap("record_metric: metric %q: value %v is not a finite number", d.Name, value)
	}
	if d.Kind == MetricCounter && value < 0 {
		trap("record_metric: metric %q: a counter only goes up; got %v", d.Name, value)
	}
	if vs := splitNULs(labelValues); len(vs) != len(d.Labels) {
		trap("record_metric: metric %q has %d label(s) %q; got %d value(s)", d.Name, len(d.Labels), d.Labels, len(vs))
	}
	if h.Metrics == nil {
		h.Metrics = map[string]map[string]*MetricSeries{}
	}
	series := h.Metrics[d.Name]
	if series == nil {
		series = map[string]*MetricSeries{}
		h.Metrics[d.Name] = series
	}
	key := strings.TrimSuffix(labelValues, "\x00")
	s := series[key]
	if s == nil {
		if len(series) >= maxSeriesPerMetric {
			h.MetricsDropped++
			return
		}
		s = &MetricSeries{}
		series[key] = s
	}
	switch d.Kind {
	case MetricCounter:
		s.Value += value
	case MetricGauge:
		s.Value = value
	case MetricHistogram:
		s.Value += value
		s.Count++
	}
}

func splitNULs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\x00"), "\x00")
}

func checkIdent(what, s string) {
	if s == "" || len(s) > maxMetricNameBytes {
		trap("define_metric: %s %q: 1 to %d bytes", what, s, maxMetricNameBytes)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		trap("define_metric: %s %q: byte %d (%q) is not allowed: use lower case letters, digits and _, not starting with a digit", what, s, i, c)
	}
}
