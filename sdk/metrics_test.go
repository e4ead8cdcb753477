//go:build !wasip1

package sluice_test

import (
	"strings"
	"testing"

	sluice "github.com/sluicegw/sluice/sdk"
	"github.com/sluicegw/sluice/sdk/sluicetest"
)

// Defined at init, as a filter's package variables are: every Host sees it.
var requestsByMethod = sluice.NewCounter("requests_by_method_total", "method")

func TestMetricsRecordedPerSeries(t *testing.T) {
	var size sluice.Histogram
	var inflight sluice.Gauge
	h := sluicetest.New(t, sluicetest.WithFilter(funcs{req: func(req sluice.Request, _ sluice.Response) bool {
		requestsByMethod.Inc(req.Method())
		size.Observe(float64(len(req.URI())))
		inflight.Set(3)
		return true
	}}))
	size = sluice.NewHistogram("uri_bytes")
	inflight = sluice.NewGauge("inflight")
	h.Do(sluicetest.NewRequest("GET", "/a"), nil)
	h.Do(sluicetest.NewRequest("GET", "/abc"), nil)
	h.Do(sluicetest.NewRequest("POST", "/"), nil)

	for _, tc := range []struct {
		name   string
		labels []string
		want   sluicetest.MetricValue
	}{
		{"requests_by_method_total", []string{"GET"}, sluicetest.MetricValue{Value: 2}},
		{"requests_by_method_total", []string{"POST"}, sluicetest.MetricValue{Value: 1}},
		{"uri_bytes", nil, sluicetest.MetricValue{Value: 7, Count: 3}}, // 2+4+1 bytes
		{"inflight", nil, sluicetest.MetricValue{Value: 3}},
	} {
		if got, ok := h.Metric(tc.name, tc.labels...); !ok || got != tc.want {
			t.Errorf("%s%q = %+v (recorded %v), want %+v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	if _, ok := h.Metric("requests_by_method_total", "PUT"); ok {
		t.Errorf("a series never recorded exists")
	}
	if again := sluice.NewCounter("requests_by_method_total", "method"); again != requestsByMethod {
		t.Errorf("defining a metric again gave another one")
	}
}

// trapOf runs f and returns the host trap it raised, "" if none.
func trapOf(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = r.(error).Error()
		}
	}()
	f()
	return ""
}

func TestMetricMisuseTraps(t *testing.T) {
	sluicetest.New(t, onRequest(func(sluice.Request, sluice.Response) bool { return true }))
	for _, tc := range []struct {
		what string
		f    func()
		want string
	}{
		{"upper case", func() { sluice.NewCounter("Hits") }, `metric name "Hits": byte 0 ('H') is not allowed`},
		{"the host's own", func() { sluice.NewGauge("instances") }, `sluice_filter_instances is one of the node's own series`},
		{"filter label", func() { sluice.NewCounter("hits", "filter") }, `set by the host to the filter's name`},
		{"other kind", func() { sluice.NewGauge("requests_by_method_total", "method") }, `already defined`},
		{"label count", func() { requestsByMethod.Inc() }, `has 1 label(s) ["method"]; got 0 value(s)`},
		{"histogram series", func() { sluice.NewHistogram("lat"); sluice.NewCounter("lat_count") }, `clash with the histogram series of metric "lat"`},
		{"negative step", func() { requestsByMethod.Add(-1, "GET") }, `a counter only goes up`},
	} {
		if got := trapOf(tc.f); !strings.Contains(got, tc.want) {
			t.Errorf("%s: trap %q, want %q", tc.what, got, tc.want)
		}
	}
}
