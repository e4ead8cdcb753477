//go:build wasip1

package abi

// The metric functions of Sluice's own host module "sluice" (beside the
// http-wasm ABI). A guest imports them only when it calls them: the Go
// linker keeps a //go:wasmimport only if it is referenced, so a filter that
// defines no metric still loads on any http-wasm host.

// DefineMetric defines the metric name of kind (MetricCounter,
// MetricGauge, MetricHistogram) with labels, each label name followed by a
// NUL ("route\x00code\x00"), and returns its id. The host traps on a name
// or label it refuses, naming it.
//
//go:wasmimport sluice define_metric
func DefineMetric(kind uint32, name string, labels string) int32

// RecordMetric records value in metric id's series for labelValues, each
// value followed by a NUL, in the order of the defined label names.
//
//go:wasmimport sluice record_metric
func RecordMetric(id int32, value float64, labelValues string)
