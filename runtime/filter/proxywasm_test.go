package filter

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/internal/pwguest"
	"github.com/sluicegw/sluice/runtime/testkit"
)

// The guest's root context is registered under "proxywasm": its filter
// must have that name (plugin_root_id is the filter's name).
const pwName = "proxywasm"

func loadPW(t testing.TB, rt *Runtime, opts ModuleOptions) *Module {
	t.Helper()
	opts.Name = pwName
	if opts.Config == nil {
		opts.Config = []byte(`"hello"`)
	}
	m, err := rt.Load(context.Background(), pwguest.Build(t), opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

func TestProxyWasmRequestAndResponseHeaders(t *testing.T) {
	rt, logs := newTestRuntime(t, RuntimeOptions{})
	m := loadPW(t, rt, ModuleOptions{})
	if !m.Pinned() {
		t.Fatal("a proxy-wasm module is pinned")
	}
	r := newRequest("GET", "/x?a=1", "")
	r.Header.Set("X-Pw-Remove", "gone")
	r.Header.Set("X-Pw-Replaced", "old")
	x := NewExchange(r)
	next, err := roundTrip(t, m, x, func(x *Exchange) {
		if got := x.Req.Header.Get("X-Pw-Config"); got != "hello" {
			t.Errorf("X-Pw-Config = %q, want the plugin configuration %q", got, "hello")
		}
		if got := x.Req.Header.Get("X-Pw-Replaced"); got != "new" {
			t.Errorf("X-Pw-Replaced = %q, want new", got)
		}
		if _, ok := x.Req.Header["X-Pw-Remove"]; ok {
			t.Error("X-Pw-Remove was not removed")
		}
		x.Resp.Status = 201
	})
	if err != nil || !next {
		t.Fatalf("next=%v err=%v", next, err)
	}
	if got := x.Resp.Header.Get("X-Pw-Status"); got != "201" {
		t.Errorf("X-Pw-Status = %q, want the :status the guest read, 201", got)
	}
	if !strings.Contains(logs.String(), "request GET /x?a=1") || !strings.Contains(logs.String(), "filter="+pwName) {
		t.Errorf("the guest's proxy_log did not reach the node's log with the filter's name:\n%s", logs)
	}
}

func TestProxyWasmHeaderMapPairs(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadPW(t, rt, ModuleOptions{})
	r := newRequest("GET", "/pairs", "")
	r.Host = "h.example"
	r.Header = http.Header{"X-Drop": {"1"}, "X-Keep": {"a", "b"}}
	next, err := roundTrip(t, m, NewExchange(r), func(x *Exchange) {
		// Read: 4 pseudo-headers and 5 fields (x-drop, x-keep twice and the
		// two the guest set before), then every pair set again without x-drop.
		want := http.Header{"X-Keep": {"a", "b"}, "X-Pw-Config": {"hello"}, "X-Pw-Replaced": {"new"}, "X-Pairs": {"9"}}
		if len(x.Req.Header) != len(want) {
			t.Errorf("headers %v, want %v", x.Req.Header, want)
		}
		for k, v := range want {
			if strings.Join(x.Req.Header[k], ",") != strings.Join(v, ",") {
				t.Errorf("%s = %q, want %q", k, x.Req.Header[k], v)
			}
		}
		if x.Req.Host != "h.example" || x.Req.URL.Path != "/pairs" || x.Req.Method != "GET" {
			t.Errorf("pseudo-headers set back changed the request line: %s %s %s", x.Req.Method, x.Req.Host, x.Req.URL)
		}
	})
	if err != nil || !next {
		t.Fatalf("next=%v err=%v", next, err)
	}
}

func TestProxyWasmLocalResponse(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadPW(t, rt, ModuleOptions{})
	x := NewExchange(newRequest("GET", "/local", ""))
	next, err := roundTrip(t, m, x, nil)
	if err != nil || next {
		t.Fatalf("next=%v err=%v, want an answer", next, err)
	}
	if x.Resp.Status != 418 || string(x.Resp.Body) != "short and stout" || x.Resp.Header.Get("X-Local") != "yes" {
		t.Fatalf("local response = %d %q %v", x.Resp.Status, x.Resp.Body, x.Resp.Header)
	}
}

func TestProxyWasmBodies(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadPW(t, rt, ModuleOptions{})
	x := NewExchange(newRequest("POST", "/upper", "make me loud"))
	next, err := roundTrip(t, m, x, func(x *Exchange) {
		b, _ := io.ReadAll(x.Req.Body)
		// Streamed: the guest's rewrite makes the length unknown.
		if string(b) != "MAKE ME LOUD" || x.Req.ContentLength != -1 {
			t.Errorf("upstream got body %q (length %d), want it uppercased, length unknown", b, x.Req.ContentLength)
		}
	})
	if err != nil || !next {
		t.Fatalf("next=%v err=%v", next, err)
	}

	// Buffered by the edge (for another filter): one call, the body written.
	x = NewExchange(newRequest("GET", "/wrap", ""))
	next, err = roundTrip(t, m, x, func(x *Exchange) { x.Resp.Body, x.Resp.Buffered = []byte("inner"), true })
	if err != nil || !next {
		t.Fatalf("next=%v err=%v", next, err)
	}
	if string(x.Resp.Body) != "[inner]" || !x.Resp.BodyWritten {
		t.Fatalf("response body = %q (written %v), want [inner]", x.Resp.Body, x.Resp.BodyWritten)
	}
	// Streamed: the chunk the guest lets through is rewritten.
	x = NewExchange(newRequest("GET", "/wrap", ""))
	next, err = roundTrip(t, m, x, func(x *Exchange) { x.Resp.Body = []byte("inner") })
	if err != nil || !next {
		t.Fatalf("next=%v err=%v", next, err)
	}
	if string(x.Resp.Body) != "[inner]" {
		t.Fatalf("streamed response body = %q, want [inner]", x.Resp.Body)
	}
}

func TestProxyWasmTrailers(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadPW(t, rt, ModuleOptions{})
	// /hold: the guest holds the request at its headers, so its trailer
	// callback still may write the request's headers.
	r := newRequest("POST", "/hold", "body")
	r.Trailer = http.Header{"X-T": {"tv"}}
	x := NewExchange(r)
	next, err := roundTrip(t, m, x, func(x *Exchange) {
		if got := x.Req.Header.Get("X-Pw-Request-Trailer"); got != "tv" {
			t.Errorf("proxy_on_request_trailers saw X-T %q, want tv", got)
		}
		x.Resp.Body, x.Resp.Buffered = []byte("resp"), true
		x.Resp.Trailer = http.Header{"X-Up": {"1"}}
	})
	if err != nil || !next {
		t.Fatalf("next=%v err=%v", next, err)
	}
	if got := x.Resp.Trailer.Get("X-Pw-Trailer"); got != "1/1" {
		t.Fatalf("response trailer X-Pw-Trailer = %q, want the upstream's trailer and the count, 1/1", got)
	}
}

func TestProxyWasmProperties(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadPW(t, rt, ModuleOptions{})
	r := newRequest("PUT", "/props", "")
	r.Host = "api.example.com"
	r.Header.Set("X-Probe", "p1")
	x := NewExchange(r)
	x.RequestID = "rid-1"
	if _, err := roundTrip(t, m, x, nil); err != nil {
		t.Fatal(err)
	}
	want := "/props|PUT|api.example.com|http|proxywasm|proxywasm|kept|p1|id|source|headers"
	if string(x.Resp.Body) != want {
		t.Fatalf("properties = %q\nwant         %q", x.Resp.Body, want)
	}
}

func TestProxyWasmSharedDataCAS(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadPW(t, rt, ModuleOptions{})
	for n, want := range []string{
		"get=1 n=1 set=0 stale=99", // NotFound, then set without CAS
		"get=0 n=2 set=0 stale=8",  // the CAS just used is stale: CasMismatch
		"get=0 n=3 set=0 stale=8",
	} {
		x := NewExchange(newRequest("GET", "/shared", ""))
		if _, err := roundTrip(t, m, x, nil); err != nil {
			t.Fatal(err)
		}
		if string(x.Resp.Body) != want {
			t.Fatalf("request %d: %q, want %q", n, x.Resp.Body, want)
		}
	}
	// Concurrent increments through CAS never lose one... as long as each
	// retries; the guest does not, so only check the node-wide store.
	if e, ok := rt.shared.get("counter"); !ok || string(e.value) != "3" {
		t.Fatalf("shared counter = %q, want 3", e.value)
	}
}

func TestProxyWasmMetrics(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadPW(t, rt, ModuleOptions{})
	for range 3 {
		// The upstream reads the body: that is what streams it through the guest.
		if _, err := roundTrip(t, m, NewExchange(newRequest("POST", "/upper", "abcd")), readBody); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]Metric{}
	for _, mt := range rt.Metrics() {
		got[mt.Name] = mt
	}
	if c := got["pw_requests"]; c.Kind != "counter" || c.Value != 3 {
		t.Errorf("pw_requests = %+v, want a counter at 3", c)
	}
	if g := got["pw_in_flight"]; g.Kind != "gauge" || g.Value != 0 {
		t.Errorf("pw_in_flight = %+v, want a gauge back at 0", g)
	}
	if h := got["pw_body_bytes"]; h.Kind != "histogram" || h.Count != 3 || h.Sum != 12 || h.Buckets[5] != 3 || h.Buckets[2.5] != 0 {
		t.Errorf("pw_body_bytes = %+v, want 3 observations of 4", h)
	}
}

func TestProxyWasmHTTPCall(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	var got *http.Request
	m := loadPW(t, rt, ModuleOptions{Config: []byte(`"backend"`), Upstreams: map[string]Upstream{
		"backend": func(w http.ResponseWriter, r *http.Request, _ time.Duration) error {
			got = r
			w.Header().Set("X-A", "b")
			w.WriteHeader(203)
			_, err := io.WriteString(w, "pong")
			return err
		},
	}})
	x := NewExchange(newRequest("GET", "/call", ""))
	next, err := roundTrip(t, m, x, func(x *Exchange) {
		if s, b := x.Req.Header.Get("X-Call-Status"), x.Req.Header.Get("X-Call-Body"); s != "203" || b != "pong" {
			t.Errorf("after the call the request has X-Call-Status %q, X-Call-Body %q", s, b)
		}
	})
	if err != nil || !next {
		t.Fatalf("next=%v err=%v", next, err)
	}
	if got == nil || got.Method != "GET" || got.URL.Path != "/called" || got.Host != "called.internal" {
		t.Fatalf("the upstream got %+v", got)
	}
}

func TestProxyWasmStoppedWithoutResumeFails(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	// An http call to an upstream off the filter's allow-list is refused;
	// the guest stopped the request waiting for it and nothing resumes it.
	m := loadPW(t, rt, ModuleOptions{Config: []byte(`"nowhere"`)})
	_, err := roundTrip(t, m, NewExchange(newRequest("GET", "/call", "")), nil)
	if !errors.Is(err, ErrTrap) || !strings.Contains(err.Error(), "nothing resumed it") {
		t.Fatalf("err = %v, want the stopped stream named", err)
	}
	// The instance did nothing wrong and serves again.
	if _, err := roundTrip(t, m, NewExchange(newRequest("GET", "/local", "")), nil); err != nil {
		t.Fatal(err)
	}
}

func TestProxyWasmTrapTimeoutAndMemoryLimit(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadPW(t, rt, ModuleOptions{Timeout: 250 * time.Millisecond, MemoryLimit: 4 << 20})
	_, err := roundTrip(t, m, NewExchange(newRequest("GET", "/trap", "")), nil)
	if !errors.Is(err, ErrTrap) || !strings.Contains(err.Error(), "proxy_on_request_headers") {
		t.Fatalf("trap: err = %v", err)
	}
	_, err = roundTrip(t, m, NewExchange(newRequest("GET", "/abort", "")), nil)
	if !errors.Is(err, ErrTrap) || !strings.Contains(err.Error(), "exit code 255") {
		t.Fatalf("abort: err = %v, want the guest's exit named", err)
	}
	_, err = roundTrip(t, m, NewExchange(newRequest("GET", "/loop", "")), nil)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("loop: err = %v, want a timeout", err)
	}
	_, err = roundTrip(t, m, NewExchange(newRequest("GET", "/eat", "")), nil)
	if !errors.Is(err, ErrMemory) {
		t.Fatalf("allocating without end: err = %v, want the memory limit", err)
	}
	x := NewExchange(newRequest("GET", "/local", ""))
	if _, err := roundTrip(t, m, x, nil); err != nil || x.Resp.Status != 418 {
		t.Fatalf("after a trap, a timeout and a memory limit: %v %d", err, x.Resp.Status)
	}
}

func TestProxyWasmTick(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadPW(t, rt, ModuleOptions{Config: []byte(`"tick"`)})
	var mu sync.Mutex
	testkit.WaitFor(t, 5*time.Second, "proxy_on_tick to write the shared key", func() bool {
		mu.Lock()
		defer mu.Unlock()
		x := NewExchange(newRequest("GET", "/ticks", ""))
		if _, err := roundTrip(t, m, x, nil); err != nil {
			t.Fatal(err)
		}
		return string(x.Resp.Body) != "none"
	})
}

func TestProxyWasmRootIDIsTheFilterName(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	// The guest registers its root context as "proxywasm" only: under
	// another name the SDK aborts, and the error quotes its reason.
	_, err := rt.Load(context.Background(), pwguest.Build(t), ModuleOptions{Name: "other"})
	if !errors.Is(err, ErrTrap) || !strings.Contains(err.Error(), "Missing root context factory for root id: other") {
		t.Fatalf("err = %v, want the SDK's reason quoted", err)
	}
}

func TestProxyWasmUnknownImportFailsLoad(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	_, err := rt.Load(context.Background(), testkit.WAT(t, "proxywasm_grpc"), ModuleOptions{Name: "grpc"})
	if !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), `"env"."proxy_grpc_call"`) {
		t.Fatalf("err = %v, want the missing import named", err)
	}
}

