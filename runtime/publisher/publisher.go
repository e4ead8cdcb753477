// Package publisher is the fleet's control plane: it validates, signs and
// publishes snapshots (package fleet's envelopes) and their artifacts, runs
// canaries, their metric gates, promotions, aborts and rollbacks, keeps the
// durable history, prunes old revisions, and serves all of it as an HTTP API
// with role-carrying tokens (api.go) and the fleet page (package fleetpage).
package publisher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicegw/sluice/runtime/artifacts"
	"github.com/sluicegw/sluice/runtime/edge"
	"github.com/sluicegw/sluice/runtime/filter"
	"github.com/sluicegw/sluice/runtime/fleet"
)

// Publisher is the control plane: it validates configs by building them as
// a node would, stores artifacts, signs and publishes snapshot revisions,
// and runs canary rollouts.
type Publisher struct {
	id      *fleet.Identity
	tokens  *tokenStore
	b       *fleet.Buckets
	js      jetstream.JetStream
	history jetstream.Stream // SLUICE_HISTORY
	dash    *dashboardRun    // the fleet page's charts, fed from status reports
	cache   *artifacts.Cache
	log     *slog.Logger
	auth    *fleet.NATSAuth
	data    string

	mu      sync.Mutex // serializes publishing: one revision at a time
	lastRev int64
	keep    int           // revision records kept (besides stable and canary)
	grace   time.Duration // unused artifacts younger than this are kept

	// Pruning runs after a publish, in the background (pruneLater).
	pruneQueued atomic.Bool
	pruning     sync.WaitGroup
	waiting     atomic.Int32 // callers of lock not yet holding p.mu
	pruneMu     sync.Mutex
	pruneStop   context.CancelFunc // the running prune's; nil when none
	bg          context.Context    // ends at Close
	stopBG      context.CancelFunc

	wasmOnce sync.Once
	wasm     *filter.Runtime
	wasmErr  error
}

// Options configure a Publisher.
type Options struct {
	DataDir string // token, keys, artifact cache, wasm compilation cache
	JS      jetstream.JetStream
	Logger  *slog.Logger
	// KeepRevisions is how many revision records are kept besides the
	// stable and canary ones (0: DefaultKeepRevisions); ArtifactGrace how
	// old an unused artifact must be to be deleted (0: DefaultArtifactGrace).
	KeepRevisions int
	ArtifactGrace time.Duration
	// Replicas is how many servers of a NATS cluster keep each bucket
	// (nodes follow what the publisher created); 0 keeps an existing
	// bucket's count, 1 for a new one.
	Replicas int
	// NATSAuth signs the nodes' NATS credentials (POST
	// /v1/nodes/{id}/creds); nil when the publisher has none to sign.
	NATSAuth *fleet.NATSAuth
}

// Revision is one published revision as kept in the revision.N keys.
type Revision struct {
	Revision int64           `json:"revision"`
	Digest   string          `json:"digest"`
	Selector string          `json:"selector,omitempty"` // set for a canary
	Stable   bool            `json:"stable"`             // published as, or promoted to, stable
	Aborted  bool            `json:"aborted,omitempty"`  // a canary that was aborted
	Author   string          `json:"author,omitempty"`
	Created  time.Time       `json:"created"`
	Note     string          `json:"note,omitempty"`
	Envelope *fleet.Envelope `json:"envelope"`
	// Gate is set for a metric-gated canary.
	Gate *Gate `json:"gate,omitempty"`
	// Diff is what an apply changed; only in Apply's answer, not stored.
	Diff *Diff `json:"-"`
}

