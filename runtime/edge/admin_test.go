package edge

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAdminEndpoints(t *testing.T) {
	n := startRoutingNode(t)
	get(t, n.url+"/users/1")
	get(t, n.url+"/nope")

	if resp, _ := get(t, n.adminURL+"/healthz"); resp.StatusCode != 200 {
		t.Errorf("/healthz %d", resp.StatusCode)
	}
	if resp, _ := get(t, n.adminURL+"/readyz"); resp.StatusCode != 200 {
		t.Errorf("/readyz %d", resp.StatusCode)
	}
	resp, body := get(t, n.adminURL+"/config")
	var cfg struct {
		Revision int64
		Digest   string
		Config   struct{ Routes []struct{ Name string } }
	}
	if err := json.Unmarshal(body, &cfg); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/config: %d %s", resp.StatusCode, body)
	}
	if cfg.Digest != n.Current().Digest || !strings.HasPrefix(cfg.Digest, "sha256:") || len(cfg.Config.Routes) == 0 {
		t.Errorf("/config = %+v", cfg)
	}

	_, metrics := get(t, n.adminURL+"/metrics")
	for _, want := range []string{
		`sluice_requests_total{code="200",route="users"} 1`,
		`sluice_requests_total{code="404",route=""} 1`,
		`sluice_request_duration_seconds_bucket{route="users",le=`,
		`sluice_upstream_endpoint_healthy{endpoint="http://127.0.0.1:`,
		`sluice_open_connections`,
		`sluice_config_reloads_total{result="ok"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestNoSnapshotAnswers503(t *testing.T) {
	n := NewNode(Options{})
	if r := n.acquire(); r != nil {
		t.Fatal("a node without Apply has a snapshot")
	}
}