func TestProxyWasmSharedQueue(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadPW(t, rt, ModuleOptions{})
	x := NewExchange(newRequest("GET", "/enqueue", ""))
	x.Req.Header.Set("X-Item", "7")
	if _, err := roundTrip(t, m, x, nil); err != nil {
		t.Fatal(err)
	}
	if string(x.Resp.Body) != "resolve=0 enqueue=0" {
		t.Fatalf("%q, want the queue the root context registered resolved and fed", x.Resp.Body)
	}
	// proxy_on_queue_ready runs on an instance of its own; it moves the
	// item into shared data.
	testkit.WaitFor(t, 5*time.Second, "proxy_on_queue_ready to dequeue the item", func() bool {
		x := NewExchange(newRequest("GET", "/dequeued", ""))
		if _, err := roundTrip(t, m, x, nil); err != nil {
			t.Fatal(err)
		}
		return string(x.Resp.Body) == "item-7"
	})
}

// BenchmarkProxyWasmRoundTrip: one request through both phases of the
// AssemblyScript guest (headers read, added, replaced and removed; the
// response's :status read; on_done, on_log, on_delete).
func BenchmarkProxyWasmRoundTrip(b *testing.B) {
	// A node logs at info: the SDK's many debug logs are dropped unread.
	rt, _ := newTestRuntime(b, RuntimeOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	m := loadPW(b, rt, ModuleOptions{})
	r := newRequest("GET", "/x", "")
	b.ReportAllocs()
	for b.Loop() {
		r.Header = http.Header{"X-Pw-Replaced": {"old"}}
		if _, err := roundTrip(b, m, NewExchange(r), nil); err != nil {
			b.Fatal(err)
		}
	}
}

func TestProxyWasmOldABIFailsLoad(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	_, err := rt.Load(context.Background(), testkit.WAT(t, "proxywasm_v010"), ModuleOptions{Name: "old"})
	if !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), "proxy-wasm ABI 0.1.0") {
		t.Fatalf("err = %v, want the unsupported version named", err)
	}
}

// readBody is an upstream that reads the request body, as a transport
// does: that is what pulls a streamed body through the guest.
func readBody(x *Exchange) { _, _ = io.ReadAll(x.Req.Body) }
