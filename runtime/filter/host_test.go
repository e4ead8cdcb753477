package filter

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicegw/sluice/runtime/testkit"
)

func TestHeaders(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "headers", ModuleOptions{})
	for _, isError := range []bool{false, true} {
		x := NewExchange(newRequest("GET", "http://example.com/p?q=1", ""))
		x.Req.Header.Set("X-In", "abc")
		x.Req.Header.Add("X-Multi", "a")
		x.Req.Header.Set("X-Remove", "gone")
		ctx := context.Background()
		i, err := m.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		next, err := i.HandleRequest(ctx, x)
		if err != nil || !next {
			t.Fatalf("HandleRequest = %v, %v; want true, nil", next, err)
		}
		h := x.Req.Header
		if got := h.Get("X-Hello"); got != "world" {
			t.Errorf("X-Hello = %q, want world (set_header_value)", got)
		}
		if got := h.Values("X-Multi"); strings.Join(got, ",") != "a,b" {
			t.Errorf("X-Multi = %q, want [a b] (add_header_value)", got)
		}
		if _, ok := h["X-Remove"]; ok {
			t.Error("X-Remove survived remove_header")
		}
		// The names as the guest saw them after its own changes: sorted,
		// lowercase, with host.
		if got, want := h.Get("X-Names"), "host,x-hello,x-in,x-multi"; got != want {
			t.Errorf("get_header_names = %q, want %q", got, want)
		}
		if got := x.Resp.Header.Get("X-Echo"); got != "abc" {
			t.Errorf("response X-Echo = %q, want abc (get_header_values)", got)
		}
		x.Resp.Status = http.StatusBadGateway
		if err := i.HandleResponse(ctx, x, isError); err != nil {
			t.Fatal(err)
		}
		if got := x.Resp.Header.Get("X-Ctx"); got != "42" {
			t.Errorf("X-Ctx = %q, want 42: reqCtx not propagated", got)
		}
		if got := x.Resp.Header.Get("X-Error"); (got == "1") != isError {
			t.Errorf("X-Error = %q with isError=%v", got, isError)
		}
		m.Release(i)
	}
}

func TestHostHeaderIsTheRequestHost(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "headers", ModuleOptions{})
	x := NewExchange(newRequest("GET", "http://api.example.com/", ""))
	x.Req.Header.Set("X-In", "ignored")
	if _, err := roundTrip(t, m, x, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(x.Req.Header.Get("X-Names"), "host,") {
		t.Errorf("names %q lack host", x.Req.Header.Get("X-Names"))
	}
}

func TestAnswer(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "answer", ModuleOptions{})
	x := NewExchange(newRequest("DELETE", "http://example.com/a%20b?q=1&r=x+y", ""))
	next, err := roundTrip(t, m, x, func(*Exchange) { t.Error("upstream called after next=0") })
	if err != nil || next {
		t.Fatalf("HandleRequest = %v, %v; want false, nil", next, err)
	}
	r := x.Resp
	if r.Status != 418 || string(r.Body) != "hello from wasm" || !r.BodyWritten {
		t.Errorf("response = %d %q (written %v), want 418 \"hello from wasm\"", r.Status, r.Body, r.BodyWritten)
	}
	for k, want := range map[string]string{
		"Content-Type": "text/plain",
		"X-Method":     "DELETE",
		"X-Uri":        "/a%20b?q=1&r=x+y",
		"X-Proto":      "HTTP/1.1",
		"X-Addr":       "10.0.0.7:1234",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestRequestLine(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "reqline", ModuleOptions{})
	x := NewExchange(newRequest("GET", "http://example.com/old?a=1", ""))
	if _, err := roundTrip(t, m, x, nil); err != nil {
		t.Fatal(err)
	}
	if x.Req.Method != "PUT" || x.Req.URL.Path != "/new/path" || x.Req.URL.RawQuery != "q=1" {
		t.Errorf("request line = %s %s, want PUT /new/path?q=1", x.Req.Method, x.Req.URL.RequestURI())
	}
}

