package publisher

import "context"

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
