package filter

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// TestInstancePinnedAcrossPhases: the instance that ran handle_request runs
// handle_response with the reqCtx it returned, even while other requests
// use other instances in between.
func TestInstancePinnedAcrossPhases(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "headers", ModuleOptions{MaxInstances: 2})
	ctx := context.Background()
	a, err := m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	xa := NewExchange(newRequest("GET", "/a", ""))
	if next, err := a.HandleRequest(ctx, xa); err != nil || !next {
		t.Fatal(next, err)
	}
	// Another request on another instance, complete, in between.
	b, err := m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("an instance between phases was handed out again")
	}
	if _, err := roundTripOn(ctx, m, b); err != nil {
		t.Fatal(err)
	}
	if err := a.HandleResponse(ctx, xa, false); err != nil {
		t.Fatal(err)
	}
	if xa.Resp.Header.Get("X-Ctx") != "42" {
		t.Error("reqCtx lost across phases")
	}
	// handle_response without a matching handle_request is refused.
	if err := a.HandleResponse(ctx, xa, false); err == nil {
		t.Error("HandleResponse twice was accepted")
	}
	m.Release(a)
	if s := m.Stats(); s.Live != 2 || s.Idle != 2 {
		t.Errorf("stats %+v, want 2 live, 2 idle", s)
	}
}

func roundTripOn(ctx context.Context, m *Module, i *Instance) (bool, error) {
	defer m.Release(i)
	x := NewExchange(newRequest("GET", "/b", ""))
	next, err := i.HandleRequest(ctx, x)
	if err != nil || !next {
		return next, err
	}
	return true, i.HandleResponse(ctx, x, false)
}

func TestDroppedInstancesLeaveThePool(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "trap_response", ModuleOptions{})
	if s := m.Stats(); s.Live != 1 || s.Idle != 1 {
		t.Fatalf("after Load: %+v, want the eager instance", s)
	}
	ctx := context.Background()
	i, _ := m.Acquire(ctx)
	x := NewExchange(newRequest("GET", "/", ""))
	if _, err := i.HandleRequest(ctx, x); err != nil {
		t.Fatal(err)
	}
	if err := i.HandleResponse(ctx, x, false); !errors.Is(err, ErrTrap) {
		t.Fatalf("err = %v", err)
	}
	if _, err := i.HandleRequest(ctx, x); !errors.Is(err, ErrClosed) {
		t.Errorf("a poisoned instance ran again: %v", err)
	}
	m.Release(i)
	if s := m.Stats(); s.Live != 0 || s.Idle != 0 {
		t.Fatalf("after a trap: %+v, want the instance closed", s)
	}
	j, err := m.Acquire(ctx)
	if err != nil || j == i {
		t.Fatalf("Acquire after a drop = %p, %v", j, err)
	}
	m.Release(j)
}

func TestCapAndBusy(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "noop", ModuleOptions{MaxInstances: 1})
	ctx := context.Background()
	held, err := m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// At the cap, a request waits until its own deadline, not less
	// (the edge's deadline is the route's timeout), then gets ErrBusy.
	const wait = 150 * time.Millisecond
	start := time.Now() // before the deadline is set, which counts from its own now
	dctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if _, err := m.Acquire(dctx); !errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrBusy and DeadlineExceeded at the cap", err)
	}
	if waited := time.Since(start); waited < wait {
		t.Errorf("gave up after %v, want the caller's deadline of %v", waited, wait)
	}
	if s := m.Stats(); s.Waiters != 0 || s.Live != 1 {
		t.Errorf("stats %+v after a timed-out wait", s)
	}
	// A waiter whose client goes away gets context.Canceled, not ErrBusy.
	cctx, ccancel := context.WithCancel(ctx)
	gone := make(chan error)
	go func() { _, err := m.Acquire(cctx); gone <- err }()
	testkit.WaitFor(t, 5*time.Second, "a waiter", func() bool { return m.Stats().Waiters == 1 })
	ccancel()
	if err := <-gone; !errors.Is(err, context.Canceled) || errors.Is(err, ErrBusy) {
		t.Errorf("cancelled wait: %v, want context.Canceled only", err)
	}
	// A waiter gets the instance released while it waits.
	m2 := loadWAT(t, rt, "noop", ModuleOptions{Name: "wait", MaxInstances: 1})
	held2, _ := m2.Acquire(ctx)
	got := make(chan *Instance)
	go func() {
		i, err := m2.Acquire(ctx)
		if err != nil {
			t.Error(err)
		}
		got <- i
	}()
	testkit.WaitFor(t, 5*time.Second, "a waiter", func() bool { return m2.Stats().Waiters == 1 })
	m2.Release(held2)
	if i := <-got; i != held2 {
		t.Error("the waiter did not get the released instance")
	} else {
		m2.Release(i)
	}
	// A waiter gets the slot of an instance that was dropped.
	held3, _ := m2.Acquire(ctx)
	go func() {
		i, err := m2.Acquire(ctx)
		if err != nil {
			t.Error(err)
		}
		got <- i
	}()
	testkit.WaitFor(t, 5*time.Second, "a waiter", func() bool { return m2.Stats().Waiters == 1 })
	held3.poisoned = true
	m2.Release(held3)
	if i := <-got; i == nil || i == held3 {
		t.Error("the waiter did not get a new instance in the freed slot")
	} else {
		m2.Release(i)
	}
	m.Release(held)
	if s := m2.Stats(); s.Live != 1 {
		t.Errorf("stats %+v, want 1 live", s)
	}
}

