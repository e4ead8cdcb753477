package fleetpage_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleettest"
	"github.com/sluicegw/sluice/runtime/publisher"
	"github.com/sluicegw/sluice/runtime/testkit"
)

func TestFleetPageAndItsData(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	e := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "edge-a", Labels: map[string]string{"region": "eu"}, Trust: pub.Identity().Public})
	rev := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "v1")), "")
	pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "v2")), "region=eu")
	testkit.WaitFor(t, 10*time.Second, "the canary on the node", fleettest.Serves(t, e, "/users", "v2:"))
	if _, err := pub.Client.Abort(context.Background()); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the node back on stable", fleettest.NodeState(e, rev, fleet.StateReady))

	// The page itself is public and carries no data.
	code, page := fleettest.Get(t, pub.URL+"/ui")
	if code != 200 || !strings.Contains(page, "/v1/fleet") || strings.Contains(page, pub.Identity().Token) {
		t.Fatalf("/ui: %d", code)
	}
	// Its data needs the token.
	if code, _ := fleettest.Get(t, pub.URL+"/v1/fleet"); code != http.StatusUnauthorized {
		t.Fatalf("/v1/fleet without a token: %d", code)
	}
	req, _ := http.NewRequest("GET", pub.URL+"/v1/fleet", nil)
	req.Header.Set("Authorization", "Bearer "+pub.Identity().Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var data struct {
		Status    publisher.FleetStatus       `json:"status"`
		Revisions []publisher.RevisionSummary `json:"revisions"`
		History   []publisher.HistoryEntry    `json:"history"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&data); err != nil {
		t.Fatal(err)
	}
	if len(data.Status.Nodes) != 1 || data.Status.Nodes[0].ID != "edge-a" || data.Status.Stable != rev {
		t.Fatalf("status: %+v", data.Status)
	}
	if len(data.Revisions) != 2 || data.Revisions[0].Revision != rev+1 || !data.Revisions[0].Aborted || data.Revisions[0].Selector != "region=eu" ||
		data.Revisions[1].Author != publisher.BootstrapTokenName || !strings.HasPrefix(data.Revisions[1].Digest, "sha256:") || data.Revisions[1].Created.IsZero() {
		t.Fatalf("revisions, newest first: %+v", data.Revisions)
	}
	if h := data.History; len(h) != 3 || h[0].Action != publisher.ActionAbort || h[0].Revision != rev+1 || h[0].Outcome != publisher.OutcomeAborted ||
		h[0].Who != publisher.BootstrapTokenName || h[0].User != "tester" || h[1].Action != publisher.ActionApply || h[1].Selector != "region=eu" ||
		h[2].Revision != rev || h[2].Outcome != publisher.OutcomePublished {
		t.Fatalf("history, newest first: %+v", data.History)
	}
}
