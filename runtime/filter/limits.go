package filter

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/sluicegw/sluice/runtime/config"
)

// Defaults for the zero values of ModuleOptions.
const (
	// DefaultMemoryLimit and DefaultTimeout are the limits of a module that
	// sets none. They are the node's defaults, owned by the config package
	// (what a filter without a limits block gets), not a second set of
	// numbers: `sluice filter build` and `sluice filter test` load with
	// zero options, and must refuse or stop a filter exactly where a node
	// would.
	DefaultMemoryLimit = config.DefaultFilterMemory
	DefaultTimeout     = config.DefaultFilterTimeout
	// DefaultIdleTimeout is how long an unused instance is kept.
	DefaultIdleTimeout = 60 * time.Second
	// idleReleaseAfter is how long an unused instance keeps the pages it
	// wrote before it is reset to its module's image, which gives them
	// back to the OS (at most half the idle timeout). Long enough that a
	// filter under steady load does not pay the page faults again on
	// every request; short enough that a burst's memory does not outlive
	// it by a minute.
	idleReleaseAfter = time.Second
	// The instance cap of a module whose config sets none follows from how
	// long a request holds an instance (defaultMaxInstances):
	//
	//   - pinned (the http-wasm reference host's rule, for guests that keep
	//     per-request state in their memory): held from handle_request
	//     until handle_response, across the upstream's whole answer, so the
	//     cap bounds requests in flight through the filter and comes from
	//     memory: instancesMemoryBudget over an initialised instance's
	//     linear memory, within [MinDefaultInstances, MaxDefaultInstances]
	//     (64 for a Go guest of ~4 MiB, 1024 for a 64 KiB one). A cap per
	//     core turned a slow upstream into 503s;
	//   - unpinned: held only while one guest call runs, which computes and
	//     is bounded by the filter's timeout, so no more than GOMAXPROCS
	//     calls make progress at once and more instances would only hold
	//     memory: the cap is GOMAXPROCS.
	//
	// Either way a request that finds every instance busy waits in line
	// until its own deadline (Acquire), and idle instances are released
	// after DefaultIdleTimeout.
	MinDefaultInstances   = 64
	MaxDefaultInstances   = 1024
	instancesMemoryBudget = 256 << 20

	// maxBodyBytes caps each body the host holds for a guest in one
	// exchange: the buffered request body, the request body it writes, the
	// response body it writes. A write past it fails the request.
	maxBodyBytes = 16 << 20
	// maxHeaderBytes caps the header bytes (names and values) a guest may
	// set or add in one exchange, so a guest looping on add_header_value
	// until its deadline cannot exhaust host memory.
	maxHeaderBytes = 1 << 20
	// maxLogBytes truncates one guest log message.
	maxLogBytes = 4096
	// yieldEvery is how many function entries and loop headers a guest
	// passes between two yields to the Go scheduler (and two tests of the
	// interrupt flag). See RATIONALE.md, "Filter deadlines".
	yieldEvery = 1 << 14
	// minInitTimeout bounds instantiation (start function, _initialize):
	// a Go guest's runtime initialisation takes milliseconds, more than a
	// tight per-request deadline.
	minInitTimeout = time.Second
)

// memoryLimitPages converts a limit in bytes to wasm pages (rounding down,
// at most maxPages32). The config refuses a limit outside its bounds when it
// is decoded; this guards options built by hand.
func memoryLimitPages(limit int64) (uint32, error) {
	if limit < config.MinFilterMemory {
		return 0, fmt.Errorf("memory limit of %d bytes is below one wasm page (64 KiB)", limit)
	}
	pages := limit / wasmPageSize
	if pages > maxPages32 {
		pages = maxPages32
	}
	return uint32(pages), nil
}

// watchdog enforces an instance's deadline through its interrupt flag, the
// exported mutable global the rewriter added and tests at every loop header
// and function entry. arm starts a call's deadline; when it passes, the timer
// goroutine sets the flag to 1 and the guest traps with `unreachable` at its
// next check. The flag is never cleared: an interrupted instance is dropped.
//
// The timer is created once per instance and re-armed per call (Reset and
// Stop are cheap and allocation-free). A timer callback can run late, after
// its call ended and another began; it only acts when a call is armed and
// that call's deadline has passed, so a stale fire is harmless.
type watchdog struct {
	flag api.MutableGlobal
	t    *time.Timer

	mu       sync.Mutex
	armed    bool
	deadline time.Time
	fired    bool
}

func newWatchdog(flag api.MutableGlobal) *watchdog {
	w := &watchdog{flag: flag}
	w.t = time.AfterFunc(time.Hour, w.fire)
	w.t.Stop()
	return w
}

func (w *watchdog) arm(deadline time.Time) {
	w.mu.Lock()
	w.armed, w.deadline = true, deadline
	w.mu.Unlock()
	w.t.Reset(time.Until(deadline))
}

// callDeadline is the deadline of the call in progress.
func (w *watchdog) callDeadline() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.deadline
}

// disarm ends the call and reports whether the deadline interrupted it.
func (w *watchdog) disarm() (fired bool) {
	w.t.Stop()
	w.mu.Lock()
	w.armed = false
	fired = w.fired
	w.mu.Unlock()
	return fired
}

func (w *watchdog) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.armed || w.fired || time.Now().Before(w.deadline) {
		return
	}
	w.fired = true
	w.flag.Set(1)
}

// stop releases the timer when the instance is closed.
func (w *watchdog) stop() {
	w.t.Stop()
}

// defaultMaxInstances is the instance cap of a module whose config sets
// none, from whether its instances are pinned across the upstream round trip
// and the linear memory one initialised instance holds (see
// MinDefaultInstances for the rule).
func defaultMaxInstances(pinned bool, memBytes uint32) int {
	if !pinned {
		return runtime.GOMAXPROCS(0)
	}
	if memBytes == 0 {
		return MaxDefaultInstances
	}
	return min(max(instancesMemoryBudget/int(memBytes), MinDefaultInstances), MaxDefaultInstances)
}
