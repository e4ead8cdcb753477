package edge

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// TestFilterMetricsAndLogsOnTheNode: a guest's log line reaches the node's
// log with its filter, phase and the request's id (the X-Request-Id the
// client got), and its own metric and its call histogram reach /metrics.
func TestFilterMetricsAndLogsOnTheNode(t *testing.T) {
	up := startUpstream(t, "svc", nil)
	n := startNode(t, render(t, `
upstreams: {svc: {endpoints: ["{{.Up}}"]}}
filters: {counted: {module: "{{.Guest}}"}}
routes: [{name: api, match: {path_prefix: /}, upstream: svc, filters: [counted]}]
`, map[string]string{"Up": up.url, "Guest": testkit.WATFile(t, "metrics")}))
	resp, body := get(t, n.url+"/x")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	rid := resp.Header.Get("X-Request-Id")
	if rid == "" {
		t.Fatal("no X-Request-Id")
	}
	var line map[string]any
	testkit.WaitFor(t, 5*time.Second, "the guest's log line", func() bool {
		for _, l := range strings.Split(n.logs.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "hit" {
				line = m
				return true
			}
		}
		return false
	})
	for k, want := range map[string]any{"level": "INFO", "filter": "counted", "phase": "request", "request_id": rid} {
		if line[k] != want {
			t.Errorf("guest log line %v: %s = %v, want %v", line, k, line[k], want)
		}
	}
	fams := scrapeFamilies(t, n.adminURL+"/metrics")
	for _, tc := range []struct {
		name   string
		labels map[string]string
	}{
		{"sluice_filter_hits_total", map[string]string{"filter": "counted", "path": "/x"}},
		{"sluice_filter_call_duration_seconds", map[string]string{"filter": "counted", "phase": "request"}},
		{"sluice_filter_call_duration_seconds", map[string]string{"filter": "counted", "phase": "response"}},
		{"sluice_filter_instances_created_total", map[string]string{"filter": "counted"}},
	} {
		if v, ok := testkit.SeriesValue(fams[tc.name], tc.labels); !ok || v < 1 {
			t.Errorf("%s%v = %v (present %v), want at least 1", tc.name, tc.labels, v, ok)
		}
	}
}
