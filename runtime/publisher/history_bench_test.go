package publisher_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleettest"
	"github.com/sluicegw/sluice/runtime/publisher"
)

// BenchmarkHistoryPage reads one page of 50 entries from a history of 100
// and of 10,000 entries: the cost should not grow with the history.
func BenchmarkHistoryPage(b *testing.B) {
	for _, n := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			pub := fleettest.StartPublisher(b, fleettest.StartNATS(b))
			ctx := context.Background()
			for i := range n {
				pub.Audit(ctx, publisher.HistoryEntry{Action: publisher.ActionApply, Who: "bench", Revision: int64(i + 1), Outcome: publisher.OutcomePublished})
			}
			b.ResetTimer()
			for b.Loop() {
				if h, _, err := pub.History(ctx, 0, 50); err != nil || len(h) != 50 {
					b.Fatal(len(h), err)
				}
			}
		})
	}
}

// BenchmarkFleetRevisions compares what the fleet page's 20 latest
// revisions cost, read from the newest down, with listing every revision
// record, at 100 and 2,000 revisions.
func BenchmarkFleetRevisions(b *testing.B) {
	for _, n := range []int{100, 2_000} {
		pub := fleettest.StartPublisher(b, fleettest.StartNATS(b))
		ctx := context.Background()
		for i := 1; i <= n; i++ {
			if _, err := pub.Buckets().Config.Create(ctx, fleet.RevisionKey(int64(i)), fleet.MustJSON(&publisher.Revision{Revision: int64(i), Stable: true})); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("recent/revisions=%d", n), func(b *testing.B) {
			for b.Loop() {
				if r, err := pub.RecentRevisions(ctx, int64(n), 20); err != nil || len(r) != 20 {
					b.Fatal(len(r), err)
				}
			}
		})
		b.Run(fmt.Sprintf("list-all/revisions=%d", n), func(b *testing.B) {
			for b.Loop() {
				if r, err := pub.Revisions(ctx); err != nil || len(r) != n {
					b.Fatal(len(r), err)
				}
			}
		})
	}
}
