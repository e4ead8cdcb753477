package filter

import (
	"context"
	"errors"
	"runtime"
	"testing"
)

// statelessConfig makes testdata/wasm/statemark.wat declare FeatureStateless
// while initialising (any config longer than "{}").
var statelessConfig = []byte(`{"stateless":true}`)

// TestStatelessDeclarationUnpins: a guest that enables FeatureStateless
// while initialising loads unpinned, with a cap of GOMAXPROCS; the same
// guest without it, like every third-party guest, stays pinned with the
// memory-based cap.
func TestStatelessDeclarationUnpins(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	pinned := loadWAT(t, rt, "statemark", ModuleOptions{Name: "pinned", Config: []byte("{}")})
	unpinned := loadWAT(t, rt, "statemark", ModuleOptions{Name: "unpinned", Config: statelessConfig})
	if !pinned.Pinned() || pinned.Features().Has(FeatureStateless) {
		t.Errorf("undeclared guest: pinned %v, features %v", pinned.Pinned(), pinned.Features())
	}
	if unpinned.Pinned() || !unpinned.Features().Has(FeatureStateless) {
		t.Errorf("declared guest: pinned %v, features %v", unpinned.Pinned(), unpinned.Features())
	}
	if got, want := unpinned.opts.MaxInstances, runtime.GOMAXPROCS(0); got != want {
		t.Errorf("unpinned cap %d, want GOMAXPROCS %d", got, want)
	}
	if got := pinned.opts.MaxInstances; got != MaxDefaultInstances {
		t.Errorf("pinned one-page guest's cap %d, want %d", got, MaxDefaultInstances)
	}
	// A limits.instances in the config still wins.
	capped := loadWAT(t, rt, "statemark", ModuleOptions{Name: "capped", Config: statelessConfig, MaxInstances: 3})
	if capped.opts.MaxInstances != 3 {
		t.Errorf("explicit cap %d, want 3", capped.opts.MaxInstances)
	}
}

// TestStatelessInRequestDoesNotUnpin: the declaration is read at load; a
// guest enabling the bit inside a request changes nothing.
func TestStatelessInRequestDoesNotUnpin(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "statemark", ModuleOptions{Config: []byte("{}")})
	i, err := m.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release(i)
	i.phase = phaseRequest // as inside handle_request
	stack := []uint64{uint64(FeatureStateless)}
	i.enableFeatures(stack)
	i.phase = phaseIdle
	if i.Features().Has(FeatureStateless) || !m.Pinned() {
		t.Errorf("enabled in a request: features %v, pinned %v", i.Features(), m.Pinned())
	}
}

// TestUnpinnedPhasesOnTwoInstances: an unpinned request's handle_response
// runs on another instance than its handle_request when that one is busy,
// with the reqCtx handle_request returned, and the guest indeed finds none
// of the state it left in the first instance.
func TestUnpinnedPhasesOnTwoInstances(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "statemark", ModuleOptions{Config: statelessConfig, MaxInstances: 2})
	ctx := context.Background()
	a, err := m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	x := NewExchange(newRequest("GET", "/", ""))
	if next, err := a.HandleRequest(ctx, x); err != nil || !next {
		t.Fatal(next, err)
	}
	p, err := a.Detach()
	if err != nil {
		t.Fatal(err)
	}
	m.Release(a)
	// Another request takes a (the pool is LIFO) and holds it.
	busy, err := m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if busy != a {
		t.Fatal("the released instance was not the next one handed out")
	}
	b, err := m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b == a {
		t.Fatal("one instance handed out twice")
	}
	if err := b.Resume(p, x); err != nil {
		t.Fatal(err)
	}
	if err := b.HandleResponse(ctx, x, false); err != nil {
		t.Fatal(err)
	}
	m.Release(b)
	m.Release(busy)
	if got := x.Resp.Header.Get("X-Ctx"); got != "7" {
		t.Errorf("reqCtx not carried to the other instance: x-ctx %q", got)
	}
	if got := x.Resp.Header.Get("X-State"); got != "lost" {
		t.Errorf("x-state %q: handle_response did not run on another instance", got)
	}
	// Once only: the Pending is spent with its response phase.
	if err := b.HandleResponse(ctx, x, false); err == nil {
		t.Error("a second HandleResponse was accepted")
	}
}

// TestPinnedInstanceCannotDetach: a pinned request's handle_response runs
// on its own instance (the guest finds its state), and Detach refuses.
func TestPinnedInstanceCannotDetach(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "statemark", ModuleOptions{Config: []byte("{}")})
	ctx := context.Background()
	i, err := m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release(i)
	x := NewExchange(newRequest("GET", "/", ""))
	if next, err := i.HandleRequest(ctx, x); err != nil || !next {
		t.Fatal(next, err)
	}
	if _, err := i.Detach(); !errors.Is(err, ErrTrap) {
		t.Fatalf("Detach of a pinned instance: %v", err)
	}
	if err := i.HandleResponse(ctx, x, false); err != nil {
		t.Fatal(err)
	}
	if got := x.Resp.Header.Get("X-State"); got != "kept" {
		t.Errorf("x-state %q, want kept", got)
	}
}

// TestResumeCarriesRequestFeatures: features a guest enabled in
// handle_request (buffer_response, trailers) hold for its response phase
// on another instance.
func TestResumeCarriesRequestFeatures(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "statemark", ModuleOptions{Config: statelessConfig, MaxInstances: 2})
	other := loadWAT(t, rt, "statemark", ModuleOptions{Name: "other", Config: statelessConfig})
	ctx := context.Background()
	a, _ := m.Acquire(ctx)
	x := NewExchange(newRequest("GET", "/", ""))
	if _, err := a.HandleRequest(ctx, x); err != nil {
		t.Fatal(err)
	}
	a.reqFeatures |= FeatureTrailers // as if enabled in handle_request
	p, err := a.Detach()
	if err != nil {
		t.Fatal(err)
	}
	m.Release(a)
	busy, _ := m.Acquire(ctx) // a
	b, _ := m.Acquire(ctx)
	defer m.Release(busy)
	defer m.Release(b)
	if b == a {
		t.Fatal("one instance handed out twice")
	}
	if !p.Features().Has(FeatureTrailers | FeatureStateless) {
		t.Errorf("pending features %v", p.Features())
	}
	o, _ := other.Acquire(ctx)
	defer other.Release(o)
	if err := o.Resume(p, x); !errors.Is(err, ErrTrap) {
		t.Errorf("Resume on another module's instance: %v", err)
	}
	if err := b.Resume(p, x); err != nil {
		t.Fatal(err)
	}
	if !b.Features().Has(FeatureTrailers) {
		t.Errorf("features on the resuming instance %v", b.Features())
	}
	if err := b.Resume(p, x); err == nil {
		t.Error("Resume on an instance already in an exchange was accepted")
	}
}
