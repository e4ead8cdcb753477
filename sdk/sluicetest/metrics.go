//go:build !wasip1

package sluicetest

import "strings"

// Metric returns the series of metric name (as the filter defined it,
// without the sluice_filter_ prefix) for labelValues, in the order of its
// label names, and whether the filter recorded it since the Host was
// created.
func (h *Host) Metric(name string, labelValues ...string) (MetricValue, bool) {
	s, ok := h.mem.Metrics[name][strings.Join(labelValues, "\x00")]
	if !ok {
		return MetricValue{}, false
	}
	return MetricValue{Value: s.Value, Count: s.Count}, true
}

// MetricsDropped returns how many values the filter recorded for series
// beyond the cap of series per metric, which Sluice drops (and counts in
// sluice_filter_metric_series_dropped_total).
func (h *Host) MetricsDropped() int { return h.mem.MetricsDropped }
