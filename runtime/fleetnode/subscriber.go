// Package fleetnode is an edge node's side of the fleet: it follows the
// snapshot keys over NATS, verifies each envelope against the trusted key,
// fetches its artifacts, builds and swaps the snapshot into the node, keeps
// the last good one on disk to boot from, and reports status.
package fleetnode

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicegw/sluice/runtime/artifacts"
	"github.com/sluicegw/sluice/runtime/discovery"
	"github.com/sluicegw/sluice/runtime/edge"
	"github.com/sluicegw/sluice/runtime/fleet"
)

// Options configure the fleet side of an edge node.
type Options struct {
	// Conn is the node's NATS connection (made with Connect, shared with
	// the node); nil: the subscriber dials NATSURL itself.
	Conn    *nats.Conn
	NATSURL string
	Node    *edge.Node
	NodeID  string
	Labels  map[string]string
	Trust   ed25519.PublicKey // the publisher's key; every snapshot must verify against it
	DataDir string            // last good snapshot and its artifacts
	Logger  *slog.Logger
	// StatusInterval is how often the node refreshes its status entry;
	// default StatusInterval.
	StatusInterval time.Duration
	// Discovery, when set, follows the services bucket while connected.
	Discovery *discovery.Discovery
	// RetryAfter is how long a node waits before applying again a snapshot
	// it failed to apply (an artifact it could not fetch, a full disk); the
	// wait doubles with each failure of the same snapshot, up to
	// maxRetryAfter. Default DefaultRetryAfter.
	RetryAfter time.Duration
	// NATSCreds is the credentials file the subscriber dials NATSURL with
	// (node.creds); unused with Conn.
	NATSCreds string
}

// DefaultRetryAfter is the first wait before a failed snapshot is applied
// again; maxRetryAfter bounds the doubling.
const (
	DefaultRetryAfter = 10 * time.Second
	maxRetryAfter     = 5 * time.Minute
)

// Subscriber keeps an edge node on the revision the fleet wants: it watches
// the snapshot keys, verifies each envelope, fetches and checks artifacts,
// has the node build and swap the snapshot, and reports status. It keeps the
// last good snapshot on disk to boot from when NATS is unreachable.
type Subscriber struct {
	opts     Options
	log      *slog.Logger
	lastGood *lastGoodStore

	mu       sync.Mutex // guards the fields below; the status reporter reads them
	status   fleet.NodeStatus
	current  *fleet.Envelope // running
	floor    int64           // highest stable revision applied: older stable ones are replays
	failed   *fleet.Envelope // the last one refused: retried after retryAt, or when it changes
	retryAt  time.Time
	retryIn  time.Duration // the wait after the next failure of failed
	statusCh chan struct{}
	nodes    jetstream.KeyValue // the status bucket of the latest session, for the goodbye

	// canaryLive: a canary is published, so status reports carry the
	// latency histogram a gated canary is judged on (gathering it costs
	// ~2 ms, not worth paying every 5 s on an idle fleet).
	canaryLive atomic.Bool
}

// opened is an envelope whose signature was checked and whose document was
// decoded, once, when it arrived: at a thousand nodes a second ed25519
// verification on the apply path was a tenth of the fleet's CPU per apply
// (BENCHMARKS.md, "Fleet convergence").
type opened struct {
	env *fleet.Envelope
	doc *fleet.Document
}

// open verifies env against the trusted key and decodes its document.
func (s *Subscriber) open(env *fleet.Envelope) (*opened, error) {
	doc, err := env.Open(s.opts.Trust)
	if err != nil {
		return nil, err
	}
	return &opened{env: env, doc: doc}, nil
}

// New returns a subscriber; call Boot, then Run.
func New(opts Options) (*Subscriber, error) {
	if len(opts.Trust) != ed25519.PublicKeySize {
		return nil, errors.New("fleet: a trusted publisher key is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.StatusInterval == 0 {
		opts.StatusInterval = fleet.StatusInterval
	}
	if opts.Labels == nil {
		opts.Labels = map[string]string{}
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = DefaultRetryAfter
	}
	return &Subscriber{
		opts:     opts,
		log:      opts.Logger,
		lastGood: newLastGoodStore(opts.DataDir),
		status:   fleet.NodeStatus{ID: opts.NodeID, Labels: opts.Labels, State: fleet.StateWaiting},
		statusCh: make(chan struct{}, 1),
	}, nil
}

func (s *Subscriber) cache(store jetstream.ObjectStore) *artifacts.Cache {
	return &artifacts.Cache{Dir: artifacts.CacheDir(s.opts.DataDir), Store: store}
}

// Boot applies the last good snapshot from disk, if there is one, using
// only local artifacts. It reports whether the node has a snapshot.
func (s *Subscriber) Boot(ctx context.Context) (bool, error) {
	lg, err := s.lastGood.read()
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	snap, err := s.open(lg.Envelope)
	if err != nil {
		return false, fmt.Errorf("last good snapshot: %w", err)
	}
	s.mu.Lock()
	s.floor = lg.Floor
	s.mu.Unlock()
	if err := s.apply(ctx, snap, s.cache(nil)); err != nil {
		return false, fmt.Errorf("last good snapshot: %w", err)
	}
	s.log.Info("booted from the last good snapshot on disk", "revision", lg.Envelope.Revision)
	return true, nil
}

// Status returns what the node reports.
func (s *Subscriber) Status() fleet.NodeStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	return st
}

