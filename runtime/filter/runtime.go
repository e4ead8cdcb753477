// Package filter hosts WebAssembly filters that speak the http-wasm handler
// ABI (host module "http_handler", guest exports handle_request and
// handle_response), on wazero.
//
// One Runtime per edge node compiles modules (with an optional on-disk
// compilation cache). Load checks, rewrites and compiles a module and
// creates one instance eagerly, so a bad filter fails when a snapshot is
// built, never on the request path. A Module keeps a pool of instances;
// the edge Acquires one per request, calls HandleRequest and, when the guest
// said next=1, HandleResponse on the same instance, then Releases it; for a
// guest that declared FeatureStateless it Detaches and Releases the instance
// after HandleRequest and Resumes any instance for HandleResponse.
// Instances that trapped, timed out or misused the ABI are dropped, never
// reused.
//
// Limits hold per module: the memory limit is written into the module's
// memory maximum before compiling, and the time limit is enforced by an
// interrupt flag that the rewritten code tests at every loop header and
// function entry (see limits.go and RATIONALE.md, "Filter deadlines").
package filter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// RuntimeOptions configure a Runtime.
type RuntimeOptions struct {
	// CacheDir is the directory of wazero's on-disk compilation cache, so
	// that a restarted node does not recompile its filters. "" keeps the
	// cache in memory.
	CacheDir string
	// Logger receives guest logs (the ABI's log function, guest stdout and
	// stderr) and instance lifecycle events. nil discards them.
	Logger *slog.Logger

	// closeOnContextDone selects wazero's WithCloseOnContextDone as the
	// deadline mechanism instead of the interrupt flag. It exists so that
	// the benchmarks can compare both; see RATIONALE.md, "Filter deadlines".
	closeOnContextDone bool
}

// Runtime is the node's single wazero runtime: the host modules, WASI, and
// the compilation cache shared by every filter module.
type Runtime struct {
	rt                 wazero.Runtime
	cache              wazero.CompilationCache
	logger             *slog.Logger
	closeOnContextDone bool
	mem                memStats // linear memory of the live instances
	metrics            *hostMetrics
	shared             *pwShared // proxy-wasm shared data and queues, per node
	pwMetrics          pwMetrics // proxy-wasm guests' metrics, per node

	// hostFuncs holds, per host module name, the functions a guest may
	// import with their signatures; Load checks imports against it.
	hostFuncs map[string]map[string]api.FunctionDefinition

	mu      sync.Mutex
	modules map[*Module]struct{}
	closed  bool
}

// NewRuntime creates the node's runtime and instantiates the host modules.
func NewRuntime(ctx context.Context, opts RuntimeOptions) (*Runtime, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var cache wazero.CompilationCache
	if opts.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(opts.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("filter runtime: compilation cache %s: %w", opts.CacheDir, err)
		}
		cache = c
	} else {
		cache = wazero.NewCompilationCache()
	}
	cfg := wazero.NewRuntimeConfig().
		WithCompilationCache(cache).
		WithCloseOnContextDone(opts.closeOnContextDone)
	r := &Runtime{
		rt:                 wazero.NewRuntimeWithConfig(ctx, cfg),
		cache:              cache,
		logger:             logger,
		closeOnContextDone: opts.closeOnContextDone,
		hostFuncs:          map[string]map[string]api.FunctionDefinition{},
		modules:            map[*Module]struct{}{},
		metrics:            newHostMetrics(),
		shared:             newPWShared(),
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.rt); err != nil {
		_ = r.rt.Close(ctx)
		return nil, fmt.Errorf("filter runtime: wasi: %w", err)
	}
	r.hostFuncs[wasiModule] = r.rt.Module(wasiModule).ExportedFunctionDefinitions()
	for name, funcs := range map[string][]hostFunc{hostModule: hostFuncs(), sluiceModule: sluiceHostFuncs()} {
		host, err := instantiateHost(ctx, r.rt, name, funcs)
		if err != nil {
			_ = r.rt.Close(ctx)
			return nil, fmt.Errorf("filter runtime: %s: %w", name, err)
		}
		r.hostFuncs[name] = host.ExportedFunctionDefinitions()
	}
	env, unstable, err := instantiatePWHost(ctx, r.rt)
	if err != nil {
		_ = r.rt.Close(ctx)
		return nil, fmt.Errorf("filter runtime: proxy-wasm host: %w", err)
	}
	r.hostFuncs[pwHostModule] = env.ExportedFunctionDefinitions()
	r.hostFuncs[wasiUnstable] = unstable.ExportedFunctionDefinitions()
	return r, nil
}

// Close closes every module loaded by r, the wazero runtime, and the
// compilation cache. Calls in flight fail.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	mods := make([]*Module, 0, len(r.modules))
	for m := range r.modules {
		mods = append(mods, m)
	}
	r.mu.Unlock()
	for _, m := range mods {
		_ = m.Close(ctx)
	}
	err := r.rt.Close(ctx)
	if cerr := r.cache.Close(ctx); err == nil {
		err = cerr
	}
	return err
}

func (r *Runtime) track(m *Module) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	r.modules[m] = struct{}{}
	return nil
}

func (r *Runtime) untrack(m *Module) {
	r.mu.Lock()
	delete(r.modules, m)
	r.mu.Unlock()
}