func TestRequestBody(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	body := strings.Repeat("0123456789", 10) + "tail"
	t.Run("rewrite", func(t *testing.T) {
		m := loadWAT(t, rt, "reqbody", ModuleOptions{Name: "rewrite"})
		x := NewExchange(newRequest("POST", "/", body))
		var seen string
		_, err := roundTrip(t, m, x, func(x *Exchange) {
			b, _ := io.ReadAll(x.Req.Body)
			seen = string(b)
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := "<" + body + ">"; seen != want || x.Req.ContentLength != int64(len(want)) {
			t.Errorf("upstream saw %q (Content-Length %d), want %q", seen, x.Req.ContentLength, want)
		}
		rc, err := x.Req.GetBody()
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(rc); string(b) != "<"+body+">" {
			t.Errorf("GetBody replays %q", b)
		}
	})
	t.Run("peek", func(t *testing.T) {
		m := loadWAT(t, rt, "reqbody", ModuleOptions{Name: "peek", Config: []byte("peek")})
		x := NewExchange(newRequest("POST", "/", body))
		var seen string
		_, err := roundTrip(t, m, x, func(x *Exchange) {
			b, _ := io.ReadAll(x.Req.Body)
			seen = string(b)
		})
		if err != nil {
			t.Fatal(err)
		}
		if seen != body {
			t.Errorf("upstream saw %q, want the whole body %q (buffer_request)", seen, body)
		}
	})
}

func TestResponseBody(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "respbody", ModuleOptions{})
	ctx := context.Background()
	i, err := m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release(i)
	x := NewExchange(newRequest("GET", "/", ""))
	if next, err := i.HandleRequest(ctx, x); err != nil || !next {
		t.Fatalf("HandleRequest = %v, %v", next, err)
	}
	if f := i.Features(); !f.Has(FeatureBufferResponse | FeatureTrailers) {
		t.Fatalf("Features = %b, want buffer_response and trailers enabled", f)
	}
	x.Resp.Status = 200
	x.Resp.Body = []byte("hello, upstream body!")
	if err := i.HandleResponse(ctx, x, false); err != nil {
		t.Fatal(err)
	}
	if string(x.Resp.Body) != "HELLO, UPSTREAM BODY!" || !x.Resp.BodyWritten {
		t.Errorf("body = %q, want it upper-cased", x.Resp.Body)
	}
	if x.Resp.Status != 201 {
		t.Errorf("status = %d, want 201 (get_status_code + 1)", x.Resp.Status)
	}
	if got := x.Resp.Trailer.Get("X-Trailer"); got != "done" {
		t.Errorf("trailer = %q, want done", got)
	}
	// Per-request features are gone after release.
	m.Release(i)
	i, _ = m.Acquire(ctx)
	if f := i.Features(); f != 0 {
		t.Errorf("features of a fresh request = %b, want 0", f)
	}
}

func TestConfigEchoAndLog(t *testing.T) {
	rt, logs := newTestRuntime(t, RuntimeOptions{})
	cfg := []byte(`{"header":"X-Request-Id","n":1}`)
	m := loadWAT(t, rt, "config", ModuleOptions{Name: "echo", Config: cfg})
	if !m.Features().Has(FeatureTrailers) {
		t.Errorf("Module.Features = %b, want trailers (enabled by the start function)", m.Features())
	}
	x := NewExchange(newRequest("GET", "/", ""))
	if _, err := roundTrip(t, m, x, nil); err != nil {
		t.Fatal(err)
	}
	if string(x.Resp.Body) != string(cfg) {
		t.Errorf("body = %q, want the config %q", x.Resp.Body, cfg)
	}
	if s := logs.String(); !strings.Contains(s, `msg="config echoed" filter=echo`) {
		t.Errorf("guest log line missing from:\n%s", s)
	}
}

// TestOutOfBounds passes bad pointers and lengths to every host function
// that takes one: each fails only its request with ErrTrap, naming the
// function, and the instance is dropped.
func TestOutOfBounds(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	cases := map[byte]string{
		'a': "get_config: buf", 'b': "log: message", 'c': "get_method: buf", 'd': "set_method: method",
		'e': "get_uri: buf", 'f': "set_uri: uri", 'g': "get_protocol_version: buf", 'h': "get_source_addr: buf",
		'i': "get_header_names: buf", 'j': "get_header_values: name", 'k': "get_header_values: buf",
		'l': "set_header_value: name", 'm': "set_header_value: value", 'n': "add_header_value: name",
		'o': "remove_header: name", 'p': "read_body: buf", 'q': "write_body: body", 'r': "read_body: buf_limit is zero",
		's': "write_body: request body larger", 't': "get_header_values: header name of", 'u': "set_status_code: invalid status 5",
		'v': "set_status_code: invalid status 101",
	}
	for c, want := range cases {
		t.Run(string(c), func(t *testing.T) {
			m := loadWAT(t, rt, "oob", ModuleOptions{Name: "oob", Config: []byte{c}})
			x := NewExchange(newRequest("POST", "/", "body"))
			x.Req.Header.Set("X-In", "value")
			_, err := roundTrip(t, m, x, nil)
			if !errors.Is(err, ErrTrap) {
				t.Fatalf("err = %v, want ErrTrap", err)
			}
			if !strings.Contains(err.Error(), `filter "oob": handle_request: trap: `+want) {
				t.Errorf("err = %q, want it to name %q", err, want)
			}
			if s := m.Stats(); s.Live != 0 {
				t.Errorf("pool %+v: the faulty instance was kept", s)
			}
		})
	}
	t.Run("z behaves", func(t *testing.T) {
		m := loadWAT(t, rt, "oob", ModuleOptions{Name: "oob", Config: []byte("z")})
		if next, err := roundTrip(t, m, NewExchange(newRequest("GET", "/", "")), nil); err != nil || !next {
			t.Fatalf("= %v, %v", next, err)
		}
	})
}

func TestTraps(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	for _, tc := range []struct{ name, want string }{
		{"trap_request", `filter "trap_request": handle_request: trap: unreachable`},
		{"trap_response", `filter "trap_response": handle_response: trap: out of bounds memory access`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := loadWAT(t, rt, tc.name, ModuleOptions{})
			for n := 0; n < 3; n++ { // the module goes on failing cleanly
				_, err := roundTrip(t, m, NewExchange(newRequest("GET", "/", "")), nil)
				if !errors.Is(err, ErrTrap) || err.Error() != tc.want {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				if s := m.Stats(); s.Live != 0 {
					t.Fatalf("pool %+v after a trap, want the instance dropped", s)
				}
			}
		})
	}
}

func TestLoadRefuses(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		wasm  []byte
		opts  ModuleOptions
		is    error
		wants string
	}{
		{"no_handle_response", nil, ModuleOptions{}, ErrInvalidModule, `does not export function "handle_response"`},
		{"unknown_import", nil, ModuleOptions{}, ErrInvalidModule, `imports unknown function "http_handler"."get_foo"`},
		{"bad_signature", nil, ModuleOptions{}, ErrInvalidModule, `imports "http_handler"."get_uri" with signature (i32) -> i32, want (i32, i32) -> i32`},
		{"bigmem", nil, ModuleOptions{MemoryLimit: 1 << 20}, ErrMemory, "memory minimum of 100 pages (6553600 bytes) exceeds the limit of 16 pages (1048576 bytes)"},
		{"noop", nil, ModuleOptions{MemoryLimit: 1000}, ErrMemory, "below one wasm page"},
		{"garbage", []byte("not wasm at all"), ModuleOptions{}, ErrInvalidModule, "not a WebAssembly 1.0 binary module"},
		{"init_loop", nil, ModuleOptions{Timeout: 10 * 1e6}, ErrTimeout, `filter "init_loop": _initialize: timeout: deadline of 1s exceeded`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wasm := tc.wasm
			if wasm == nil {
				wasm = testkit.WAT(t, tc.name)
			}
			tc.opts.Name = tc.name
			m, err := rt.Load(ctx, wasm, tc.opts)
			if err == nil {
				_ = m.Close(ctx)
				t.Fatal("loaded")
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.wants) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.is, tc.wants)
			}
			if !strings.HasPrefix(err.Error(), `filter "`+tc.name+`": `) {
				t.Errorf("err = %q does not name the filter", err)
			}
		})
	}
}

// A guest's own export named like the host's start export is not a start
// section: the host must not run it when instantiating.
func TestOwnExportIsNotTakenForTheStartSection(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "fake_start", ModuleOptions{})
	if _, err := roundTrip(t, m, NewExchange(newRequest("GET", "/", "")), nil); err != nil {
		t.Fatal(err)
	}
}