// Run connects to NATS and follows the fleet until ctx is done,
// reconnecting forever.
func (s *Subscriber) Run(ctx context.Context) error {
	nc := s.opts.Conn
	if nc == nil {
		var opts []nats.Option
		if s.opts.NATSCreds != "" {
			creds, err := fleet.CredsOption(s.opts.NATSCreds)
			if err != nil {
				return err
			}
			opts = append(opts, creds)
		}
		var err error
		if nc, err = fleet.Connect(s.opts.NATSURL, "sluice-edge "+s.opts.NodeID, opts...); err != nil {
			return err
		}
		defer nc.Close()
	}
	defer s.goodbye()
	waiting := false // for the publisher to create the buckets
	for ctx.Err() == nil {
		if nc.IsClosed() {
			// nats.go gives up when the server refuses the credentials
			// twice in a row.
			err := fmt.Errorf("NATS connection closed: %v", nc.LastError())
			s.log.Error("fleet: no longer following NATS; serving the running snapshot", "error", err)
			return err
		}
		if !nc.IsConnected() {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		err := s.session(ctx, nc)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case !errors.Is(err, fleet.ErrNoBuckets):
			waiting = false
			s.log.Warn("fleet session ended; starting again", "error", err)
		case !waiting: // said once, not at every retry until the publisher starts
			waiting = true
			s.log.Warn("waiting for the publisher to create the fleet's buckets", "error", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil
}

// watchCheck is how often a session compares the snapshot keys with what
// its watch has delivered. The watch is an ordered consumer living on the
// bucket's stream leader; when a cluster loses that server, a node still
// connected to another one hears nothing until the client library misses
// heartbeats and recreates the consumer, measured at ~20 s in
// TestClusterServerLossLosesNoRevision. A watch behind the bucket on two
// checks in a row is started over, which bounds that gap at about two
// intervals; the two reads per check cost an idle node about a third more
// CPU (RATIONALE.md), so the interval is not shorter, and a node connected
// to a single server, where losing it is a reconnect, does not read. The
// same tick retries a failed snapshot whose wait is over.
const watchCheck = 2 * time.Second

// applyingReportAfter is how long a snapshot builds before the node reports
// that it is applying: most build in milliseconds and are reported once,
// ready. Reporting every start too doubled the status writes per apply,
// each one a JetStream write the publisher's dashboard also reads.
const applyingReportAfter = 250 * time.Millisecond

var errWatchStalled = errors.New("snapshot watch fell behind the bucket")

// session follows the fleet over one NATS connection; it returns when the
// connection is re-established (the watch starts over, replaying the
// current keys) or something fails.
func (s *Subscriber) session(ctx context.Context, nc *nats.Conn) error {
	ctx, cancel := fleet.UntilReconnect(ctx, nc)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	openCtx, openCancel := context.WithTimeout(ctx, 5*time.Second)
	b, err := fleet.BindBuckets(openCtx, js)
	openCancel()
	if err != nil {
		return err
	}
	w, err := b.Config.WatchFiltered(ctx, []string{fleet.StableKey, fleet.CanaryKey})
	if err != nil {
		return fmt.Errorf("watch snapshots: %w", err)
	}
	defer w.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() { defer wg.Done(); s.report(ctx, b.Nodes) }()
	if s.opts.Discovery != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.opts.Discovery.Follow(ctx, b.Services) }()
	}
	s.mu.Lock()
	s.nodes = b.Nodes
	s.mu.Unlock()
	cache := s.cache(b.Artifacts)
	var stable, canary *opened
	s.canaryLive.Store(false) // until the watch delivers the canary key
	// Until the watch has delivered both keys' current values, applying
	// would be premature: a canary node would build stable first, serve it
	// briefly, then build the canary.
	// The watch marks the end of them with a nil entry; should that marker
	// never come, a short timer stands in for it.
	initialized := false
	initTimeout := time.After(2 * time.Second)
	// Only a cluster can lose the watch's server without this connection
	// noticing; on a single server that loss is a reconnect.
	clustered := nc.ConnectedClusterName() != ""
	check := time.NewTicker(watchCheck)
	defer check.Stop()
	seen := map[string]uint64{} // key: bucket revision the watch delivered last
	behind := false
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx) // fleet.ErrReconnected: start over
		case <-initTimeout:
			if !initialized {
				initialized = true
				if target := s.target(stable, canary); target != nil {
					_ = s.apply(ctx, target, cache)
				}
			}
		case <-check.C:
			if target := s.target(stable, canary); initialized && target != nil && s.retryDue(target) {
				_ = s.apply(ctx, target, cache) // a failed snapshot, again after its wait
			}
			// Updates still queued are not a stall (the node was busy
			// applying); only an idle watch behind the bucket is.
			lag := initialized && clustered && len(w.Updates()) == 0 && watchBehind(ctx, b.Config, seen)
			if lag && behind {
				return errWatchStalled
			}
			behind = lag
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("snapshot watch closed")
			}
			if e == nil { // the initial values are in
				initialized = true
				if target := s.target(stable, canary); target != nil {
					_ = s.apply(ctx, target, cache) // reported in status
				}
				continue
			}
			seen[e.Key()] = e.Revision()
			env := s.accept(e)
			switch e.Key() {
			case fleet.StableKey:
				if env != nil {
					stable = env
				}
			case fleet.CanaryKey:
				if e.Operation() != jetstream.KeyValuePut {
					if canary != nil {
						s.forgetFailure(canary.env.Revision)
					}
					canary = nil
				} else if env != nil {
					canary = env
				}
				s.canaryLive.Store(canary != nil)
			}
			if !initialized {
				continue
			}
			if target := s.target(stable, canary); target != nil {
				_ = s.apply(ctx, target, cache) // reported in status
			}
		}
	}
}

