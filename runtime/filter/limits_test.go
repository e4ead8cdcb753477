package filter

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/config"
)

// TestTimeoutStopsLoop: a guest looping forever is stopped at its deadline,
// its request fails with ErrTimeout, the call returns (the goroutine is
// free) and the instance is dropped.
func TestTimeoutStopsLoop(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	const timeout = 50 * time.Millisecond
	for _, name := range []string{"loop", "loop_response"} {
		t.Run(name, func(t *testing.T) {
			m := loadWAT(t, rt, name, ModuleOptions{Timeout: timeout})
			start := time.Now()
			_, err := roundTrip(t, m, NewExchange(newRequest("GET", "/", "")), nil)
			took := time.Since(start)
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("err = %v, want ErrTimeout", err)
			}
			if took < timeout || took > timeout+time.Second {
				t.Errorf("stopped after %v, want about %v", took, timeout)
			}
			if !strings.Contains(err.Error(), "deadline of 50ms exceeded") {
				t.Errorf("err = %q", err)
			}
			if s := m.Stats(); s.Live != 0 {
				t.Errorf("pool %+v: the timed-out instance was kept", s)
			}
		})
	}
}

// TestContextDeadline: the caller's context deadline, when earlier, wins.
func TestContextDeadline(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "loop", ModuleOptions{Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	i, err := m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release(i)
	start := time.Now()
	if _, err := i.HandleRequest(ctx, NewExchange(newRequest("GET", "/", ""))); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v", took)
	}
}

// TestTimeoutWithContextDoneMechanism checks the alternative deadline
// mechanism (wazero's WithCloseOnContextDone) kept for comparison.
func TestTimeoutWithContextDoneMechanism(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{closeOnContextDone: true})
	m := loadWAT(t, rt, "loop", ModuleOptions{Timeout: 30 * time.Millisecond})
	if _, err := roundTrip(t, m, NewExchange(newRequest("GET", "/", "")), nil); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
}

// TestWatchdogRace runs guests whose run time straddles their deadline from
// many goroutines, so the timer goroutine sets the interrupt flag while
// calls start, run and end. Under -race this checks the Go side of the
// watchdog (the race detector cannot see the JIT-compiled guest's reads).
func TestWatchdogRace(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "loop10k", ModuleOptions{Timeout: 20 * time.Microsecond, MaxInstances: 8})
	loop := loadWAT(t, rt, "loop", ModuleOptions{Timeout: 5 * time.Millisecond, MaxInstances: 8})
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 40; n++ {
				mod := m
				if n%8 == 0 {
					mod = loop
				}
				_, err := roundTrip(t, mod, NewExchange(newRequest("GET", "/", "")), nil)
				key := "ok"
				switch {
				case errors.Is(err, ErrTimeout):
					key = "timeout"
				case err != nil:
					t.Errorf("unexpected error: %v", err)
				}
				mu.Lock()
				counts[key]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("outcomes: %v", counts)
	if counts["timeout"] < 8*5 {
		t.Errorf("only %d timeouts; the looping guest must always time out", counts["timeout"])
	}
}

// TestMemoryLimit: a guest growing its memory forever fails its request
// with ErrMemory when memory.grow returns -1 at the limit; the node goes
// on, and the memory maximum holds whatever the runtime allows.
func TestMemoryLimit(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "grow", ModuleOptions{MemoryLimit: 1 << 20})
	for n := 0; n < 2; n++ {
		_, err := roundTrip(t, m, NewExchange(newRequest("GET", "/", "")), nil)
		if !errors.Is(err, ErrMemory) {
			t.Fatalf("err = %v, want ErrMemory", err)
		}
		if want := `filter "grow": handle_request: memory limit: 1048576 bytes reached: unreachable`; err.Error() != want {
			t.Errorf("err = %q, want %q", err, want)
		}
	}
	// Another module in the same runtime is unaffected.
	ok := loadWAT(t, rt, "noop", ModuleOptions{})
	if next, err := roundTrip(t, ok, NewExchange(newRequest("GET", "/", "")), nil); err != nil || !next {
		t.Fatalf("noop after grow: %v, %v", next, err)
	}
	// The limit is the module's: the instance memory's maximum says so.
	i, err := m.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release(i)
	if max, ok := i.mem.Definition().Max(); !ok || max != 16 {
		t.Errorf("memory max = %d pages (%v), want 16", max, ok)
	}
}

