package filter

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicegw/sluice/runtime/testkit"
)

func newTestRuntime(t testing.TB, opts RuntimeOptions) (*Runtime, *testkit.SyncBuffer) {
	t.Helper()
	logs := &testkit.SyncBuffer{}
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
	m, err := rt.Load(context.Background(), testkit.WAT(t, name), opts)
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
	if err = i.HandleResponse(ctx, x, false); err != nil || !i.ResponseBodyPending() {
		return true, err
	}
	// A proxy-wasm guest's response body streams, as the edge's header
	// hook passes it: here in one chunk, then the end of the stream.
	x.Resp.Body, err = i.ResponseChunk(ctx, x.Resp.Body, true)
	if eerr := i.EndResponse(ctx); err == nil {
		err = eerr
	}
	return true, err
}