// watchBehind reports whether a snapshot key holds a newer value than the
// watch delivered. A failed read says nothing: losing the connection is
// the reconnect check's business.
func watchBehind(ctx context.Context, kv jetstream.KeyValue, seen map[string]uint64) bool {
	ctx, cancel := context.WithTimeout(ctx, watchCheck)
	defer cancel()
	for _, key := range []string{fleet.StableKey, fleet.CanaryKey} {
		if e, err := kv.Get(ctx, key); err == nil && e.Revision() > seen[key] {
			return true
		}
	}
	return false
}

// accept parses, verifies and opens a watched envelope; a bad one is
// reported and dropped, so the node keeps its current snapshot.
func (s *Subscriber) accept(e jetstream.KeyValueEntry) *opened {
	if e.Operation() != jetstream.KeyValuePut {
		return nil
	}
	var snap *opened
	env, err := fleet.ParseEnvelope(e.Value())
	if err == nil {
		snap, err = s.open(env)
	}
	s.mu.Lock()
	if err == nil && e.Key() == fleet.StableKey && env.Revision < s.floor {
		err = fmt.Errorf("snapshot %d: %w %d", env.Revision, fleet.ErrStaleRevision, s.floor)
	}
	s.mu.Unlock()
	if err != nil {
		rev := int64(0)
		if env != nil {
			rev = env.Revision
		}
		s.refused(rev, err)
		return nil
	}
	return snap
}

// target is the envelope this node should run: the canary when it is newer
// than stable and selects this node, else stable.
func (s *Subscriber) target(stable, canary *opened) *opened {
	if canary != nil && (stable == nil || canary.env.Revision > stable.env.Revision) {
		if sel, err := fleet.ParseSelector(canary.env.Selector); err == nil && sel.Matches(s.opts.NodeID, s.opts.Labels) {
			return canary
		}
	}
	return stable
}

