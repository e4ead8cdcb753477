package fleet

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHistoryRecordsWhoDidWhatAndSurvivesARestart(t *testing.T) {
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	ctx := context.Background()
	e := startEdge(t, natsURL, edgeSpec{id: "eu-1", labels: map[string]string{"region": "eu"}, trust: pub.Identity().Public})
	nt, err := pub.client.CreateToken(ctx, "ci", RoleDeploy)
	if err != nil {
		t.Fatal(err)
	}
	ci := *pub.client
	ci.Token, ci.Author = nt.Token, "alice"
	ciPub := *pub
	ciPub.client = &ci

	v1 := ciPub.mustApply(t, routeConfig("users", upstream(t, "v1")), "")
	// Valid YAML that fails only when built: refused by the publisher.
	polDir := t.TempDir()
	os.WriteFile(filepath.Join(polDir, "p.rego"), []byte("package sluice.authz\n\ndecision := input.nope +\n"), 0o644)
	if _, err := ciPub.apply(t, routeConfig("users", "http://127.0.0.1:1")+fmt.Sprintf("policies: {authz: {module: %s}}\n", polDir), ""); err == nil {
		t.Fatal("an invalid config was applied")
	}
	v2 := ciPub.mustApply(t, routeConfig("users", upstream(t, "v2")), "region=eu")
	eventually(t, 10*time.Second, "the canary on the node", serves(t, e, "/users", "v2:"))
	if _, err := ci.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ci.Abort(ctx); err == nil {
		t.Fatal("abort without a canary succeeded")
	}
	rb, err := ci.Rollback(ctx, v1)
	if err != nil {
		t.Fatal(err)
	}

	check := func(c *Client) {
		t.Helper()
		page, err := c.History(ctx, 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		h := page.Entries
		type row struct {
			action, who, outcome string
			rev                  int64
		}
		want := []row{
			{ActionRollback, "ci", OutcomePublished, rb.Revision},
			{ActionAbort, "ci", OutcomeRefused, 0},
			{ActionPromote, "ci", OutcomePromoted, v2},
			{ActionApply, "ci", OutcomePublished, v2},
			{ActionApply, "ci", OutcomeRefused, 0},
			{ActionApply, "ci", OutcomePublished, v1},
			{ActionTokenCreate, BootstrapTokenName, OutcomeDone, 0},
		}
		if len(h) != len(want) || page.Next != 0 {
			t.Fatalf("history: %d entries (next %d), want %d: %+v", len(h), page.Next, len(want), h)
		}
		for i, w := range want {
			got := row{h[i].Action, h[i].Who, h[i].Outcome, h[i].Revision}
			if got != w {
				t.Errorf("entry %d: %+v, want %+v", i, got, w)
			}
			if h[i].Time.IsZero() || time.Since(h[i].Time) > time.Minute || (i > 0 && h[i].Seq >= h[i-1].Seq) {
				t.Errorf("entry %d: time %v, seq %d", i, h[i].Time, h[i].Seq)
			}
		}
		if h[0].Note != fmt.Sprintf("rollback to %d", v1) || h[0].Digest == "" || h[0].User != "alice" {
			t.Errorf("rollback entry: %+v", h[0])
		}
		if h[1].Detail != ErrNoCanary.Error() {
			t.Errorf("refused abort: %+v", h[1])
		}
		if h[3].Selector != "region=eu" || h[3].Changes == nil || *h[3].Changes != 1 {
			t.Errorf("canary apply: %+v", h[3])
		}
		if !strings.Contains(h[4].Detail, `policy "authz"`) || h[4].Revision != 0 {
			t.Errorf("refused apply: %+v", h[4])
		}
		if h[6].Detail != `token "ci", role deploy` {
			t.Errorf("token entry: %+v", h[6])
		}
	}
	check(&ci)

	// A second publisher on the same NATS, as after a restart, reads the
	// same history from JetStream.
	_, js := connect(t, natsURL)
	p2, err := NewPublisher(ctx, PublisherOptions{DataDir: pub.dir, JS: js, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p2.Close)
	srv := httptest.NewServer(p2.Handler())
	t.Cleanup(srv.Close)
	check(&Client{URL: srv.URL, Token: nt.Token})

	// read tokens read it; anonymous callers do not.
	_, err = (&Client{URL: srv.URL}).History(ctx, 0, 10)
	apiErr(t, "history without a token", err, 401)
	_, err = pub.client.History(ctx, 0, MaxHistoryPage+1)
	apiErr(t, "a page too large", err, 400, "limit")
}

func TestHistoryPages(t *testing.T) {
	pub := startPublisher(t, startNATS(t))
	ctx := context.Background()
	const n = 120
	for i := range n {
		pub.audit(ctx, HistoryEntry{Action: ActionApply, Who: "w", Revision: int64(i + 1), Outcome: OutcomePublished})
	}
	var got []int64
	before := uint64(0)
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatalf("more than 3 pages of 50 for %d entries", n)
		}
		page, err := pub.client.History(ctx, before, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) > 50 {
			t.Fatalf("page of %d", len(page.Entries))
		}
		for _, e := range page.Entries {
			got = append(got, e.Revision)
		}
		if page.Next == 0 {
			break
		}
		before = page.Next
	}
	if len(got) != n {
		t.Fatalf("%d entries over the pages, want %d", len(got), n)
	}
	for i, rev := range got {
		if rev != int64(n-i) {
			t.Fatalf("entry %d is revision %d, want %d (newest first, no repeats)", i, rev, n-i)
		}
	}
}
