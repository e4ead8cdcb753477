package edge

import "github.com/sluicegw/sluice/runtime/config"

// FleetRevision names the fleet revision a snapshot runs, as the publisher
// numbered and digested it; what a node's decision logs carry, so a
// decision can be traced to the exact policy bundle that made it.
type FleetRevision struct {
	Revision int64
	Digest   string // "sha256:HEX" of the revision's document
}

// ApplyRevision is Apply for a snapshot of the fleet: the snapshot is
// labelled with rev before it is swapped in.
func (n *Node) ApplyRevision(cfg *config.Config, rev FleetRevision) (*Snapshot, error) {
	return n.apply(cfg, rev)
}