// apply moves the node to env unless it already runs it (or refused it).
// The node builds the new snapshot beside the running one; on any error the
// running one keeps serving and the error is reported.
func (s *Subscriber) apply(ctx context.Context, snap *opened, cache *artifacts.Cache) error {
	env, doc := snap.env, snap.doc
	s.mu.Lock()
	if same(s.failed, env) && time.Now().Before(s.retryAt) {
		s.mu.Unlock()
		return nil
	}
	if same(s.current, env) {
		// Already running this content. A promoted canary arrives again
		// as stable: adopt it without rebuilding, raising the floor.
		promoted := env.Selector == "" && s.current.Selector != ""
		if promoted {
			s.current, s.floor = env, max(s.floor, env.Revision)
		}
		lg := lastGood{Envelope: s.current, Floor: s.floor}
		s.mu.Unlock()
		if promoted {
			s.keep(lg)
		}
		return nil
	}
	s.status.State, s.status.Wanted, s.status.Error = fleet.StateApplying, env.Revision, ""
	s.mu.Unlock()
	slow := time.AfterFunc(applyingReportAfter, s.notify)
	defer slow.Stop()

	err := func() error {
		cfg, err := cache.Materialize(ctx, doc)
		if err != nil {
			return fmt.Errorf("snapshot %d: %w", env.Revision, err)
		}
		if _, err := s.opts.Node.ApplyRevision(cfg, edge.FleetRevision{Revision: env.Revision, Digest: env.Digest}); err != nil {
			return fmt.Errorf("snapshot %d: %w", env.Revision, err)
		}
		return nil
	}()
	if err != nil {
		s.mu.Lock()
		if !same(s.failed, env) {
			s.retryIn = s.opts.RetryAfter
		}
		s.failed, s.retryAt = env, time.Now().Add(s.retryIn)
		s.retryIn = min(2*s.retryIn, maxRetryAfter)
		s.mu.Unlock()
		s.refused(env.Revision, err)
		return err
	}
	s.mu.Lock()
	s.current, s.failed = env, nil
	if env.Selector == "" {
		s.floor = max(s.floor, env.Revision)
	}
	s.status.Revision, s.status.Digest, s.status.State, s.status.Error = env.Revision, env.Digest, fleet.StateReady, ""
	lg := lastGood{Envelope: env, Floor: s.floor}
	s.mu.Unlock()
	s.notify()
	s.keep(lg)
	if err := cache.Prune(doc.Artifacts()); err != nil {
		s.log.Warn("cannot remove artifacts the running snapshot no longer uses", "error", err)
	}
	s.log.Info("fleet snapshot applied", "revision", env.Revision, "digest", env.Digest, "canary", env.Selector)
	return nil
}

// retryDue reports whether env is the snapshot that failed and its wait is
// over.
func (s *Subscriber) retryDue(snap *opened) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return same(s.failed, snap.env) && !time.Now().Before(s.retryAt)
}

// forgetFailure clears an error about rev once rev is withdrawn (an
// aborted canary): the node runs its good snapshot and should say so. The
// publisher keeps the abort and its reason.
func (s *Subscriber) forgetFailure(rev int64) {
	s.mu.Lock()
	changed := s.status.State == fleet.StateError && s.status.Wanted == rev && s.current != nil
	if changed {
		s.status.State, s.status.Error, s.status.Wanted = fleet.StateReady, "", 0
		s.failed = nil
	}
	s.mu.Unlock()
	if changed {
		s.notify()
	}
}

// keep writes the last good snapshot to disk for the next boot.
func (s *Subscriber) keep(lg lastGood) {
	if err := s.lastGood.write(lg); err != nil {
		s.log.Error("cannot keep the last good snapshot on disk", "error", err)
	}
}

// refused reports an envelope the node would not or could not run.
func (s *Subscriber) refused(rev int64, err error) {
	s.log.Error("snapshot refused; keeping the running snapshot", "revision", rev, "error", err)
	s.mu.Lock()
	s.status.State, s.status.Wanted, s.status.Error = fleet.StateError, rev, err.Error()
	s.mu.Unlock()
	s.notify()
}

func same(a, b *fleet.Envelope) bool {
	return a != nil && b != nil && a.Revision == b.Revision && a.Digest == b.Digest
}

func (s *Subscriber) notify() { signal(s.statusCh) }

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// goodbye removes the node's status entry when it stops, so `status`
// lists only running nodes; a node that dies without one is flagged silent
// and then expires.
func (s *Subscriber) goodbye() {
	s.mu.Lock()
	nodes := s.nodes
	s.mu.Unlock()
	if nodes == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := nodes.Delete(ctx, s.opts.NodeID); err != nil {
		s.log.Warn("status entry not removed on stop", "error", err)
	}
}

// report writes the node's status on every change and every interval, so
// the entry (with its TTL) stays alive while the node is.
func (s *Subscriber) report(ctx context.Context, nodes jetstream.KeyValue) {
	t := time.NewTicker(s.opts.StatusInterval)
	defer t.Stop()
	var admin http.Handler
	if s.opts.Node != nil {
		admin = s.opts.Node.AdminHandler()
	}
	for {
		st := s.Status()
		st.LastSeen = time.Now().UTC()
		if s.opts.Node != nil {
			st.Stats = fleet.NodeStats(s.opts.Node.Stats())
			st.Routes = s.opts.Node.RouteStats()
			if s.canaryLive.Load() {
				lat, err := fleet.ReadLatency(admin)
				if err != nil {
					s.log.Warn("latency not reported", "error", err)
				}
				st.Latency = lat
			}
		}
		if _, err := nodes.Put(ctx, st.ID, fleet.MustJSON(st)); err != nil && ctx.Err() == nil {
			s.log.Warn("status report failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.statusCh:
		}
	}
}
