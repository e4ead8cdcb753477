// Package filters_test checks that the example filters, as built by
// wasm-build.sh, run unchanged on the reference http-wasm host
// (github.com/http-wasm/http-wasm-host-go, handler/nethttp), not only on
// Sluice: the SDK must ask any host for what the filter needs by itself.
package filters_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/http-wasm/http-wasm-host-go/handler"
	wasm "github.com/http-wasm/http-wasm-host-go/handler/nethttp"
	"github.com/tetratelabs/wazero"
)

// referenceCache keeps wazero's compiled guests between test runs: compiling
// a Go guest takes ~1 s, and ~18 s under -race.
var referenceCache = filepath.Join(os.TempDir(), "sluice-reference-host-cache")

// serveOnReferenceHost loads NAME.wasm (built by ./wasm-build.sh) into the
// reference host's net/http middleware with config, in front of backend,
// and serves it on loopback. The module config is the one Traefik gives
// http-wasm guests: it runs _initialize, the start function of a WASI
// reactor such as a Go guest built with -buildmode=c-shared.
func serveOnReferenceHost(t testing.TB, name, config string, backend http.Handler) *httptest.Server {
	t.Helper()
	guest, err := os.ReadFile(name + ".wasm")
	if err != nil {
		t.Fatalf("%s.wasm is not built: run ./wasm-build.sh from the repository root (make test does): %v", name, err)
	}
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(referenceCache)
	if err != nil {
		t.Fatal(err)
	}
	mw, err := wasm.NewMiddleware(ctx, guest,
		handler.GuestConfig([]byte(config)),
		handler.ModuleConfig(wazero.NewModuleConfig().WithSysWalltime().WithStartFunctions("_start", "_initialize")),
		handler.Runtime(func(ctx context.Context) (wazero.Runtime, error) {
			return wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache)), nil
		}))
	if err != nil {
		t.Fatalf("the reference host refuses %s.wasm: %v", name, err)
	}
	srv := httptest.NewServer(mw.NewHandler(ctx, backend))
	t.Cleanup(func() {
		srv.Close()
		mw.Close(ctx)
		cache.Close(ctx)
	})
	return srv
}

