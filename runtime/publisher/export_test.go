package publisher

import (
	"context"
	"time"
)

// Internals the external tests (package publisher_test, which start whole
// fleets through fleettest) need to reach.

const MinGateRequests = minGateRequests

var HashToken = hashToken

// Audit records e in the history as the API does.
func (p *Publisher) Audit(ctx context.Context, e HistoryEntry) { p.audit(ctx, e) }

// WaitPruned waits for the pruning the last publish queued.
func (p *Publisher) WaitPruned() { p.pruning.Wait() }

// PruneOnce runs one pruning pass, holding the publisher's lock as the
// pruner does.
func (p *Publisher) PruneOnce(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prune(ctx)
}

// A decision tail checks its token every 50 ms in tests, so one that
// ends on a revocation ends at once. Set before any test starts a
// publisher: a test changing it later would race with running tails.
func init() { tokenRecheck = 50 * time.Millisecond }
