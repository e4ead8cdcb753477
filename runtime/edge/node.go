package edge

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/filter"
)

// Options configure a Node. The zero value of each field is a safe default.
type Options struct {
	NodeID string
	// DataDir holds the node's state on disk: wazero's compilation cache
	// (so a restart does not recompile filters). "" keeps it in memory.
	DataDir string
	Logger  *slog.Logger // operational log; nil = slog.Default()
	// AccessLog receives one JSON line per request, each in one Write
	// call (so concurrent requests never interleave; it must be safe for
	// concurrent use, as LogBuffer is); nil disables access logs.
	AccessLog io.Writer

	MaxHeaderBytes    int           // request head limit (431 beyond); default 64 KiB
	ReadHeaderTimeout time.Duration // default 10s
	IdleTimeout       time.Duration // keep-alive idle limit; default 120s
	ShutdownTimeout   time.Duration // drain deadline on stop; default 30s
	Engine            Engine        // HTTP/1.1 engine; default EngineFast

	// NATS, when set, carries fleet-scope rate limits between nodes
	// (subjects under sluice.ratelimit.) and fleet-wide cache purges
	// (sluice.cache.purge). nil: a fleet-scope limit is enforced per node,
	// with a warning, as for a fleet of one.
	NATS *nats.Conn

	// fleetSync is how often fleet-scope limits report; 0 = the default.
	fleetSync time.Duration
	// clock is what rate limits and the cache read the time from; tests set
	// it to a clock they move by hand. nil = time.Now.
	clock func() time.Time

	// PrepareSnapshot, if set, is called with each new snapshot after it
	// is built and before it is swapped in (under Apply's lock). Fleet
	// service discovery uses it to hand the new pools the instances known
	// now, so a swap never serves an upstream without them.
	PrepareSnapshot func(*Snapshot)
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxHeaderBytes == 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	if o.ReadHeaderTimeout == 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 120 * time.Second
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = 30 * time.Second
	}
	if o.Engine == "" {
		o.Engine = EngineFast
	}
	if o.clock == nil {
		o.clock = time.Now
	}
	return o
}

// Node is one edge node: it serves requests with whatever snapshot is
// current and swaps snapshots atomically.
type Node struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics

	applyMu  sync.Mutex // serializes Apply; the hot path never takes it
	current  atomic.Pointer[Snapshot]
	revision int64
	draining atomic.Bool

	// wasm is the node's one wazero runtime, created with the first
	// snapshot that has filters and shared by every snapshot after it.
	wasmOnce sync.Once
	wasm     *filter.Runtime
	wasmErr  error

	limiters limiterSet         // guarded by applyMu
	purgeSub *nats.Subscription // fleet-wide cache purges; nil without NATS
}

// NewNode returns a node with no snapshot yet: it answers 503 until Apply.
func NewNode(opts Options) *Node {
	opts = opts.withDefaults()
	n := &Node{opts: opts, log: opts.Logger}
	n.limiters = limiterSet{nc: opts.NATS, sync: opts.fleetSync, now: opts.clock, log: opts.Logger}
	if opts.NATS != nil {
		n.subscribePurges()
	}
	n.metrics = newMetrics(n)
	return n
}

// Apply builds cfg beside the running snapshot and swaps it in. Requests in
// flight finish on the old snapshot, which is closed after the last one. On
// error the running snapshot keeps serving untouched.
func (n *Node) Apply(cfg *config.Config) (*Snapshot, error) {
	n.applyMu.Lock()
	defer n.applyMu.Unlock()
	env := BuildEnv{Logger: n.log, Limiters: n.limiters.get, NodeID: n.opts.NodeID}
	if len(cfg.Filters) > 0 {
		rt, err := n.wasmRuntime()
		if err != nil {
			n.metrics.reloads.WithLabelValues("error").Inc()
			return nil, fmt.Errorf("build snapshot: %w", err)
		}
		env.Filters = rt
	}
	s, err := Build(context.Background(), cfg, env)
	if err != nil {
		n.metrics.reloads.WithLabelValues("error").Inc()
		return nil, fmt.Errorf("build snapshot: %w", err)
	}
	n.limiters.retain(cfg)
	if n.opts.PrepareSnapshot != nil {
		n.opts.PrepareSnapshot(s)
	}
	n.revision++
	s.Revision = n.revision
	s.start()
	old := n.current.Swap(s)
	if old != nil {
		old.release() // drop the "current" reference; in-flight ones keep it alive
	}
	n.metrics.reloads.WithLabelValues("ok").Inc()
	n.log.Info("snapshot applied", "revision", s.Revision, "digest", s.Digest, "routes", len(cfg.Routes))
	return s, nil
}

// now is the node's clock.
func (n *Node) now() time.Time { return n.opts.clock() }

// Current returns the running snapshot, or nil before the first Apply.
func (n *Node) Current() *Snapshot { return n.current.Load() }

// acquire returns the current snapshot with a reference held for one
// request, or nil when there is none.
func (n *Node) acquire() *Snapshot {
	for {
		s := n.current.Load()
		if s == nil {
			return nil
		}
		if s.acquire() {
			return s
		}
		// s was replaced and closed between the load and the acquire; the
		// next load sees its successor.
	}
}

// wasmRuntime returns the node's wazero runtime, creating it on first use.
func (n *Node) wasmRuntime() (*filter.Runtime, error) {
	n.wasmOnce.Do(func() {
		cache := ""
		if n.opts.DataDir != "" {
			cache = filepath.Join(n.opts.DataDir, "wasm-cache")
		}
		n.wasm, n.wasmErr = filter.NewRuntime(context.Background(), filter.RuntimeOptions{CacheDir: cache, Logger: n.log})
		if n.wasmErr != nil {
			n.wasmErr = fmt.Errorf("wasm runtime: %w", n.wasmErr)
			return
		}
		// The filters' call, trap and guest-defined series (runtime/filter/metrics.go).
		n.metrics.registry.MustRegister(n.wasm.Collector())
	})
	return n.wasm, n.wasmErr
}

// Close releases the running snapshot and the wasm runtime. Call it after
// the listeners stopped.
func (n *Node) Close() {
	n.applyMu.Lock()
	defer n.applyMu.Unlock()
	if s := n.current.Swap(nil); s != nil {
		s.release()
	}
	n.limiters.retain(nil)
	if n.purgeSub != nil {
		_ = n.purgeSub.Unsubscribe()
	}
	if n.wasm != nil {
		_ = n.wasm.Close(context.Background())
	}
}