// backend is the next handler: it records the request it got and answers
// "upstream" (or JSON with a password under /json), with a Server header.
type backend struct {
	mu     sync.Mutex
	header http.Header // of the last request; nil when none arrived
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.header = r.Header.Clone()
	b.mu.Unlock()
	w.Header().Set("Server", "backend")
	if r.URL.Path == "/json" {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"user":"ann","password":"hunter2"}`)
		return
	}
	io.WriteString(w, "upstream")
}

// seen returns the headers of the last request the backend got, nil if none.
func (b *backend) seen() http.Header {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.header
}

// do sends a request to srv and returns the response with its body read.
func do(t *testing.T, srv *httptest.Server, method, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestExampleFiltersRunOnTheReferenceHost(t *testing.T) {
	t.Run("cors", func(t *testing.T) {
		b := &backend{}
		srv := serveOnReferenceHost(t, "cors", `{"allowed_origins":["https://app.example.com"],"exposed_headers":["X-Total"]}`, b)
		// A preflight is answered by the filter.
		resp, _ := do(t, srv, "OPTIONS", "/", "Origin", "https://app.example.com", "Access-Control-Request-Method", "GET")
		if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || b.seen() != nil {
			t.Fatalf("preflight: %d, Allow-Origin %q, backend called: %v", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), b.seen() != nil)
		}
		// An actual request gets its CORS headers in the response phase.
		resp, body := do(t, srv, "GET", "/", "Origin", "https://app.example.com")
		if resp.StatusCode != 200 || body != "upstream" || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
			resp.Header.Get("Access-Control-Expose-Headers") != "X-Total" || resp.Header.Get("Vary") != "Origin" {
			t.Fatalf("actual request: %d %q, headers %v", resp.StatusCode, body, resp.Header)
		}
	})

	t.Run("headers", func(t *testing.T) {
		b := &backend{}
		srv := serveOnReferenceHost(t, "headers", `{"request":{"set":{"X-Env":"test"},"remove":["X-Debug"]},"response":{"set":{"X-Frame-Options":"DENY"},"remove":["Server"]}}`, b)
		resp, body := do(t, srv, "GET", "/", "X-Debug", "1")
		if got := b.seen(); got.Get("X-Env") != "test" || got.Get("X-Debug") != "" {
			t.Fatalf("the backend got X-Env %q, X-Debug %q", got.Get("X-Env"), got.Get("X-Debug"))
		}
		if resp.StatusCode != 200 || body != "upstream" || resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Server") != "" {
			t.Fatalf("response: %d %q, headers %v", resp.StatusCode, body, resp.Header)
		}
	})

	t.Run("hello", func(t *testing.T) {
		b := &backend{}
		srv := serveOnReferenceHost(t, "hello", `{"greeting":"hi"}`, b)
		resp, body := do(t, srv, "GET", "/hello?name=ann")
		if resp.StatusCode != 200 || body != `{"message":"hi, ann"}`+"\n" || resp.Header.Get("Content-Type") != "application/json" || b.seen() != nil {
			t.Fatalf("%d %q %v, backend called: %v", resp.StatusCode, body, resp.Header, b.seen() != nil)
		}
	})

	t.Run("ip-allow", func(t *testing.T) {
		b := &backend{}
		allowed := serveOnReferenceHost(t, "ip-allow", `{"allow":["127.0.0.0/8"]}`, b)
		if resp, body := do(t, allowed, "GET", "/"); resp.StatusCode != 200 || body != "upstream" {
			t.Fatalf("from 127.0.0.1, allowed: %d %q", resp.StatusCode, body)
		}
		b = &backend{}
		denied := serveOnReferenceHost(t, "ip-allow", `{"allow":["10.0.0.0/8"]}`, b)
		resp, body := do(t, denied, "GET", "/", "X-Request-Id", "r1")
		// The filter sets the status before its headers: the SDK holds the
		// head for the answer, else Content-Type would be lost.
		if resp.StatusCode != 403 || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(body, `"request_id":"r1"`) || b.seen() != nil {
			t.Fatalf("from 127.0.0.1, not allowed: %d %q, backend called: %v", resp.StatusCode, body, b.seen() != nil)
		}
	})

	t.Run("jwt-claims", func(t *testing.T) {
		b := &backend{}
		srv := serveOnReferenceHost(t, "jwt-claims", `{"claims":{"sub":"X-User"}}`, b)
		seg := base64.RawURLEncoding.EncodeToString
		token := seg([]byte(`{"alg":"none"}`)) + "." + seg([]byte(`{"sub":"alice"}`)) + "." + seg([]byte("sig"))
		if resp, _ := do(t, srv, "GET", "/", "Authorization", "Bearer "+token, "X-User", "mallory"); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if got := b.seen().Values("X-User"); len(got) != 1 || got[0] != "alice" {
			t.Fatalf("the backend got X-User %q, want [alice] (the client's own removed)", got)
		}
	})

	t.Run("redact-json", func(t *testing.T) {
		b := &backend{}
		srv := serveOnReferenceHost(t, "redact-json", `{"fields":["password"]}`, b)
		resp, body := do(t, srv, "GET", "/json")
		if resp.StatusCode != 200 || body != `{"user":"ann","password":"[REDACTED]"}` {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
	})

	t.Run("request-id", func(t *testing.T) {
		b := &backend{}
		srv := serveOnReferenceHost(t, "request-id", `{}`, b)
		resp, body := do(t, srv, "GET", "/")
		id := b.seen().Get("X-Request-Id")
		if len(id) != 36 || resp.StatusCode != 200 || body != "upstream" || resp.Header.Get("X-Request-Id") != id {
			t.Fatalf("the backend got id %q; the client %d %q with id %q", id, resp.StatusCode, body, resp.Header.Get("X-Request-Id"))
		}
		// One the client sent is kept, upstream and back.
		if resp, _ := do(t, srv, "GET", "/", "X-Request-Id", "abc-1"); b.seen().Get("X-Request-Id") != "abc-1" || resp.Header.Get("X-Request-Id") != "abc-1" {
			t.Fatalf("a client's id: the backend got %q, the client %q", b.seen().Get("X-Request-Id"), resp.Header.Get("X-Request-Id"))
		}
	})
}
