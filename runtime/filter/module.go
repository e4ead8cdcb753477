package filter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/sluicegw/sluice/runtime/filter/internal/wasmrewrite"
)

// ModuleOptions configure one filter module. Zero values take the defaults.
type ModuleOptions struct {
	// Name is the filter's name, used in errors and logs.
	Name string
	// Config is handed to the guest by get_config (JSON by convention).
	Config []byte
	// MemoryLimit is the most linear memory, in bytes, an instance may
	// have; rounded down to 64 KiB pages. 0 means DefaultMemoryLimit. A
	// module whose minimum memory is larger is refused by Load.
	MemoryLimit int64
	// Timeout bounds each call into the guest (handle_request,
	// handle_response). 0 means DefaultTimeout. A negative value disables
	// the deadline and the code instrumentation behind it: only for
	// trusted filters, since a looping guest would then hold its goroutine
	// forever.
	Timeout time.Duration
	// MaxInstances caps live instances (idle and in use). 0 sizes the cap
	// by the rule at MinDefaultInstances: from the guest's memory after
	// initialisation for a pinned filter, from the cores for an unpinned
	// one.
	MaxInstances int
	// IdleTimeout is how long an unused instance is kept before it is
	// closed, so a filter without traffic costs no instances. 0 means
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Upstreams are the upstreams the guest's http_call (proxy-wasm:
	// proxy_http_call) may reach, by name: its allow-list. A name not here
	// is refused.
	Upstreams map[string]Upstream
}

// Module is a compiled, validated filter and its pool of instances. It is
// safe for concurrent use.
type Module struct {
	rt       *Runtime
	name     string
	opts     ModuleOptions
	compiled wazero.CompiledModule
	logger   *slog.Logger

	abi      abi    // detected from the exports
	pwConfig []byte // a proxy-wasm guest's plugin configuration (pwConfig)
	ticker   pwTicker
	// serving is set once the pool is ready: a proxy-wasm queue may name
	// the module from its first instance's initialisation on, before.
	serving   atomic.Bool
	memPages  uint32 // memory limit in pages
	interrupt bool   // code is instrumented with the interrupt flag
	hasStart  bool   // the module had a start section, exported as exportStartFunc
	initFunc  string // exportInitialize, exportStart or ""
	features  Features
	stats     wasmrewrite.Stats
	// globalsExported bounds the indices of the globals the rewriter
	// exported for the image (0 when the module gets no image).
	globalsExported uint32
	// image is the initialised state new instances start from instead
	// of running the guest's initialisation (image.go); nil: none.
	image *moduleImage
	// data are the module's data segments, left out of the compiled
	// module, written by the host into an instance that does not start
	// from the image (the first, or all when no image could be made).
	data []wasmrewrite.DataSegment

	// pinned: a request holds one instance from handle_request to
	// handle_response (the guest may keep per-request state in its
	// memory). Every module is, unless its guest enabled FeatureStateless
	// while initialising.
	pinned bool

	pool pool

	// obs are the module's call series (metrics.go); guestMetrics the
	// metrics its guest defined, by id (guestmetrics.go).
	obs          moduleMetrics
	metricsMu    sync.RWMutex
	guestMetrics []*moduleMetric
	// digest is "sha256:HEX" of the module's bytes, for traces.
	digest string
}

