package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/publisher"
)

func TestStatusTableFlagsBehindAndSilentNodes(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	canary := int64(5)
	st := &publisher.FleetStatus{Stable: 4, Canary: &canary, CanarySelector: "region=eu", Nodes: []fleet.NodeStatus{
		{ID: "eu-1", Labels: map[string]string{"region": "eu"}, Revision: 5, State: fleet.StateReady, LastSeen: now.Add(-2 * time.Second)},
		{ID: "eu-2", Labels: map[string]string{"region": "eu"}, Revision: 4, State: fleet.StateError, Error: "snapshot 5: bad signature\nmore", Wanted: 5, LastSeen: now.Add(-time.Second)},
		{ID: "us-1", Labels: map[string]string{"region": "us"}, Revision: 4, State: fleet.StateReady, LastSeen: now.Add(-20 * time.Second)},
		{ID: "us-2", Labels: map[string]string{"region": "us"}, Revision: 3, State: fleet.StateReady, LastSeen: now},
	}}
	var b bytes.Buffer
	printStatusTable(&b, st, now)
	out := b.String()
	row := func(id string) string {
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, id+" ") {
				return l
			}
		}
		t.Fatalf("no row for %s:\n%s", id, out)
		return ""
	}
	if !strings.HasPrefix(out, "stable revision 4, canary 5 (region=eu), 4 live node(s)") {
		t.Errorf("summary line:\n%s", out)
	}
	if r := row("eu-1"); strings.Contains(r, "BEHIND") || strings.Contains(r, "SILENT") {
		t.Errorf("eu-1 runs its canary target: %q", r)
	}
	if r := row("eu-2"); !strings.Contains(r, "BEHIND (wants 5)") || !strings.Contains(r, "snapshot 5: bad signature") || strings.Contains(r, "more") {
		t.Errorf("eu-2: %q", r)
	}
	if r := row("us-1"); !strings.Contains(r, "SILENT") || strings.Contains(r, "BEHIND") || !strings.Contains(r, "region=us") {
		t.Errorf("us-1: %q", r)
	}
	if r := row("us-2"); !strings.Contains(r, "BEHIND (wants 4)") {
		t.Errorf("us-2: %q", r)
	}
}
