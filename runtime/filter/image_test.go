package filter

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// state runs one request on i and returns the guest's x-state answer.
func state(t *testing.T, i *Instance) string {
	t.Helper()
	x := NewExchange(newRequest("GET", "/", ""))
	next, err := i.HandleRequest(context.Background(), x)
	if err != nil || next {
		t.Fatalf("handle_request: next=%v err=%v", next, err)
	}
	return x.Resp.Header.Get("X-State")
}

// New instances start from the image of the first one's initialised state:
// its memory (including what initialisation grew), its non-exported
// globals, without running _initialize again; each then has its own state.
func TestInstancesFromImage(t *testing.T) {
	rt, logs := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "initstate", ModuleOptions{MaxInstances: 4})
	if m.image == nil {
		t.Fatal("no image for a module with _initialize")
	}
	ctx := context.Background()
	var insts []*Instance
	for range 3 {
		i, err := m.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		insts = append(insts, i)
	}
	for k, i := range insts {
		if got := state(t, i); got != "11" {
			t.Errorf("instance %d: first request saw %q, want 11 (memory and global as initialised)", k, got)
		}
		if got := i.mem.Size(); got != 2*wasmPageSize {
			t.Errorf("instance %d: memory %d bytes, want the 2 pages initialisation left", k, got)
		}
		if b, _ := i.mem.ReadByte(wasmPageSize); b != 1 {
			t.Errorf("instance %d: the byte initialisation wrote in the grown page is %d", k, b)
		}
	}
	if got := state(t, insts[0]); got != "22" {
		t.Errorf("second request on the first instance saw %q, want 22", got)
	}
	if got := state(t, insts[1]); got != "22" {
		t.Errorf("second request on another instance saw %q, want 22: instances share state", got)
	}
	if n := strings.Count(logs.String(), "initialised"); n != 1 {
		t.Errorf("_initialize ran %d times for 3 instances, want once (at Load)", n)
	}
	// A trapped instance is dropped, never reset or reused: the next one
	// starts from the image.
	insts[0].poisoned = true
	for _, i := range insts {
		m.Release(i)
	}
	seen := map[*Instance]bool{}
	for range 3 {
		i, err := m.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i == insts[0] {
			t.Fatal("the poisoned instance came back")
		}
		seen[i] = true
		defer m.Release(i)
	}
	if len(seen) != 3 {
		t.Errorf("%d distinct instances", len(seen))
	}
}

// A Go guest started from the image serves requests, also many instances at
// once, each with its own Go runtime.
func TestGoGuestInstancesFromImage(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	ctx := context.Background()
	m, err := rt.Load(ctx, testkit.GoGuest(t), ModuleOptions{Name: "go", Config: []byte("edge"), MaxInstances: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	if m.image == nil || m.data != nil {
		t.Fatalf("image %v, data segments kept %d: want instances from the image only", m.image != nil, len(m.data))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				x := NewExchange(newRequest("GET", "/", ""))
				if _, err := roundTrip(t, m, x, nil); err != nil {
					t.Errorf("goroutine %d: %v", g, err)
					return
				}
				if got := x.Req.Header.Get("X-Go-Guest"); got != "edge:xx" {
					t.Errorf("goroutine %d: X-Go-Guest = %q", g, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	if s := m.Stats(); s.Live < 2 {
		t.Errorf("stats %+v: the test wanted several instances", s)
	}

	// Idle, each gives its pages back: reset to the image if its memory
	// is still the image's size, else (its Go heap grew) closed.
	grown := 0
	p := &m.pool
	p.mu.Lock()
	for _, i := range p.idle {
		if i.mem.Size() > m.image.pages*wasmPageSize {
			grown++
		}
	}
	live := p.live
	p.mu.Unlock()
	m.pool.releaseIdle(time.Now().Add(time.Minute))
	if s := m.Stats(); s.Live != live-grown || s.Idle != live-grown {
		t.Errorf("after releasing pages: %+v, want %d live and idle (%d of %d had grown)", s, live-grown, grown, live)
	}
	x := NewExchange(newRequest("GET", "/", ""))
	if _, err := roundTrip(t, m, x, nil); err != nil || x.Req.Header.Get("X-Go-Guest") != "edge:xx" {
		t.Errorf("after releasing pages: %v, %q", err, x.Req.Header.Get("X-Go-Guest"))
	}
}

// filters/request-id seeds its generator at its first id, not in its
// constructor, which runs once per module load: two instances, both copies
// of the image, must not hand out the same ids.
func TestRequestIDsDifferAcrossInstancesFromImage(t *testing.T) {
	wasm, err := os.ReadFile(filepath.Join("..", "..", "filters", "request-id.wasm"))
	if err != nil {
		t.Fatalf("filters/request-id.wasm is not built (./wasm-build.sh): %v", err)
	}
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	ctx := context.Background()
	m, err := rt.Load(ctx, wasm, ModuleOptions{Name: "request-id", Config: []byte(`{}`), MaxInstances: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	a, err := m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release(a)
	b, err := m.Acquire(ctx) // a new instance: a is held
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release(b)
	id := func(i *Instance) string {
		x := NewExchange(newRequest("GET", "/", ""))
		if _, err := i.HandleRequest(ctx, x); err != nil {
			t.Fatal(err)
		}
		if err := i.HandleResponse(ctx, x, false); err != nil {
			t.Fatal(err)
		}
		return x.Req.Header.Get("X-Request-Id")
	}
	if ida, idb := id(a), id(b); ida == "" || ida == idb {
		t.Errorf("two instances' first ids: %q and %q, want two different ids", ida, idb)
	}
}

// An instance left idle gives the pages it wrote back: it is reset to the
// image (madvise), so its next request sees the initialised state again,
// on the same instance.
func TestIdleInstancesGiveTheirPagesBack(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "initstate", ModuleOptions{MaxInstances: 1})
	ctx := context.Background()
	i, err := m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := state(t, i); got != "11" {
		t.Fatalf("first request %q", got)
	}
	m.Release(i)
	m.pool.releaseIdle(time.Now()) // not idle long enough: kept as it is
	j, _ := m.Acquire(ctx)
	if got := state(t, j); j != i || got != "22" {
		t.Fatalf("a recently used instance was reset: same %v, state %q", j == i, got)
	}
	m.Release(j)

	m.pool.releaseIdle(time.Now().Add(time.Minute))
	if s := m.Stats(); s.Idle != 1 || s.Live != 1 {
		t.Fatalf("stats %+v after releasing pages, want the instance back in the pool", s)
	}
	k, _ := m.Acquire(ctx)
	if k != i {
		t.Fatal("releasing pages replaced the instance")
	}
	if got := state(t, k); got != "11" {
		t.Errorf("after its pages went back, the instance saw %q, want the image's 11", got)
	}
	// Used again, it has pages to give back again.
	m.Release(k)
	m.pool.releaseIdle(time.Now().Add(time.Minute))
	k, _ = m.Acquire(ctx)
	defer m.Release(k)
	if got := state(t, k); got != "11" {
		t.Errorf("after a second idle period, the instance saw %q, want the image's 11", got)
	}
}

// An instance created after its module closed (a request racing the
// snapshot's retirement) fails instead of mapping a closed descriptor,
// whose number another file may have taken by then.
func TestNoInstanceFromAClosedImage(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "initstate", ModuleOptions{})
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if i, err := m.newInstance(context.Background()); err == nil {
		i.close(context.Background())
		t.Fatal("an instance was made from the image of a closed module")
	}
}
