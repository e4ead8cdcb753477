package filter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHTTPCall runs testdata/wasm/httpcall.wat against a real HTTP server:
// the guest reaches an upstream on its allow-list, and every failure comes
// back to it as its error code with a reason, the instance kept.
func TestHTTPCall(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("size") {
		case "big":
			_, _ = w.Write(make([]byte, MaxCallResponseBytes+1))
			return
		}
		if r.Header.Get("X-Slow") != "" || strings.Contains(r.Header.Get("X-Request-Id"), "slow") {
			<-r.Context().Done() // answers only when the caller gives up
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", r.Method+" "+r.URL.RequestURI()+" token="+r.Header.Get("X-Token"))
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "upstream got "+string(body)+" id="+r.Header.Get("X-Request-Id"))
	}))
	t.Cleanup(srv.Close)
	base, _ := url.Parse(srv.URL)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL, _ := url.Parse(closed.URL)
	closed.Close() // nothing listens there any more: connection refused

	load := func(name, target string, up Upstream, timeout time.Duration) *Module {
		return loadWAT(t, rt, "httpcall", ModuleOptions{
			Name: name, Config: []byte(target), Timeout: timeout,
			Upstreams: map[string]Upstream{"auth": up},
		})
	}
	call := func(t *testing.T, m *Module, id, body string) *Exchange {
		t.Helper()
		r := newRequest("POST", "/in", body)
		r.Header.Set("X-Request-Id", id)
		x := NewExchange(r)
		next, err := roundTrip(t, m, x, nil)
		if err != nil || next {
			t.Fatalf("next=%v err=%v, want the guest's own answer", next, err)
		}
		return x
	}
	want := func(t *testing.T, x *Exchange, status int, bodyHas string) {
		t.Helper()
		if x.Resp.Status != status || !strings.Contains(string(x.Resp.Body), bodyHas) {
			t.Fatalf("got %d %q, want %d with %q", x.Resp.Status, x.Resp.Body, status, bodyHas)
		}
	}

	t.Run("allowed upstream answers", func(t *testing.T) {
		m := load("ok", "auth", URLUpstream(base, srv.Client()), time.Second)
		x := call(t, m, "rid-1", "hello")
		want(t, x, http.StatusAccepted, "upstream got hello id=rid-1")
	})
	t.Run("not on the allow-list", func(t *testing.T) {
		m := load("deny", "billing", URLUpstream(base, srv.Client()), time.Second)
		x := call(t, m, "rid-2", "")
		want(t, x, 590+1, `upstream "billing" is not on filter "deny"'s allow-list (filters.deny.upstreams)`)
	})
	t.Run("timeout leaves the guest time to answer", func(t *testing.T) {
		m := load("slow", "auth", URLUpstream(base, srv.Client()), 300*time.Millisecond)
		start := time.Now()
		x := call(t, m, "slow", "")
		want(t, x, 590+2, `upstream "auth" did not answer within`)
		if took := time.Since(start); took >= 300*time.Millisecond {
			t.Fatalf("took %v, past the filter's deadline", took)
		}
	})
	t.Run("response too large", func(t *testing.T) {
		big, _ := url.Parse(srv.URL + "/?size=big")
		m := load("big", "auth", func(w http.ResponseWriter, r *http.Request, timeout time.Duration) error {
			r.URL.RawQuery = big.RawQuery
			return URLUpstream(base, srv.Client())(w, r, timeout)
		}, time.Second)
		want(t, call(t, m, "rid-3", ""), 590+3, "answered more than 1048576 bytes")
	})
	t.Run("upstream down", func(t *testing.T) {
		m := load("down", "auth", URLUpstream(closedURL, http.DefaultClient), time.Second)
		want(t, call(t, m, "rid-4", ""), 590+4, `upstream "auth": `)
	})
	t.Run("a panic of the pool is the call's failure", func(t *testing.T) {
		m := load("abort", "auth", func(w http.ResponseWriter, r *http.Request, _ time.Duration) error {
			w.WriteHeader(200)
			panic(http.ErrAbortHandler)
		}, time.Second)
		want(t, call(t, m, "rid-5", ""), 590+4, "response cut short")
	})
}

// TestHTTPCallHeaders checks the NUL-separated header sequences both ways.
func TestHTTPCallHeaders(t *testing.T) {
	h, err := parseCallHeaders([]byte("Accept\x00a/b\x00accept\x00c/d\x00X-Empty\x00\x00"))
	if err != nil || strings.Join(h.Values("Accept"), ",") != "a/b,c/d" || len(h.Values("X-Empty")) != 1 {
		t.Fatalf("%v %v", h, err)
	}
	for _, bad := range []string{"Accept\x00a", "Accept\x00", "Bad Name\x00v\x00", "A\x00v\r\n\x00", "host\x00evil.example\x00", "Content-Length\x009\x00"} {
		if _, err := parseCallHeaders([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	enc := encodeCallHeaders(http.Header{"Content-Type": {"text/plain"}})
	if enc != "content-type\x00text/plain\x00" {
		t.Fatalf("%q", enc)
	}
}

// TestHTTPCallFromC runs testdata/c/httpcall.c, built with clang against
// sdk/c/sluice.h: the C SDK's call, its header sequence both ways, and its
// error reason.
func TestHTTPCallFromC(t *testing.T) {
	root := filepath.Join("..", "..")
	out := filepath.Join(t.TempDir(), "httpcall.wasm")
	cmd := exec.Command("clang", "--target=wasm32-wasi", "-mexec-model=reactor", "-O2", "-Wall", "-Werror",
		"-I", filepath.Join(root, "sdk", "c"), "-o", out, filepath.Join(root, "testdata", "c", "httpcall.c"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clang (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32): %v\n%s", err, b)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", r.Method+" "+r.URL.Path+" token="+r.Header.Get("X-Token"))
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "pong to "+string(body))
	}))
	t.Cleanup(srv.Close)
	base, _ := url.Parse(srv.URL)
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	for _, tc := range []struct {
		name      string
		upstreams map[string]Upstream
		status    int
		body      string
		seen      string
	}{
		{"allowed", map[string]Upstream{"auth": URLUpstream(base, srv.Client())}, 201, "pong to ping", "POST /check token=abc"},
		{"not allowed", nil, 591, `upstream "auth" is not on filter "not allowed"'s allow-list`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := rt.Load(context.Background(), wasm, ModuleOptions{Name: tc.name, Upstreams: tc.upstreams})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = m.Close(context.Background()) })
			x := NewExchange(newRequest("GET", "/", ""))
			if next, err := roundTrip(t, m, x, nil); err != nil || next {
				t.Fatalf("next=%v err=%v", next, err)
			}
			if x.Resp.Status != tc.status || !strings.HasPrefix(string(x.Resp.Body), tc.body) || x.Resp.Header.Get("X-Seen") != tc.seen {
				t.Fatalf("got %d %q X-Seen=%q", x.Resp.Status, x.Resp.Body, x.Resp.Header.Get("X-Seen"))
			}
		})
	}
}
