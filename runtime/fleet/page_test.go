package fleet

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFleetPageAndItsData(t *testing.T) {
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	e := startEdge(t, natsURL, edgeSpec{id: "edge-a", labels: map[string]string{"region": "eu"}, trust: pub.Identity().Public})
	rev := pub.mustApply(t, routeConfig("users", upstream(t, "v1")), "")
	pub.mustApply(t, routeConfig("users", upstream(t, "v2")), "region=eu")
	eventually(t, 10*time.Second, "the canary on the node", serves(t, e, "/users", "v2:"))
	if _, err := pub.client.Abort(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the node back on stable", nodeState(e, rev, StateReady))

	// The page itself is public and carries no data.
	code, page := get(t, pub.url+"/ui")
	if code != 200 || !strings.Contains(page, "/v1/fleet") || strings.Contains(page, pub.Identity().Token) {
		t.Fatalf("/ui: %d", code)
	}
	// Its data needs the token.
	if code, _ := get(t, pub.url+"/v1/fleet"); code != http.StatusUnauthorized {
		t.Fatalf("/v1/fleet without a token: %d", code)
	}
	req, _ := http.NewRequest("GET", pub.url+"/v1/fleet", nil)
	req.Header.Set("Authorization", "Bearer "+pub.Identity().Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var data struct {
		Status    FleetStatus       `json:"status"`
		Revisions []RevisionSummary `json:"revisions"`
		History   []HistoryEntry    `json:"history"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&data); err != nil {
		t.Fatal(err)
	}
	if len(data.Status.Nodes) != 1 || data.Status.Nodes[0].ID != "edge-a" || data.Status.Stable != rev {
		t.Fatalf("status: %+v", data.Status)
	}
	if len(data.Revisions) != 2 || data.Revisions[0].Revision != rev+1 || !data.Revisions[0].Aborted || data.Revisions[0].Selector != "region=eu" ||
		data.Revisions[1].Author != BootstrapTokenName || !strings.HasPrefix(data.Revisions[1].Digest, "sha256:") || data.Revisions[1].Created.IsZero() {
		t.Fatalf("revisions, newest first: %+v", data.Revisions)
	}
	if h := data.History; len(h) != 3 || h[0].Action != ActionAbort || h[0].Revision != rev+1 || h[0].Outcome != OutcomeAborted ||
		h[0].Who != BootstrapTokenName || h[0].User != "tester" || h[1].Action != ActionApply || h[1].Selector != "region=eu" ||
		h[2].Revision != rev || h[2].Outcome != OutcomePublished {
		t.Fatalf("history, newest first: %+v", data.History)
	}
}