// New loads or creates the identity in opts.DataDir and opens the
// buckets.
func New(ctx context.Context, opts Options) (*Publisher, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	id, err := fleet.LoadOrCreateIdentity(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("publisher identity: %w", err)
	}
	tokens, err := openTokens(opts.DataDir, id.Token)
	if err != nil {
		return nil, err
	}
	b, err := fleet.OpenBuckets(ctx, opts.JS, opts.Replicas)
	if err != nil {
		return nil, err
	}
	history, err := openHistory(ctx, opts.JS, opts.Replicas)
	if err != nil {
		return nil, err
	}
	if err := openDecisions(ctx, opts.JS, opts.Replicas); err != nil {
		return nil, err
	}
	if opts.KeepRevisions <= 0 {
		opts.KeepRevisions = DefaultKeepRevisions
	}
	if opts.ArtifactGrace <= 0 {
		opts.ArtifactGrace = DefaultArtifactGrace
	}
	p := &Publisher{id: id, tokens: tokens, b: b, js: opts.JS, history: history, keep: opts.KeepRevisions, grace: opts.ArtifactGrace, log: opts.Logger, auth: opts.NATSAuth, data: opts.DataDir,
		// Its own cache, apart from a node's that may share the data dir
		// (sluice dev): nodes prune theirs to what they run.
		cache: &artifacts.Cache{Dir: artifacts.CacheDir(filepath.Join(opts.DataDir, "publisher")), Store: b.Artifacts}}
	p.bg, p.stopBG = context.WithCancel(context.Background())
	revs, err := p.Revisions(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range revs {
		p.lastRev = max(p.lastRev, r.Revision)
	}
	p.dash = startDashboard(b.Nodes)
	return p, nil
}

// Identity returns the publisher's token and keys.
func (p *Publisher) Identity() *fleet.Identity { return p.id }

// Buckets returns the fleet's stores.
func (p *Publisher) Buckets() *fleet.Buckets { return p.b }

// Close stops following the nodes for the charts and releases the wasm
// runtime used for validation.
func (p *Publisher) Close() {
	p.dash.stop()
	p.stopBG()
	p.pruning.Wait()
	if p.wasm != nil {
		_ = p.wasm.Close(context.Background())
	}
}

// MissingArtifacts returns those of digests the Object Store lacks.
func (p *Publisher) MissingArtifacts(ctx context.Context, digests []string) ([]string, error) {
	missing := []string{}
	for _, d := range digests {
		if !artifacts.ValidDigest(d) {
			return nil, fmt.Errorf("artifact %q: not a sha256 digest", d)
		}
		_, err := p.b.Artifacts.GetInfo(ctx, d)
		switch {
		case errors.Is(err, jetstream.ErrObjectNotFound):
			missing = append(missing, d)
		case err != nil:
			return nil, fmt.Errorf("artifact %s: %w", d, err)
		}
	}
	return missing, nil
}

// PutArtifact stores data under digest after checking that it hashes to it.
func (p *Publisher) PutArtifact(ctx context.Context, digest string, data []byte) error {
	if got := fleet.Digest(data); got != digest {
		return fmt.Errorf("artifact %s: content hashes to %s: %w", digest, got, fleet.ErrDigestMismatch)
	}
	if _, err := p.b.Artifacts.PutBytes(ctx, digest, data); err != nil {
		return fmt.Errorf("artifact %s: store: %w", digest, err)
	}
	return nil
}

// Validate builds the document's snapshot exactly as `sluice validate` and
// an edge node do (every wasm module compiled and instantiated, every policy
// prepared) and discards it. Errors wrap ErrInvalidConfig.
func (p *Publisher) Validate(ctx context.Context, doc *fleet.Document) error {
	cfg, origins, err := p.cache.MaterializeWithOrigins(ctx, doc)
	if err != nil {
		return fmt.Errorf("%w: %w", fleet.ErrInvalidConfig, err)
	}
	env := edge.BuildEnv{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if len(cfg.Filters) > 0 {
		if env.Filters, err = p.wasmRuntime(); err != nil {
			return err
		}
	}
	snap, err := edge.Build(ctx, cfg, env)
	if err != nil {
		// Name the user's files, not the publisher's artifact cache.
		return fmt.Errorf("%w: %s", fleet.ErrInvalidConfig, origins.Replace(err.Error()))
	}
	snap.Discard()
	return nil
}

func (p *Publisher) wasmRuntime() (*filter.Runtime, error) {
	p.wasmOnce.Do(func() {
		p.wasm, p.wasmErr = filter.NewRuntime(context.Background(), filter.RuntimeOptions{
			CacheDir: filepath.Join(p.data, "wasm-cache"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	})
	return p.wasm, p.wasmErr
}

// Diff compares doc with the running stable revision.
func (p *Publisher) Diff(ctx context.Context, doc *fleet.Document) (*Diff, error) {
	var old *fleet.Document
	var against int64
	stable, err := p.envelope(ctx, fleet.StableKey)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return nil, fmt.Errorf("diff: stable revision: %w", err)
	default:
		if old, err = stable.UnverifiedDocument(); err != nil {
			return nil, fmt.Errorf("diff: stable revision %d: %w", stable.Revision, err)
		}
		against = stable.Revision
	}
	d, err := DiffDocuments(old, doc)
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	d.Against = against
	return d, nil
}

// Apply validates doc and publishes it as a new revision: to the stable key,
// or to the canary key when canary (a selector) is set. The revision's Diff
// is what it changes against the stable revision it was published over.
func (p *Publisher) Apply(ctx context.Context, doc *fleet.Document, canary string) (*Revision, error) {
	return p.ApplyGated(ctx, doc, canary, nil)
}

// ApplyGated is Apply for a canary that RunGates promotes or aborts by
// itself, judged on gate.
func (p *Publisher) ApplyGated(ctx context.Context, doc *fleet.Document, canary string, gate *Gate) (*Revision, error) {
	if gate != nil {
		if canary == "" {
			return nil, fmt.Errorf("--bake needs --canary: only a canary is gated: %w", fleet.ErrBadRequest)
		}
		if err := gate.check(); err != nil {
			return nil, err
		}
	}
	if canary != "" {
		if _, err := fleet.ParseSelector(canary); err != nil {
			return nil, err
		}
	}
	if err := p.Validate(ctx, doc); err != nil {
		return nil, err
	}
	p.lock()
	defer p.mu.Unlock()
	if canary != "" {
		if _, err := p.envelope(ctx, fleet.StableKey); errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("canary: no stable revision to compare with; apply one without --canary first: %w", fleet.ErrNoRevision)
		} else if err != nil {
			return nil, fmt.Errorf("canary: %w", err)
		}
	}
	if doc.Created.IsZero() {
		doc.Created = time.Now().UTC()
	}
	diff, err := p.Diff(ctx, doc)
	if err != nil {
		return nil, err
	}
	rec, err := p.publish(ctx, doc, canary, gate)
	if err != nil {
		return nil, err
	}
	rec.Diff = diff
	return rec, nil
}

// publish signs doc as the next revision and writes it. p.mu is held.
func (p *Publisher) publish(ctx context.Context, doc *fleet.Document, selector string, gate *Gate) (*Revision, error) {
	rec, err := p.record(ctx, doc, selector, gate)
	if err != nil {
		return nil, err
	}
	env := rec.Envelope
	if selector == "" {
		// A new stable revision supersedes any canary in progress. Asked
		// before the stable key is written: after it, the server is busy
		// delivering it to every node, and at 1,000 nodes this read waited
		// behind them for a third of a second before the apply returned.
		superseded := p.hasCanary(ctx)
		if _, err := p.b.Config.Put(ctx, fleet.StableKey, env.Marshal()); err != nil {
			return nil, fmt.Errorf("revision %d: publish: %w", rec.Revision, err)
		}
		if superseded {
			if err := p.removeCanary(ctx); err != nil {
				return nil, err
			}
		}
	} else if _, err := p.b.Config.Put(ctx, fleet.CanaryKey, env.Marshal()); err != nil {
		return nil, fmt.Errorf("revision %d: publish canary: %w", rec.Revision, err)
	}
	p.log.Info("published", "revision", rec.Revision, "digest", env.Digest, "selector", selector, "author", doc.Author)
	p.pruneLater()
	return rec, nil
}

// record signs doc as the next revision and claims that number by creating
// its revision.N record. Create, not Put: two publishers on one cluster
// cannot both take a number; the one that loses catches up and tries the
// next. p.mu is held.
func (p *Publisher) record(ctx context.Context, doc *fleet.Document, selector string, gate *Gate) (*Revision, error) {
	const attempts = 3
	for attempt := 1; ; attempt++ {
		rev := p.lastRev + 1
		env, err := fleet.Seal(p.id.Key, rev, selector, doc)
		if err != nil {
			return nil, err
		}
		rec := &Revision{Revision: rev, Digest: env.Digest, Selector: selector, Stable: selector == "",
			Author: doc.Author, Created: doc.Created, Note: doc.Note, Envelope: env}
		if gate != nil {
			g := *gate
			g.Started = time.Now().UTC()
			rec.Gate = &g
		}
		_, err = p.b.Config.Create(ctx, fleet.RevisionKey(rev), fleet.MustJSON(rec))
		if err == nil {
			p.lastRev = rev
			return rec, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) || attempt == attempts {
			return nil, fmt.Errorf("revision %d: record: %w", rev, err)
		}
		revs, lerr := p.Revisions(ctx)
		if lerr != nil {
			return nil, fmt.Errorf("revision %d: record: %w", rev, lerr)
		}
		p.lastRev = rev
		for _, r := range revs {
			p.lastRev = max(p.lastRev, r.Revision)
		}
	}
}

// Promote makes the canary revision stable everywhere: it is re-signed
// with no selector under the same revision, so canary nodes, already on it,
// do nothing, and every other node moves to it.
func (p *Publisher) Promote(ctx context.Context) (*Revision, error) {
	return p.promoteRevision(ctx, 0)
}

// canaryAt returns the canary's envelope if it is revision rev (0: any);
// fleet.ErrNoCanary when there is none, or another. p.mu is held: a gated
// canary's decision must be about the canary it watched.
func (p *Publisher) canaryAt(ctx context.Context, rev int64) (*fleet.Envelope, error) {
	canary, err := p.envelope(ctx, fleet.CanaryKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fleet.ErrNoCanary
	}
	if err != nil {
		return nil, err
	}
	if rev != 0 && canary.Revision != rev {
		return nil, fmt.Errorf("revision %d: %w (revision %d is)", rev, fleet.ErrNoCanary, canary.Revision)
	}
	return canary, nil
}

// promoteRevision promotes the canary if it is revision rev (0: any).
func (p *Publisher) promoteRevision(ctx context.Context, rev int64) (*Revision, error) {
	p.lock()
	defer p.mu.Unlock()
	canary, err := p.canaryAt(ctx, rev)
	if err != nil {
		return nil, err
	}
	doc, err := canary.UnverifiedDocument()
	if err != nil {
		return nil, err
	}
	env, err := fleet.Seal(p.id.Key, canary.Revision, "", doc)
	if err != nil {
		return nil, err
	}
	if _, err := p.b.Config.Put(ctx, fleet.StableKey, env.Marshal()); err != nil {
		return nil, fmt.Errorf("promote %d: %w", canary.Revision, err)
	}
	if err := p.removeCanary(ctx); err != nil { // read above, under the lock
		return nil, err
	}
	rec, err := p.updateRevision(ctx, canary.Revision, func(r *Revision) { r.Stable = true })
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// AbortCanary ends the canary: canary nodes return to the stable
// revision. It returns the aborted revision's record; who and why go in the
// caller's history entry.
func (p *Publisher) AbortCanary(ctx context.Context) (*Revision, error) {
	p.lock()
	defer p.mu.Unlock()
	return p.abort(ctx, 0)
}

// abortRevision aborts the canary if it is revision rev.
func (p *Publisher) abortRevision(ctx context.Context, rev int64) (*Revision, error) {
	p.lock()
	defer p.mu.Unlock()
	return p.abort(ctx, rev)
}

// abort removes the canary if it is revision rev (0: any). p.mu is held.
func (p *Publisher) abort(ctx context.Context, rev int64) (*Revision, error) {
	canary, err := p.canaryAt(ctx, rev)
	if err != nil {
		return nil, err
	}
	if err := p.removeCanary(ctx); err != nil {
		return nil, err
	}
	rec := &Revision{Revision: canary.Revision, Digest: canary.Digest, Selector: canary.Selector, Aborted: true}
	// The canary is gone whatever happens next; the mark in its record is
	// only for the fleet page.
	if _, err := p.updateRevision(ctx, canary.Revision, func(r *Revision) { r.Aborted = true }); err != nil {
		p.log.Warn("canary aborted but its revision record not updated", "revision", canary.Revision, "error", err)
	}
	return rec, nil
}

// Rollback republishes an earlier revision's document as a new stable
// revision. rev 0 means the stable revision before the current one.
func (p *Publisher) Rollback(ctx context.Context, rev int64, author string) (*Revision, error) {
	p.lock()
	defer p.mu.Unlock()
	revs, err := p.Revisions(ctx)
	if err != nil {
		return nil, err
	}
	var target *Revision
	if rev == 0 {
		stable, err := p.envelope(ctx, fleet.StableKey)
		if err != nil {
			return nil, fmt.Errorf("rollback: no stable revision: %w", err)
		}
		for i := len(revs) - 1; i >= 0; i-- { // newest first
			if revs[i].Stable && revs[i].Revision < stable.Revision {
				target = revs[i]
				break
			}
		}
		if target == nil {
			return nil, fmt.Errorf("rollback: no stable revision before %d: %w", stable.Revision, fleet.ErrNoRevision)
		}
	} else {
		for _, r := range revs {
			if r.Revision == rev {
				target = r
			}
		}
		if target == nil {
			return nil, fmt.Errorf("rollback to %d: %w (the publisher keeps the newest %d and the running ones)", rev, fleet.ErrNoRevision, p.keep)
		}
	}
	doc, err := target.Envelope.UnverifiedDocument()
	if err != nil {
		return nil, err
	}
	doc.Author, doc.Created, doc.Note = author, time.Now().UTC(), fmt.Sprintf("rollback to %d", target.Revision)
	return p.publish(ctx, doc, "", nil)
}

// Revisions lists every published revision, oldest first.
func (p *Publisher) Revisions(ctx context.Context) ([]*Revision, error) {
	keys, err := p.b.Keys(ctx, fleet.ConfigBucket, fleet.RevisionPrefix+">")
	if err != nil {
		return nil, err
	}
	var out []*Revision
	for _, key := range keys {
		e, err := p.b.Config.Get(ctx, key)
		if err != nil {
			continue // removed meanwhile
		}
		var r Revision
		if err := json.Unmarshal(e.Value(), &r); err != nil {
			p.log.Warn("unreadable revision record", "key", key, "error", err)
			continue
		}
		out = append(out, &r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Revision < out[j].Revision })
	return out, nil
}

// RecentRevisions returns up to n revision records, newest first, from
// revision newest down: it reads those records only, not every revision
// ever published. Numbers lost to a race between publishers leave gaps,
// which are skipped.
func (p *Publisher) RecentRevisions(ctx context.Context, newest int64, n int) ([]*Revision, error) {
	p.lock()
	newest = max(newest, p.lastRev)
	p.mu.Unlock()
	out := []*Revision{}
	for rev, tries := newest, 0; rev > 0 && len(out) < n && tries < 4*n; rev, tries = rev-1, tries+1 {
		e, err := p.b.Config.Get(ctx, fleet.RevisionKey(rev))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("revision %d: %w", rev, err)
		}
		var r Revision
		if err := json.Unmarshal(e.Value(), &r); err != nil {
			p.log.Warn("unreadable revision record", "revision", rev, "error", err)
			continue
		}
		out = append(out, &r)
	}
	return out, nil
}

// FleetStatus is the answer of `sluice status --json`.
type FleetStatus struct {
	Nodes  []fleet.NodeStatus `json:"nodes"`
	Stable int64              `json:"stable"`
	Canary *int64             `json:"canary"`
	// CanarySelector is the selector of the canary in progress, if any.
	CanarySelector string `json:"canary_selector,omitempty"`
}

// Status reads the node statuses and the current revisions.
func (p *Publisher) Status(ctx context.Context) (*FleetStatus, error) {
	nodes, err := fleet.ListNodes(ctx, p.b)
	if err != nil {
		return nil, err
	}
	st := &FleetStatus{Nodes: nodes}
	if st.Nodes == nil {
		st.Nodes = []fleet.NodeStatus{}
	}
	if e, err := p.envelope(ctx, fleet.StableKey); err == nil {
		st.Stable = e.Revision
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, err
	}
	if e, err := p.envelope(ctx, fleet.CanaryKey); err == nil {
		rev := e.Revision
		st.Canary, st.CanarySelector = &rev, e.Selector
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, err
	}
	return st, nil
}

// WatchCanary aborts the canary by itself when a node reports an error
// applying the canary revision. It runs until ctx is done.
func (p *Publisher) WatchCanary(ctx context.Context) error {
	w, err := p.b.Nodes.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			var st fleet.NodeStatus
			if json.Unmarshal(e.Value(), &st) != nil || st.State != fleet.StateError || st.Wanted == 0 {
				continue
			}
			p.abortIfCanary(ctx, st)
		}
	}
}

func (p *Publisher) abortIfCanary(ctx context.Context, st fleet.NodeStatus) {
	p.lock()
	defer p.mu.Unlock()
	canary, err := p.envelope(ctx, fleet.CanaryKey)
	if err != nil || canary.Revision != st.Wanted {
		return
	}
	reason := fmt.Sprintf("node %s failed to apply it: %s", st.ID, firstLine(st.Error))
	e := HistoryEntry{Action: ActionAbort, Who: PublisherWho, Revision: canary.Revision, Digest: canary.Digest,
		Selector: canary.Selector, Outcome: OutcomeAborted, Detail: reason}
	if _, err := p.abort(ctx, canary.Revision); err != nil {
		p.log.Error("canary auto-abort failed", "revision", canary.Revision, "error", err)
		e.Outcome, e.Detail = OutcomeFailed, reason+"; abort failed: "+err.Error()
		p.audit(ctx, e)
		return
	}
	p.audit(ctx, e)
	p.log.Warn("canary aborted", "revision", canary.Revision, "reason", reason)
}

func (p *Publisher) envelope(ctx context.Context, key string) (*fleet.Envelope, error) {
	e, err := p.b.Config.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return fleet.ParseEnvelope(e.Value())
}

// hasCanary reports whether the canary key holds a revision. A delete is a
// write every node's watch receives: most applies have no canary to
// supersede, and at 1,000 nodes the needless delete marker was 1,000 more
// deliveries per apply (BENCHMARKS.md). A failed read says yes: a needless
// marker costs less than a canary left in place.
func (p *Publisher) hasCanary(ctx context.Context) bool {
	_, err := p.b.Config.Get(ctx, fleet.CanaryKey)
	return !errors.Is(err, jetstream.ErrKeyNotFound)
}

func (p *Publisher) removeCanary(ctx context.Context) error {
	err := p.b.Config.Delete(ctx, fleet.CanaryKey)
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete canary: %w", err)
	}
	return nil
}

func (p *Publisher) updateRevision(ctx context.Context, rev int64, change func(*Revision)) (*Revision, error) {
	e, err := p.b.Config.Get(ctx, fleet.RevisionKey(rev))
	if err != nil {
		return nil, fmt.Errorf("revision %d: %w", rev, err)
	}
	var r Revision
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return nil, fmt.Errorf("revision %d: %w", rev, err)
	}
	change(&r)
	if _, err := p.b.Config.Put(ctx, fleet.RevisionKey(rev), fleet.MustJSON(&r)); err != nil {
		return nil, fmt.Errorf("revision %d: %w", rev, err)
	}
	return &r, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
