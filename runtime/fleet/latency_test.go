package fleet

import (
	"math"
	"testing"
)

func TestLatencyQuantileAndDifference(t *testing.T) {
	base := &Latency{Bounds: []float64{.001, .01, .1, 1}, Counts: []uint64{10, 10, 10, 10}, Count: 10}
	now := &Latency{Bounds: base.Bounds, Counts: []uint64{10, 10, 110, 110}, Count: 110}
	d := now.Since(base)
	if d.Count != 100 || d.Counts[1] != 0 || d.Counts[2] != 100 {
		t.Fatalf("difference: %+v", d)
	}
	// All 100 fall in (10 ms, 100 ms]: p99 interpolates to 99.1 ms.
	if q := d.Quantile(0.99); math.Abs(q-0.0991) > 1e-9 {
		t.Fatalf("p99 %v", q)
	}
	if !math.IsNaN((&Latency{}).Quantile(0.99)) {
		t.Fatal("p99 of nothing is a number")
	}
	// A node that restarted counts from zero.
	if r := base.Since(now); r.Count != 10 {
		t.Fatalf("after a restart: %+v", r)
	}
	sum := &Latency{}
	sum.Add(d)
	sum.Add(d)
	if sum.Count != 200 || sum.Counts[2] != 200 || d.Count != 100 {
		t.Fatalf("sum: %+v, d: %+v", sum, d)
	}
}
