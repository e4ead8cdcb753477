package abi

// Kinds of metric, the first parameter of DefineMetric.
const (
	MetricCounter   uint32 = 0 // RecordMetric adds (>= 0)
	MetricGauge     uint32 = 1 // RecordMetric sets
	MetricHistogram uint32 = 2 // RecordMetric observes, into Prometheus' default buckets
)
