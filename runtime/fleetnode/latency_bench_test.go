package fleetnode_test

import (
	"log/slog"
	"testing"

	"github.com/sluicegw/sluice/runtime/edge"
	"github.com/sluicegw/sluice/runtime/fleet"
)

// BenchmarkReadLatency is what a status report pays to gather the node's
// latency histogram from its /metrics.
func BenchmarkReadLatency(b *testing.B) {
	node := edge.NewNode(edge.Options{NodeID: "bench", DataDir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	defer node.Close()
	admin := node.AdminHandler()
	for b.Loop() {
		if _, err := fleet.ReadLatency(admin); err != nil {
			b.Fatal(err)
		}
	}
}
