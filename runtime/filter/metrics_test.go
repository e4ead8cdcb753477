package filter

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/sluicegw/sluice/runtime/testkit"
)

// gathered scrapes rt's collector as /metrics would.
func gathered(t *testing.T, rt *Runtime) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(rt.Collector())
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	return fams
}

// sample returns the value of the series name{labels} (a histogram's count),
// and whether it exists.
func sample(fams []*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	for _, f := range fams {
		if f.GetName() == name {
			return testkit.SeriesValue(f, labels)
		}
	}
	return 0, false
}

// TestGuestMetricsReachTheCollector: a guest defines a counter while
// initialising (its id then lives in the memory image every instance
// starts from) and records by id with a label value per request; the
// runtime exports it as sluice_filter_hits_total{filter, path}, beside the
// call histogram and the instances created.
func TestGuestMetricsReachTheCollector(t *testing.T) {
	rt, logs := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "metrics", ModuleOptions{Name: "counted"})
	for i := range 5 {
		path := "/a"
		if i%2 == 1 {
			path = "/b"
		}
		x := NewExchange(newRequest("GET", path, ""))
		x.RequestID = fmt.Sprintf("rid-%d", i)
		if _, err := roundTrip(t, m, x, nil); err != nil {
			t.Fatal(err)
		}
	}
	fams := gathered(t, rt)
	for path, want := range map[string]float64{"/a": 3, "/b": 2} {
		got, ok := sample(fams, "sluice_filter_hits_total", map[string]string{"filter": "counted", "path": path})
		if !ok || got != want {
			t.Errorf("sluice_filter_hits_total{path=%q} = %v (present %v), want %v", path, got, ok, want)
		}
	}
	for _, phase := range []string{"request", "response"} {
		if got, _ := sample(fams, "sluice_filter_call_duration_seconds", map[string]string{"filter": "counted", "phase": phase}); got != 5 {
			t.Errorf("call_duration_seconds{phase=%s} count = %v, want 5", phase, got)
		}
	}
	if got, _ := sample(fams, "sluice_filter_instances_created_total", map[string]string{"filter": "counted"}); got < 1 {
		t.Errorf("instances_created_total = %v, want at least the one Load made", got)
	}
	// The guest's log line carries the request it was written for.
	if s := logs.String(); !strings.Contains(s, `msg=hit filter=counted phase=request request_id=rid-4`) {
		t.Errorf("guest log line without its request id in:\n%s", s)
	}
}