// Load validates, rewrites and compiles a module and creates its first
// instance, so that everything wrong with it is reported here, by name:
// malformed binary, imports other than the host functions with their exact
// signatures, missing or mistyped exports, a memory minimum above the limit,
// a trap during initialisation. Load is slow (compilation); it belongs to
// snapshot building, never to the request path.
func (r *Runtime) Load(ctx context.Context, wasm []byte, opts ModuleOptions) (*Module, error) {
	opts = withDefaults(opts)
	m := &Module{
		rt:     r,
		name:   opts.Name,
		opts:   opts,
		logger: r.logger.With("filter", opts.Name),
		pinned: true,
		obs:    r.metrics.forModule(opts.Name),
		digest: digestOf(wasm),
	}
	invalid := func(format string, args ...any) error {
		return filterError(m.name, "load", ErrInvalidModule, fmt.Sprintf(format, args...))
	}
	pages, err := memoryLimitPages(opts.MemoryLimit)
	if err != nil {
		return nil, filterError(m.name, "load", ErrMemory, err.Error())
	}
	m.memPages = pages

	parsed, err := wasmrewrite.Parse(wasm)
	if err != nil {
		return nil, invalid("%v", err)
	}
	m.abi = detectABI(parsed.Exports)
	m.pwConfig = pwConfig(opts.Config)
	if err := r.checkImports(parsed.Imports, m.abi); err != nil {
		return nil, invalid("%v", err)
	}
	if err := checkExportsPresent(parsed.Exports, m.abi); err != nil {
		return nil, invalid("%v", err)
	}
	if err := checkMemory(parsed.Memories, pages); err != nil {
		return nil, err.wrap(m.name)
	}
	m.interrupt = opts.Timeout > 0 && !r.closeOnContextDone
	m.hasStart = parsed.HasStart
	for _, ex := range parsed.Exports {
		if ex.Kind == wasmrewrite.KindFunc && (ex.Name == exportInitialize || (ex.Name == exportStart && m.initFunc == "")) {
			m.initFunc = ex.Name
		}
	}
	ro := wasmrewrite.Options{MaxMemoryPages: pages, StartExport: exportStartFunc}
	if m.interrupt {
		ro.InterruptExport = exportInterrupt
		ro.YieldEvery = yieldEvery
	}
	if imageable(parsed, m.hasStart, m.initFunc) {
		ro.GlobalsExportPrefix = exportGlobals
		m.globalsExported = parsed.Globals() + 2 // and the interrupt flag and loop counter, when added
		// wazero evaluates each data segment at every instantiation: a
		// Go guest has thousands, ~3.5 ms of its ~4 ms. Instances from
		// the image need none; the host writes them for the first.
		if segs, ok := parsed.ActiveData(); ok {
			ro.DropData, m.data = true, segs
		}
	}
	rewritten, stats, err := parsed.Encode(ro)
	if err != nil {
		return nil, invalid("rewrite: %v", err)
	}
	m.stats = stats

	compiled, err := r.rt.CompileModule(ctx, rewritten)
	if err != nil {
		return nil, invalid("compile: %v", err)
	}
	m.compiled = compiled
	if err := r.checkSignatures(compiled, m.abi); err != nil {
		_ = compiled.Close(ctx)
		return nil, invalid("%v", err)
	}
	if err := r.track(m); err != nil {
		_ = compiled.Close(ctx)
		return nil, filterError(m.name, "load", ErrClosed, "")
	}

	first, err := m.newInstance(ctx)
	if err != nil {
		r.untrack(m)
		_ = compiled.Close(ctx)
		return nil, err
	}
	m.features = first.base
	m.pinned = !m.features.Has(FeatureStateless)
	m.takeImage(first)
	if opts.MaxInstances <= 0 {
		m.opts.MaxInstances = defaultMaxInstances(m.pinned, first.mem.Size())
	}
	m.pool.init(m, m.opts.MaxInstances, opts.IdleTimeout)
	m.pool.seed(first)
	if m.abi == abiProxyWasm {
		m.startTicker()
	}
	m.serving.Store(true)
	m.logger.Debug("filter loaded", "functions", stats.Functions, "loops", stats.Loops,
		"abi", m.abi, "memory_limit_pages", pages, "interrupt", m.interrupt, "features", m.features,
		"pinned", m.pinned, "max_instances", m.opts.MaxInstances)
	return m, nil
}

func withDefaults(o ModuleOptions) ModuleOptions {
	if o.MemoryLimit == 0 {
		o.MemoryLimit = DefaultMemoryLimit
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	return o
}

// digestOf is how the fleet names an artifact: "sha256:" and the hex sum.
func digestOf(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Digest returns "sha256:HEX" of the module as it was given to Load.
func (m *Module) Digest() string { return m.digest }

// Name returns the filter's name.
func (m *Module) Name() string { return m.name }

// Pinned reports whether a request holds one instance of the module from
// handle_request to handle_response: true unless the guest declared
// FeatureStateless while initialising. An unpinned module's instance is
// Detached after handle_request and another one Resumed for
// handle_response.
func (m *Module) Pinned() bool { return m.pinned }

// Features returns the features the guest enabled while initialising (in a
// start function or _initialize), which hold for every request. A guest may
// enable more per request; see Instance.Features.
func (m *Module) Features() Features { return m.features }

// Close closes the idle instances and the compiled module; instances in use
// are closed when released. Acquire fails with ErrClosed afterwards. The
// edge calls it when the snapshot holding the module is retired.
func (m *Module) Close(ctx context.Context) error {
	if !m.pool.close(ctx) {
		return nil
	}
	m.stopTicker()
	m.rt.untrack(m)
	if m.image != nil {
		m.image.mem.close() // instances still alive keep their own mappings
	}
	return m.compiled.Close(ctx)
}
