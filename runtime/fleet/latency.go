package fleet

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// latencyMetric is the node's request-latency histogram (runtime/edge).
const latencyMetric = "sluice_request_duration_seconds"

// Latency is a node's request-latency histogram since it started, summed
// over routes, as Prometheus keeps it: for each bucket's upper bound (in
// seconds, ascending, +Inf left out) the count of requests that took at
// most that long. The publisher subtracts two reports of a node to get the
// histogram of the requests in between.
type Latency struct {
	Bounds []float64 `json:"bounds"`
	Counts []uint64  `json:"counts"`
	Count  uint64    `json:"count"`
}

// ReadLatency gathers the node's histogram from its admin handler's
// /metrics, the only place the node exposes it.
func ReadLatency(admin http.Handler) (*Latency, error) {
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	rec := httptest.NewRecorder()
	admin.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("node metrics: %d", rec.Code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		return nil, fmt.Errorf("node metrics: %w", err)
	}
	l := &Latency{}
	mf, ok := families[latencyMetric]
	if !ok {
		return l, nil // no request yet
	}
	for _, m := range mf.GetMetric() {
		h := m.GetHistogram()
		if h == nil {
			continue
		}
		var bounds []float64
		var counts []uint64
		for _, b := range h.GetBucket() {
			if math.IsInf(b.GetUpperBound(), 1) {
				continue
			}
			bounds = append(bounds, b.GetUpperBound())
			counts = append(counts, b.GetCumulativeCount())
		}
		if l.Bounds == nil {
			l.Bounds = bounds
			l.Counts = make([]uint64, len(bounds))
		}
		if !slices.Equal(l.Bounds, bounds) {
			return nil, fmt.Errorf("node metrics: %s buckets differ between routes", latencyMetric)
		}
		for i := range counts {
			l.Counts[i] += counts[i]
		}
		l.Count += h.GetSampleCount()
	}
	return l, nil
}

// Since returns the histogram of what l holds beyond base, an earlier
// report of the same node. A node that restarted meanwhile (counts went
// down) counts from zero.
func (l *Latency) Since(base *Latency) *Latency {
	if l == nil {
		return &Latency{}
	}
	if base == nil || base.Count > l.Count || !slices.Equal(base.Bounds, l.Bounds) {
		return l.clone()
	}
	out := &Latency{Bounds: l.Bounds, Counts: make([]uint64, len(l.Counts)), Count: l.Count - base.Count}
	for i := range l.Counts {
		out.Counts[i] = l.Counts[i] - min(base.Counts[i], l.Counts[i])
	}
	return out
}

func (l *Latency) clone() *Latency {
	return &Latency{Bounds: slices.Clone(l.Bounds), Counts: slices.Clone(l.Counts), Count: l.Count}
}

// Add sums o into l (the same buckets, or l empty).
func (l *Latency) Add(o *Latency) {
	if o == nil || o.Count == 0 {
		return
	}
	if l.Count == 0 && len(l.Counts) == 0 {
		*l = *o.clone()
		return
	}
	if !slices.Equal(l.Bounds, o.Bounds) {
		return
	}
	for i := range o.Counts {
		l.Counts[i] += o.Counts[i]
	}
	l.Count += o.Count
}

// Quantile estimates the q quantile (0.99 for p99) in seconds, by linear
// interpolation inside the bucket it falls in, as Prometheus's
// histogram_quantile does. Beyond the last bound it is that bound. NaN
// without samples.
func (l *Latency) Quantile(q float64) float64 {
	if l == nil || l.Count == 0 {
		return math.NaN()
	}
	rank := q * float64(l.Count)
	lower, below := 0.0, uint64(0)
	for i, b := range l.Bounds {
		if float64(l.Counts[i]) >= rank {
			in := l.Counts[i] - below
			if in == 0 {
				return b
			}
			return lower + (b-lower)*(rank-float64(below))/float64(in)
		}
		lower, below = b, l.Counts[i]
	}
	if len(l.Bounds) == 0 {
		return math.NaN()
	}
	return l.Bounds[len(l.Bounds)-1]
}
