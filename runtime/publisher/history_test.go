package publisher_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleetclient"
	"github.com/sluicegw/sluice/runtime/fleettest"
	"github.com/sluicegw/sluice/runtime/publisher"
	"github.com/sluicegw/sluice/runtime/testkit"
)

func TestHistoryRecordsWhoDidWhatAndSurvivesARestart(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	ctx := context.Background()
	e := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "eu-1", Labels: map[string]string{"region": "eu"}, Trust: pub.Identity().Public})
	nt, err := pub.Client.CreateToken(ctx, "ci", publisher.RoleDeploy)
	if err != nil {
		t.Fatal(err)
	}
	ci := *pub.Client
	ci.Token, ci.Author = nt.Token, "alice"
	ciPub := *pub
	ciPub.Client = &ci

	v1 := ciPub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "v1")), "")
	// Valid YAML that fails only when built: refused by the publisher.
	polDir := t.TempDir()
	os.WriteFile(filepath.Join(polDir, "p.rego"), []byte("package sluice.authz\n\ndecision := input.nope +\n"), 0o644)
	if _, err := ciPub.ApplyYAML(t, fleettest.RouteConfig("users", "http://127.0.0.1:1")+fmt.Sprintf("policies: {authz: {module: %s}}\n", polDir), ""); err == nil {
		t.Fatal("an invalid config was applied")
	}
	v2 := ciPub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "v2")), "region=eu")
	testkit.WaitFor(t, 10*time.Second, "the canary on the node", fleettest.Serves(t, e, "/users", "v2:"))
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

	check := func(c *fleetclient.Client) {
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
			{publisher.ActionRollback, "ci", publisher.OutcomePublished, rb.Revision},
			{publisher.ActionAbort, "ci", publisher.OutcomeRefused, 0},
			{publisher.ActionPromote, "ci", publisher.OutcomePromoted, v2},
			{publisher.ActionApply, "ci", publisher.OutcomePublished, v2},
			{publisher.ActionApply, "ci", publisher.OutcomeRefused, 0},
			{publisher.ActionApply, "ci", publisher.OutcomePublished, v1},
			{publisher.ActionTokenCreate, publisher.BootstrapTokenName, publisher.OutcomeDone, 0},
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
		if h[1].Detail != fleet.ErrNoCanary.Error() {
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
	_, js := fleettest.Connect(t, natsURL)
	p2, err := publisher.New(ctx, publisher.Options{DataDir: pub.Dir, JS: js, Logger: fleettest.Quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p2.Close)
	srv := httptest.NewServer(p2.Handler())
	t.Cleanup(srv.Close)
	check(&fleetclient.Client{URL: srv.URL, Token: nt.Token})

	// read tokens read it; anonymous callers do not.
	_, err = (&fleetclient.Client{URL: srv.URL}).History(ctx, 0, 10)
	apiErr(t, "history without a token", err, 401)
	_, err = pub.Client.History(ctx, 0, publisher.MaxHistoryPage+1)
	apiErr(t, "a page too large", err, 400, "limit")
}

func TestHistoryPages(t *testing.T) {
	pub := fleettest.StartPublisher(t, fleettest.StartNATS(t))
	ctx := context.Background()
	const n = 120
	for i := range n {
		pub.Audit(ctx, publisher.HistoryEntry{Action: publisher.ActionApply, Who: "w", Revision: int64(i + 1), Outcome: publisher.OutcomePublished})
	}
	var got []int64
	before := uint64(0)
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatalf("more than 3 pages of 50 for %d entries", n)
		}
		page, err := pub.Client.History(ctx, before, 50)
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