// The config's bounds of limits.memory are the wasm host's: one page, and
// the pages a 32-bit memory has.
func TestConfigMemoryBoundsAreTheHosts(t *testing.T) {
	if config.MinFilterMemory != wasmPageSize || config.MaxFilterMemory != maxPages32*wasmPageSize {
		t.Fatalf("config bounds [%d, %d], host [%d, %d]", config.MinFilterMemory, config.MaxFilterMemory, wasmPageSize, maxPages32*wasmPageSize)
	}
	if got, err := memoryLimitPages(config.MaxFilterMemory); err != nil || got != maxPages32 {
		t.Errorf("memoryLimitPages(MaxFilterMemory) = %d, %v", got, err)
	}
}

func TestMemoryLimitPages(t *testing.T) {
	for limit, want := range map[int64]uint32{65536: 1, 65536*3 + 100: 3, 1 << 40: 65536} {
		if got, err := memoryLimitPages(limit); err != nil || got != want {
			t.Errorf("memoryLimitPages(%d) = %d, %v; want %d", limit, got, err, want)
		}
	}
	if _, err := memoryLimitPages(65535); err == nil {
		t.Error("a limit below one page was accepted")
	}
}

// TestNoTimeout: a negative Timeout turns the mechanism off (no
// instrumentation, no timer) for trusted filters.
func TestNoTimeout(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "loop10k", ModuleOptions{Timeout: -1})
	if m.interrupt || m.stats.Loops != 0 {
		t.Fatalf("instrumented with Timeout < 0: %+v", m.stats)
	}
	if _, err := roundTrip(t, m, NewExchange(newRequest("GET", "/", "")), nil); err != nil {
		t.Fatal(err)
	}
}

// TestSpinningGuestsDoNotStarveTheNode: more spinning guests than Ps. A
// goroutine in compiled wasm cannot be preempted, so without the yield
// points the garbage collector's stop-the-world would wait until the
// guests' deadline stopped them, and so would the timer meant to stop them.
// The deadline here is long (a minute) so that the two cases cannot be
// confused on a slow, loaded machine: the GC must finish well before it.
// The guests are then stopped through their interrupt flags.
func TestSpinningGuestsDoNotStarveTheNode(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	const timeout = time.Minute
	m := loadWAT(t, rt, "loop", ModuleOptions{Timeout: timeout, MaxInstances: 4})
	var wg sync.WaitGroup
	started := make(chan *Instance, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i, err := m.Acquire(context.Background())
			if err != nil {
				t.Error(err)
				started <- nil
				return
			}
			defer m.Release(i)
			started <- i
			if _, err := i.HandleRequest(context.Background(), NewExchange(newRequest("GET", "/", ""))); !errors.Is(err, ErrTrap) {
				t.Errorf("err = %v, want the trap of the interrupt flag", err)
			}
		}()
	}
	var insts []*Instance
	for g := 0; g < 4; g++ {
		if i := <-started; i != nil {
			insts = append(insts, i)
		}
	}
	start := time.Now()
	runtime.GC()
	if took := time.Since(start); took > timeout/4 {
		t.Errorf("a GC took %v while guests spun: it waited for them", took)
	}
	for _, i := range insts {
		i.watch.flag.Set(1) // what the timer does at the deadline
	}
	wg.Wait()
	if took := time.Since(start); took > timeout/2 {
		t.Errorf("guests stopped %v after their flags were set", took)
	}
}

// TestRecursionWithoutLoopsIsStopped: a guest that recurses (billions of
// calls, no loop) on a single P. Its goroutine cannot be preempted, so
// without yield points at function entries the deadline's timer would never
// run and the call would never end.
func TestRecursionWithoutLoopsIsStopped(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "fib", ModuleOptions{Timeout: 100 * time.Millisecond})
	start := time.Now()
	_, err := roundTrip(t, m, NewExchange(newRequest("GET", "/", "")), nil)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("stopped after %v, deadline 100ms", took)
	}
}