// TestIdleInstancesReleased: instances unused for IdleTimeout are closed,
// down to zero.
func TestIdleInstancesReleased(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "noop", ModuleOptions{IdleTimeout: 40 * time.Millisecond, MaxInstances: 4})
	ctx := context.Background()
	var held []*Instance
	for n := 0; n < 3; n++ {
		i, err := m.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, i)
	}
	for _, i := range held {
		m.Release(i)
	}
	if s := m.Stats(); s.Live != 3 {
		t.Fatalf("stats %+v, want 3 live", s)
	}
	testkit.WaitFor(t, 5*time.Second, "idle instances to be released", func() bool { return m.Stats().Live == 0 })
	// Scaled to zero, the module still serves.
	if next, err := roundTrip(t, m, NewExchange(newRequest("GET", "/", "")), nil); err != nil || !next {
		t.Fatal(next, err)
	}
}

func TestConcurrentRequests(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "headers", ModuleOptions{MaxInstances: 3})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 50; n++ {
				x := NewExchange(newRequest("GET", "/", ""))
				x.Req.Header.Set("X-In", "v")
				next, err := roundTrip(t, m, x, nil)
				if err != nil || !next || x.Resp.Header.Get("X-Ctx") != "42" || x.Resp.Header.Get("X-Echo") != "v" {
					t.Errorf("request: %v %v %v", next, err, x.Resp.Header)
					return
				}
			}
		}()
	}
	wg.Wait()
	if s := m.Stats(); s.Live > 3 || s.Waiters != 0 {
		t.Errorf("stats %+v, want at most 3 live", s)
	}
}

func TestModuleClose(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "noop", ModuleOptions{MaxInstances: 1})
	ctx := context.Background()
	i, _ := m.Acquire(ctx)
	waiter := make(chan error)
	go func() {
		_, err := m.Acquire(ctx)
		waiter <- err
	}()
	testkit.WaitFor(t, 5*time.Second, "a waiter", func() bool { return m.Stats().Waiters == 1 })
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-waiter; !errors.Is(err, ErrClosed) {
		t.Errorf("waiter err = %v, want ErrClosed", err)
	}
	if _, err := m.Acquire(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Acquire after Close = %v", err)
	}
	m.Release(i) // closed on release
	if s := m.Stats(); s.Live != 0 {
		t.Errorf("stats %+v after Close and Release", s)
	}
}

func TestDefaultMaxInstances(t *testing.T) {
	for _, c := range []struct {
		mem  uint32
		want int
	}{
		{0, MaxDefaultInstances},
		{64 << 10, MaxDefaultInstances}, // one page: 4096, capped
		{1 << 20, 256},                  // 1 MiB
		{4 << 20, MinDefaultInstances},  // a Go guest
		{32 << 20, MinDefaultInstances}, // never below the floor
	} {
		if got := defaultMaxInstances(true, c.mem); got != c.want {
			t.Errorf("defaultMaxInstances(%d) = %d, want %d", c.mem, got, c.want)
		}
	}
	// An unpinned filter's instances are busy only inside a call: as many
	// as the cores, whatever their memory.
	for _, mem := range []uint32{0, 64 << 10, 4 << 20} {
		if got, want := defaultMaxInstances(false, mem), runtime.GOMAXPROCS(0); got != want {
			t.Errorf("defaultMaxInstances(unpinned, %d) = %d, want GOMAXPROCS %d", mem, got, want)
		}
	}
	// A loaded module gets it from its first instance.
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "noop", ModuleOptions{})
	if m.opts.MaxInstances != MaxDefaultInstances {
		t.Errorf("noop guest (one page): cap %d, want %d", m.opts.MaxInstances, MaxDefaultInstances)
	}
}
