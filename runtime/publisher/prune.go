package publisher

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicegw/sluice/runtime/fleet"
)

// Retention: the publisher keeps the newest DefaultKeepRevisions revision
// records (and always those of the stable and canary revisions), and the
// artifacts they use; older records go after each publish, and artifacts no
// kept revision uses go once they are older than DefaultArtifactGrace (an
// apply uploads its artifacts before it publishes: a younger unused one may
// be about to be used).
const (
	DefaultKeepRevisions = 50
	DefaultArtifactGrace = time.Hour
)

// pruneLater prunes once the publish that asks has returned and released
// p.mu. Pruning reads every kept revision record and lists the Object
// Store: at 500 nodes that was 1-4 s of round trips to a server busy
// delivering the new snapshot, which every apply waited for
// (BENCHMARKS.md). At most one prune waits: publishes meanwhile share it.
func (p *Publisher) pruneLater() {
	if !p.pruneQueued.CompareAndSwap(false, true) {
		return
	}
	p.pruning.Add(1)
	go func() {
		defer p.pruning.Done()
		p.mu.Lock()
		defer p.mu.Unlock()
		p.pruneQueued.Store(false)
		if p.waiting.Load() > 0 {
			return // a publish goes first and queues the next prune
		}
		ctx, cancel := context.WithTimeout(p.bg, time.Minute)
		p.pruneMu.Lock()
		p.pruneStop = cancel
		p.pruneMu.Unlock()
		defer func() {
			p.pruneMu.Lock()
			p.pruneStop = nil
			p.pruneMu.Unlock()
			cancel()
		}()
		p.prune(ctx)
	}()
}

// lock takes p.mu for a publish, promotion, abort or rollback. They go
// before pruning: a prune in progress is cancelled (the next publish
// queues another), so an apply never waits out a prune stuck on a NATS
// failover (TestClusterServerLossLosesNoRevision).
func (p *Publisher) lock() {
	p.waiting.Add(1)
	p.pruneMu.Lock()
	if p.pruneStop != nil {
		p.pruneStop()
	}
	p.pruneMu.Unlock()
	p.mu.Lock()
	p.waiting.Add(-1)
}

// prune removes revision records past the retention count and artifacts no
// kept revision uses. Errors are logged: a failed prune is retried by the
// next publish. p.mu is held.
func (p *Publisher) prune(ctx context.Context) {
	start := time.Now()
	var arts int
	revs, err := p.pruneRevisions(ctx)
	if err == nil {
		arts, err = p.pruneArtifacts(ctx)
	}
	if err != nil {
		p.log.Warn("prune", "error", err)
		return
	}
	if revs > 0 || arts > 0 {
		p.log.Info("pruned", "revisions", revs, "artifacts", arts, "took", time.Since(start).Round(time.Millisecond))
	}
}

// pruneRevisions removes the records of revisions older than the newest
// keep, except the stable and canary ones. It purges their subjects from
// the bucket's stream, which leaves no delete marker behind: the listing
// of revision keys stays as long as the retention count, not the history.
func (p *Publisher) pruneRevisions(ctx context.Context) (int, error) {
	keys, err := p.b.Keys(ctx, fleet.ConfigBucket, fleet.RevisionPrefix+">")
	if err != nil {
		return 0, err
	}
	if len(keys) <= p.keep {
		return 0, nil
	}
	protect := map[int64]bool{}
	for _, key := range []string{fleet.StableKey, fleet.CanaryKey} {
		if e, err := p.envelope(ctx, key); err == nil {
			protect[e.Revision] = true
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return 0, err
		}
	}
	nums := make([]int64, 0, len(keys))
	for _, k := range keys {
		if n, err := strconv.ParseInt(strings.TrimPrefix(k, fleet.RevisionPrefix), 10, 64); err == nil {
			nums = append(nums, n)
		}
	}
	// Newest first: keep the first p.keep.
	slices.SortFunc(nums, func(a, b int64) int { return cmp.Compare(b, a) })
	stream, err := p.js.Stream(ctx, "KV_"+fleet.ConfigBucket)
	if err != nil {
		return 0, err
	}
	pruned := 0
	for _, n := range nums[min(p.keep, len(nums)):] {
		if protect[n] {
			continue
		}
		subject := "$KV." + fleet.ConfigBucket + "." + fleet.RevisionKey(n)
		if err := stream.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
			return pruned, fmt.Errorf("revision %d: %w", n, err)
		}
		pruned++
	}
	return pruned, nil
}

// pruneArtifacts deletes artifacts no kept revision record uses and that
// are older than the grace period.
func (p *Publisher) pruneArtifacts(ctx context.Context) (int, error) {
	revs, err := p.Revisions(ctx)
	if err != nil {
		return 0, err
	}
	used := map[string]bool{}
	for _, r := range revs {
		if r.Envelope == nil {
			continue
		}
		doc, err := r.Envelope.UnverifiedDocument()
		if err != nil {
			return 0, fmt.Errorf("revision %d: %w", r.Revision, err)
		}
		for _, d := range doc.Artifacts() {
			used[d] = true
		}
	}
	// The stable and canary envelopes too, should their records be gone.
	for _, key := range []string{fleet.StableKey, fleet.CanaryKey} {
		e, err := p.envelope(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return 0, err
		}
		doc, err := e.UnverifiedDocument()
		if err != nil {
			return 0, err
		}
		for _, d := range doc.Artifacts() {
			used[d] = true
		}
	}
	objs, err := p.b.Artifacts.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("artifacts: %w", err)
	}
	deleted := 0
	for _, o := range objs {
		if used[o.Name] || o.Deleted || time.Since(o.ModTime) < p.grace {
			continue
		}
		if err := p.b.Artifacts.Delete(ctx, o.Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return deleted, fmt.Errorf("artifact %s: %w", o.Name, err)
		}
		deleted++
	}
	return deleted, nil
}
