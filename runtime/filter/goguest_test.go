package filter

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// TestGoGuest runs a real standard-Go guest (GOOS=wasip1, c-shared): its
// _initialize and Go runtime work under the WASI setup and the rewriting,
// and the limits hold for it too.
func TestGoGuest(t *testing.T) {
	wasm := testkit.GoGuest(t)
	rt, logs := newTestRuntime(t, RuntimeOptions{})
	ctx := context.Background()
	load := func(cfg string, timeout time.Duration) *Module {
		t.Helper()
		m, err := rt.Load(ctx, wasm, ModuleOptions{Name: "go-" + cfg, Config: []byte(cfg), MemoryLimit: 16 << 20, Timeout: timeout})
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		t.Cleanup(func() { _ = m.Close(ctx) })
		return m
	}

	t.Run("headers", func(t *testing.T) {
		m := load("cfg", time.Second)
		if m.stats.Loops == 0 {
			t.Error("the Go guest's code was not instrumented")
		}
		for n := 0; n < 20; n++ {
			x := NewExchange(newRequest("GET", "/", ""))
			next, err := roundTrip(t, m, x, nil)
			if err != nil || !next {
				t.Fatalf("request %d: %v, %v", n, next, err)
			}
			if got := x.Req.Header.Get("X-Go-Guest"); got != "cfg:xx" {
				t.Fatalf("X-Go-Guest = %q", got)
			}
			if got := x.Resp.Header.Get("X-Go-Response"); got != "ok" {
				t.Fatalf("X-Go-Response = %q", got)
			}
		}
	})
	t.Run("panic", func(t *testing.T) {
		m := load("panic", time.Second)
		_, err := roundTrip(t, m, NewExchange(newRequest("GET", "/", "")), nil)
		if !errors.Is(err, ErrTrap) || !strings.Contains(err.Error(), `(stderr: "panic: boom from the go guest`) {
			t.Fatalf("err = %v, want ErrTrap quoting the panic", err)
		}
		if !strings.Contains(logs.String(), "boom from the go guest") {
			t.Error("the guest's panic message was not logged from stderr")
		}
	})
	t.Run("alloc", func(t *testing.T) {
		m := load("alloc", 5*time.Second)
		_, err := roundTrip(t, m, NewExchange(newRequest("GET", "/", "")), nil)
		if !errors.Is(err, ErrMemory) {
			t.Fatalf("err = %v, want ErrMemory", err)
		}
		t.Log(err)
	})
	t.Run("spin", func(t *testing.T) {
		m := load("spin", 100*time.Millisecond)
		_, err := roundTrip(t, m, NewExchange(newRequest("GET", "/", "")), nil)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("err = %v, want ErrTimeout", err)
		}
	})
	t.Run("memory minimum above the limit", func(t *testing.T) {
		_, err := rt.Load(ctx, wasm, ModuleOptions{Name: "tiny", MemoryLimit: 1 << 20})
		if !errors.Is(err, ErrMemory) {
			t.Fatalf("err = %v, want ErrMemory (a Go guest needs 2 MiB)", err)
		}
	})
}
