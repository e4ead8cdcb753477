package filter

import (
	"math"

	"github.com/tetratelabs/wazero/api"
)

// Metric functions of the sluice host module: a guest defines a counter,
// gauge or histogram by name with the label names it declares, gets an id,
// and records values by id with label values. The node exports each as
// sluice_filter_NAME{filter="FILTER", LABEL="VALUE", ...} on /metrics
// (guestmetrics.go has the rules and the caps). Both functions trap on
// misuse with a message naming the metric, so a bad name defined while
// initialising makes Load refuse the filter.
func sluiceMetricFuncs() []hostFunc {
	return []hostFunc{
		{"define_metric", []api.ValueType{i32, i32, i32, i32, i32}, []string{"kind", "name", "name_len", "labels", "labels_len"}, []api.ValueType{i32}, (*Instance).defineMetric},
		{"record_metric", []api.ValueType{i32, f64, i32, i32}, []string{"id", "value", "label_values", "label_values_len"}, nil, (*Instance).recordMetric},
	}
}

const f64 = api.ValueTypeF64

// define_metric(kind i32, name i32, name_len i32, labels i32, labels_len i32) -> id i32
//
// Defines the metric name ([a-z_][a-z0-9_]*, at most 64 bytes) of kind
// (MetricKind: 0 counter, 1 gauge, 2 histogram) with the label names at
// labels, each NUL-terminated (labels_len 0: none; at most 8; "filter" is
// the host's), and returns its id, a small number from 0. Defining the same
// name, kind and labels again returns the same id; the same name with
// another kind or labels traps.
//
// Example: kind 0, name "blocked_total", labels "reason\0" (7 bytes) -> 0;
// exported as sluice_filter_blocked_total{filter="ip-allow",reason="..."}.
func (i *Instance) defineMetric(stack []uint64) {
	kind := MetricKind(uint32(stack[0]))
	name := i.readString("define_metric", "name", uint32(stack[1]), uint32(stack[2]))
	labels := splitNULs(i.view("define_metric", "labels", uint32(stack[3]), uint32(stack[4])))
	id, err := i.m.defineMetric(name, kind, labels)
	if err != nil {
		i.fail("define_metric: %v", err)
	}
	stack[0] = uint64(id)
}

// record_metric(id i32, value f64, label_values i32, label_values_len i32)
//
// Records value in metric id's series for the label values at label_values,
// one NUL-terminated value per label name, in the defined order: a counter
// adds it (>= 0), a gauge is set to it, a histogram observes it. A value
// that is not finite, a count of values that does not match, or an
// unknown id traps. Past the cap of series per metric a value for a new
// series is dropped (and counted), not trapped: the guest did nothing wrong.
//
// Example: id 0, value 1, label_values "cidr\0" (5 bytes).
func (i *Instance) recordMetric(stack []uint64) {
	id := uint32(stack[0])
	v := math.Float64frombits(stack[1])
	raw := i.view("record_metric", "label_values", uint32(stack[2]), uint32(stack[3]))
	if err := i.m.recordMetric(id, v, raw); err != nil {
		i.fail("record_metric: %v", err)
	}
}
