package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Node states reported in the node-status bucket.
const (
	StateWaiting  = "waiting"  // no snapshot yet
	StateApplying = "applying" // building a new snapshot beside the running one
	StateReady    = "ready"    // serving Revision
	StateError    = "error"    // the last snapshot tried (Wanted) was refused; still serving Revision
)

// NodeStatus is one node's entry in the sluice_nodes bucket.
type NodeStatus struct {
	ID       string            `json:"id"`
	Labels   map[string]string `json:"labels"`
	Revision int64             `json:"revision"` // running; 0 = none
	Digest   string            `json:"digest,omitempty"`
	State    string            `json:"state"`
	Error    string            `json:"error,omitempty"`
	Wanted   int64             `json:"wanted,omitempty"` // the revision last tried
	LastSeen time.Time         `json:"last_seen"`
	// Stats are the node's request totals since it started.
	Stats NodeStats `json:"stats"`
	// Latency is the node's request-latency histogram since it started;
	// with Stats, the publisher judges a gated canary on the difference
	// between two reports.
	Latency *Latency `json:"latency,omitempty"`
	// Routes are each route's totals and latency histogram since the node
	// started; the publisher's dashboard charts the differences between
	// reports.
	Routes map[string]RouteStats `json:"routes,omitempty"`
}

// ListNodes reads every live node's status (expired ones are gone), by id.
func ListNodes(ctx context.Context, b *Buckets) ([]NodeStatus, error) {
	keys, err := b.Keys(ctx, NodesBucket, "")
	if err != nil {
		return nil, err
	}
	var out []NodeStatus
	for _, key := range keys {
		e, err := b.Nodes.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // expired or deleted between list and get
		}
		if err != nil {
			return nil, err
		}
		var st NodeStatus
		if json.Unmarshal(e.Value(), &st) == nil {
			out = append(out, st)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// NodeStats are a node's request totals since it started (edge.Stats, as
// reported).
type NodeStats struct {
	Requests        int64 `json:"requests"`
	Errors5xx       int64 `json:"errors_5xx"`
	OpenConnections int64 `json:"open_connections"`
}

// RouteStats are one route's totals since the node started: requests, 5xx,
// and the latency histogram as Prometheus keeps it (cumulative counts per
// upper bound in seconds, ascending, +Inf left out).
type RouteStats struct {
	Requests      int64     `json:"requests"`
	Errors5xx     int64     `json:"errors_5xx"`
	LatencyBounds []float64 `json:"latency_bounds"`
	LatencyCounts []uint64  `json:"latency_counts"`
	LatencyCount  uint64    `json:"latency_count"`
}
