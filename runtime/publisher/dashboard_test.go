package publisher

import (
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/edge"
	"github.com/sluicegw/sluice/runtime/fleet"
)

// report is a node status with one route's totals; every request took
// between 10 and 25 ms (one latency bucket).
func report(id string, at time.Time, rev, requests, errors int64) fleet.NodeStatus {
	return fleet.NodeStatus{ID: id, Revision: rev, LastSeen: at, Routes: map[string]edge.RouteStats{
		"users": {Requests: requests, Errors5xx: errors, LatencyBounds: []float64{0.01, 0.025, 0.05},
			LatencyCounts: []uint64{0, uint64(requests), uint64(requests)}, LatencyCount: uint64(requests)},
	}}
}

// TestDashboardSamplesAreDifferencesOfReports: each sample is what was
// served between two reports; a restart counts from zero; samples older
// than the window go; a track sums the nodes on its revision.
func TestDashboardSamplesAreDifferencesOfReports(t *testing.T) {
	d := newDashboard()
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	now := t0
	d.now = func() time.Time { return now }

	d.ingest(report("a", t0, 1, 100, 1)) // the first report: a base, no sample
	now = t0.Add(5 * time.Second)
	d.ingest(report("a", now, 1, 150, 6))
	d.ingest(report("a", now, 1, 999, 9)) // same time: a replay, ignored
	now = t0.Add(10 * time.Second)
	d.ingest(report("a", now, 2, 20, 0)) // restarted: counts went down
	d.ingest(report("b", t0, 2, 0, 0))
	d.ingest(report("b", now, 2, 30, 3))

	nodes := d.nodeCharts()
	if len(nodes) != 2 || nodes[0].ID != "a" {
		t.Fatalf("nodes %+v", nodes)
	}
	a := nodes[0].Routes["users"]
	if len(a) != 2 || a[0].Requests != 50 || a[0].Errors5xx != 5 || a[0].RPS != 10 || a[0].ErrorRPS != 1 || a[1].Requests != 20 {
		t.Fatalf("node a samples %+v: want 50 (5 5xx, 10/s) then 20 after its restart", a)
	}
	if p50 := *a[0].P50; p50 <= 10 || p50 > 25 {
		t.Errorf("p50 %v ms: want within the 10-25 ms bucket", p50)
	}
	if len(nodes[0].Total) != 2 || nodes[0].Total[0].Requests != 50 {
		t.Errorf("node a total %+v", nodes[0].Total)
	}

	stable, canary := d.track(1), d.track(2)
	if got := sum(stable.Routes["users"]); got != 50 {
		t.Errorf("revision 1 served %d, want 50", got)
	}
	if got := sum(canary.Routes["users"]); got != 50 {
		t.Errorf("revision 2 served %d, want 20 + 30", got)
	}

	now = t0.Add(DashboardWindow + 8*time.Second) // a's first sample (t0+5s) is now out of the window
	d.ingest(report("a", now, 2, 25, 0))
	nodes = d.nodeCharts()
	if a := nodes[0].Routes["users"]; len(nodes) != 2 || len(a) != 2 || a[0].Requests != 20 || a[1].Requests != 5 {
		t.Fatalf("after the window: %+v; want a's samples 20 and 5", nodes)
	}
	now = t0.Add(DashboardWindow + 11*time.Second) // b's last report (t0+10s) too
	if nodes = d.nodeCharts(); len(nodes) != 1 || nodes[0].ID != "a" {
		t.Fatalf("node b still charted 15 minutes after its last report: %+v", nodes)
	}
}

func sum(ps []ChartPoint) int64 {
	var n int64
	for _, p := range ps {
		n += p.Requests
	}
	return n
}
