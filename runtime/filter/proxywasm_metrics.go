package filter

import (
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"
)

// Metrics a proxy-wasm guest defines are per node, like Envoy's stats: a
// name defined by several filters (or by every instance of one) is one
// series, and it survives snapshot swaps. The edge exports them on its
// /metrics (Runtime.Metrics). Their number is bounded (maxMetrics) so that
// a guest defining names in a loop cannot grow the node.

const maxMetrics = 1000

// pwHistogramBounds are the upper bounds of the histogram buckets: the
// guest's values have no unit the host knows, so they span 1 to 10^7 in
// steps of about 2.5×.
var pwHistogramBounds = []float64{1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 1e4, 2.5e4, 5e4, 1e5, 2.5e5, 5e5, 1e6, 1e7}

type pwMetrics struct {
	mu     sync.RWMutex
	byName map[string]uint32
	list   []*pwMetric // id - 1
}

type pwMetric struct {
	name  string
	kind  pwMetricType
	value atomic.Int64 // counter or gauge

	mu     sync.Mutex // histogram
	counts []uint64   // per bucket of pwHistogramBounds, then +Inf
	sum    float64
}

// Metric is one guest-defined metric as the edge exports it.
type Metric struct {
	Name string
	// Kind is "counter", "gauge" or "histogram".
	Kind  string
	Value float64 // counter and gauge
	// Histogram: cumulative counts per upper bound, the sum and the count.
	Buckets map[float64]uint64
	Sum     float64
	Count   uint64
}

func (m *pwMetrics) define(kind pwMetricType, name string) (uint32, pwStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id, ok := m.byName[name]; ok {
		if m.list[id-1].kind != kind {
			return 0, pwBadArgument
		}
		return id, pwOK
	}
	if len(m.list) >= maxMetrics {
		return 0, pwInternalFailure
	}
	if m.byName == nil {
		m.byName = map[string]uint32{}
	}
	mt := &pwMetric{name: name, kind: kind}
	if kind == pwHistogram {
		mt.counts = make([]uint64, len(pwHistogramBounds)+1)
	}
	m.list = append(m.list, mt)
	id := uint32(len(m.list))
	m.byName[name] = id
	return id, pwOK
}

func (m *pwMetrics) get(id uint32) *pwMetric {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if id == 0 || int(id) > len(m.list) {
		return nil
	}
	return m.list[id-1]
}

// Metrics returns the metrics proxy-wasm filters defined on this node.
func (r *Runtime) Metrics() []Metric {
	r.pwMetrics.mu.RLock()
	list := slices.Clone(r.pwMetrics.list)
	r.pwMetrics.mu.RUnlock()
	out := make([]Metric, 0, len(list))
	for _, mt := range list {
		switch mt.kind {
		case pwCounter:
			out = append(out, Metric{Name: mt.name, Kind: "counter", Value: float64(mt.value.Load())})
		case pwGauge:
			out = append(out, Metric{Name: mt.name, Kind: "gauge", Value: float64(mt.value.Load())})
		case pwHistogram:
			h := Metric{Name: mt.name, Kind: "histogram", Buckets: make(map[float64]uint64, len(pwHistogramBounds))}
			mt.mu.Lock()
			var cum uint64
			for j, b := range pwHistogramBounds {
				cum += mt.counts[j]
				h.Buckets[b] = cum
			}
			h.Count, h.Sum = cum+mt.counts[len(pwHistogramBounds)], mt.sum
			mt.mu.Unlock()
			out = append(out, h)
		}
	}
	return out
}

// proxy_define_metric(type i32, name i32, name_size i32, id_ptr i32)
func (i *Instance) pwDefineMetric(_ context.Context, stack []uint64) pwStatus {
	const fn = "proxy_define_metric"
	kind := pwMetricType(stack[0])
	if kind > pwHistogram {
		return pwBadArgument
	}
	name := i.readString(fn, "name", uint32(stack[1]), uint32(stack[2]))
	if name == "" || len(name) > 256 {
		return pwBadArgument
	}
	id, st := i.m.rt.pwMetrics.define(kind, name)
	if st != pwOK {
		return st
	}
	i.pwPutU32(fn, uint32(stack[3]), id)
	return pwOK
}

// proxy_increment_metric(id i32, offset i64): a counter never goes down.
func (i *Instance) pwIncrementMetric(_ context.Context, stack []uint64) pwStatus {
	mt := i.m.rt.pwMetrics.get(uint32(stack[0]))
	offset := int64(stack[1])
	switch {
	case mt == nil:
		return pwNotFound
	case mt.kind == pwHistogram, mt.kind == pwCounter && offset < 0:
		return pwBadArgument
	}
	mt.value.Add(offset)
	return pwOK
}

// proxy_record_metric(id i32, value i64): sets a gauge or a counter,
// observes a histogram value.
func (i *Instance) pwRecordMetric(_ context.Context, stack []uint64) pwStatus {
	mt := i.m.rt.pwMetrics.get(uint32(stack[0]))
	if mt == nil {
		return pwNotFound
	}
	v := stack[1]
	if mt.kind != pwHistogram {
		mt.value.Store(int64(v))
		return pwOK
	}
	f := float64(v)
	j, _ := slices.BinarySearch(pwHistogramBounds, f)
	mt.mu.Lock()
	mt.counts[j]++
	mt.sum += f
	mt.mu.Unlock()
	return pwOK
}

// proxy_get_metric(id i32, value_ptr i32): a counter's or gauge's value as
// u64; a histogram has no single value (BadArgument).
func (i *Instance) pwGetMetric(_ context.Context, stack []uint64) pwStatus {
	mt := i.m.rt.pwMetrics.get(uint32(stack[0]))
	switch {
	case mt == nil:
		return pwNotFound
	case mt.kind == pwHistogram:
		return pwBadArgument
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(mt.value.Load()))
	copy(i.view("proxy_get_metric", "value_ptr", uint32(stack[1]), 8), b[:])
	return pwOK
}
