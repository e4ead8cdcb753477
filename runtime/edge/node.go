package edge

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicegw/sluice/runtime/config"
)

// Options configure a Node. The zero value of each field is a safe default.
type Options struct {
	NodeID string
	Logger *slog.Logger // operational log; nil = slog.Default()
	// AccessLog receives one JSON line per request; nil disables access logs.
	AccessLog *slog.Logger

	MaxHeaderBytes    int           // request head limit (431 beyond); default 64 KiB
	ReadHeaderTimeout time.Duration // default 10s
	IdleTimeout       time.Duration // keep-alive idle limit; default 120s
	ShutdownTimeout   time.Duration // drain deadline on stop; default 30s
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
}

// NewNode returns a node with no snapshot yet: it answers 503 until Apply.
func NewNode(opts Options) *Node {
	opts = opts.withDefaults()
	n := &Node{opts: opts, log: opts.Logger}
	n.metrics = newMetrics(n)
	return n
}

// Apply builds cfg beside the running snapshot and swaps it in. Requests in
// flight finish on the old snapshot, which is closed after the last one. On
// error the running snapshot keeps serving untouched.
func (n *Node) Apply(cfg *config.Config) (*Snapshot, error) {
	n.applyMu.Lock()
	defer n.applyMu.Unlock()
	s, err := Build(cfg, n.log)
	if err != nil {
		n.metrics.reloads.WithLabelValues("error").Inc()
		return nil, fmt.Errorf("build snapshot: %w", err)
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

// Close releases the running snapshot. Call it after the listeners stopped.
func (n *Node) Close() {
	n.applyMu.Lock()
	defer n.applyMu.Unlock()
	if s := n.current.Swap(nil); s != nil {
		s.release()
	}
}