// TestGuestMetricMisuseIsRefused: a bad name defined while initialising
// makes Load refuse the module, naming the metric; a record with the wrong
// number of label values, a negative counter step or an unknown id fails
// with a message naming the metric; so does a definition that would make
// the scrape fail (another shape for a name, a histogram's series names).
func TestGuestMetricMisuseIsRefused(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	_, err := rt.Load(context.Background(), testkit.WAT(t, "metric_badname"), ModuleOptions{Name: "bad"})
	if err == nil || !strings.Contains(err.Error(), `define_metric: metric name "Hits-Total": byte 0 ('H') is not allowed`) {
		t.Fatalf("Load of a guest defining Hits-Total: %v", err)
	}
	m := loadWAT(t, rt, "metrics", ModuleOptions{Name: "counted"})
	for _, tc := range []struct {
		id   uint32
		v    float64
		raw  string
		want string
	}{
		{0, 1, "a\x00b\x00", `metric "hits_total" has 1 label(s) ["path"]; got 2 value(s)`},
		{0, -1, "a\x00", `metric "hits_total": a counter only goes up`},
		{0, math.NaN(), "a\x00", `is not a finite number`},
		{7, 1, "a\x00", `metric id 7 is not defined (this filter defined 1)`},
	} {
		if err := m.recordMetric(tc.id, tc.v, []byte(tc.raw)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("record(%d, %v, %q) = %v, want %q", tc.id, tc.v, tc.raw, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name   string
		kind   MetricKind
		labels []string
		want   string
	}{
		{"hits_total", MetricGauge, []string{"path"}, `already defined as a counter`},
		{"hits_total", MetricCounter, []string{"route"}, `already defined as a counter with labels ["path"]`},
		{"instances", MetricGauge, nil, `sluice_filter_instances is one of the node's own series`},
		{"ok", MetricCounter, []string{"filter"}, `set by the host to the filter's name`},
		{"ok", MetricCounter, []string{"a", "a"}, `given twice`},
		{"ok", MetricHistogram, []string{"le"}, `bucket bound`},
		{"ok", MetricKind(9), nil, `unknown kind 9`},
		{"call_duration_seconds_bucket", MetricCounter, nil, `one of the node's own series`},
		{"hits_total_bucket", MetricHistogram, nil, ``}, // no clash: hits_total is a counter
		{"hits_total_bucket_count", MetricCounter, nil, `clash with the histogram series of metric "hits_total_bucket"`},
		{"lat", MetricHistogram, nil, ``},
		{"lat_sum", MetricGauge, nil, `clash with the histogram series of metric "lat"`},
		{"ok_count", MetricCounter, nil, ``},
		{"ok", MetricHistogram, nil, `clash with the histogram series of metric "ok_count"`},
		{strings.Repeat("x", 65), MetricCounter, nil, `65 bytes, at most 64`},
	} {
		_, err := m.defineMetric(tc.name, tc.kind, tc.labels)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("define(%q, %v, %q) = %v, want %q", tc.name, tc.kind, tc.labels, err, tc.want)
		}
	}
	if id, err := m.defineMetric("hits_total", MetricCounter, []string{"path"}); err != nil || id != 0 {
		t.Errorf("defining hits_total again = %d, %v; want its id 0", id, err)
	}
}

// TestGuestMetricSeriesAreCapped: past the cap of series per metric, values
// for new label values are dropped and counted; existing series still
// count.
func TestGuestMetricSeriesAreCapped(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "metrics", ModuleOptions{Name: "wide"})
	const over = 5
	for i := range maxSeriesPerMetric + over {
		if err := m.recordMetric(0, 1, fmt.Appendf(nil, "/p%d\x00", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.recordMetric(0, 1, []byte("/p0\x00")); err != nil {
		t.Fatal(err)
	}
	fams := gathered(t, rt)
	if got, _ := sample(fams, "sluice_filter_metric_series_dropped_total", map[string]string{"filter": "wide", "metric": "hits_total"}); got != over {
		t.Errorf("dropped = %v, want %d", got, over)
	}
	if got, _ := sample(fams, "sluice_filter_hits_total", map[string]string{"filter": "wide", "path": "/p0"}); got != 2 {
		t.Errorf("hits_total{path=/p0} = %v, want 2", got)
	}
	if _, ok := sample(fams, "sluice_filter_hits_total", map[string]string{"filter": "wide", "path": fmt.Sprintf("/p%d", maxSeriesPerMetric)}); ok {
		t.Errorf("a series past the cap was exported")
	}
}

// TestTrapsAndTimeoutsAreCounted: a trapping and a looping guest each add
// to their counter for the phase they failed in.
func TestTrapsAndTimeoutsAreCounted(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	trapper := loadWAT(t, rt, "trap_request", ModuleOptions{Name: "trapper"})
	looper := loadWAT(t, rt, "loop", ModuleOptions{Name: "looper", Timeout: 20 * time.Millisecond})
	for range 2 {
		if _, err := roundTrip(t, trapper, NewExchange(newRequest("GET", "/", "")), nil); !errors.Is(err, ErrTrap) {
			t.Fatalf("trap_request: %v", err)
		}
	}
	if _, err := roundTrip(t, looper, NewExchange(newRequest("GET", "/", "")), nil); !errors.Is(err, ErrTimeout) {
		t.Fatalf("loop: %v", err)
	}
	fams := gathered(t, rt)
	for _, tc := range []struct {
		name, filter string
		want         float64
	}{
		{"sluice_filter_traps_total", "trapper", 2},
		{"sluice_filter_timeouts_total", "trapper", 0},
		{"sluice_filter_timeouts_total", "looper", 1},
		{"sluice_filter_traps_total", "looper", 0},
	} {
		if got, _ := sample(fams, tc.name, map[string]string{"filter": tc.filter, "phase": "request"}); got != tc.want {
			t.Errorf("%s{filter=%s,phase=request} = %v, want %v", tc.name, tc.filter, got, tc.want)
		}
	}
}
