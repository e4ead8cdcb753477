package filter

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/filter/internal/wattest"
)

// logBuffer collects log output for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTestRuntime(t testing.TB, opts RuntimeOptions) (*Runtime, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	rt, err := NewRuntime(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt, logs
}

// loadWAT compiles testdata/wasm/NAME.wat and loads it; opts.Name defaults
// to NAME.
func loadWAT(t testing.TB, rt *Runtime, name string, opts ModuleOptions) *Module {
	t.Helper()
	if opts.Name == "" {
		opts.Name = name
	}
	m, err := rt.Load(context.Background(), wattest.Compile(t, name), opts)
	if err != nil {
		t.Fatalf("Load %s: %v", name, err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

func newRequest(method, target, body string) *http.Request {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, target, nil)
	} else {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
	}
	r.RemoteAddr = "10.0.0.7:1234"
	return r
}

// upstream simulates the next handler: it fills the response the edge
// would hand to the response phase.
type upstream func(x *Exchange)

// roundTrip runs one request through m as the edge would: acquire, request
// phase, the upstream when next, response phase, release.
func roundTrip(t testing.TB, m *Module, x *Exchange, up upstream) (next bool, err error) {
	t.Helper()
	ctx := context.Background()
	i, err := m.Acquire(ctx)
	if err != nil {
		return false, err
	}
	defer m.Release(i)
	next, err = i.HandleRequest(ctx, x)
	if err != nil || !next {
		return next, err
	}
	if up != nil {
		up(x)
	}
	return true, i.HandleResponse(ctx, x, false)
}

// waitFor polls cond until it holds or the deadline passes (no sleeping
// for a fixed time to wait for something).
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func compile(t testing.TB, name string) []byte { return wattest.Compile(t, name) }
