package proxy

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/httperr"
)

// A large download streams through Forward: what it allocates stays far
// below the body's size, whichever way the writer takes the body.
func TestLargeBodyStreamsWithoutBuffering(t *testing.T) {
	const size = 256 << 20
	chunk := make([]byte, 64<<10)
	up := startUpstream(t, "big", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fixed" {
			w.Header().Set("Content-Length", strconv.Itoa(size))
		}
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	p, _ := newTestPool(t, upstreamCfg("", up.URL))
	for _, path := range []string{"/fixed", "/chunked"} {
		t.Run(path, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			w := &discardWriter{h: make(http.Header)}
			if err := p.Forward(w, httptest.NewRequest("GET", path, nil), ForwardOptions{Timeout: time.Minute}); err != nil || w.n != size {
				t.Fatalf("Forward: %v, %d bytes of %d", err, w.n, size)
			}
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
				t.Fatalf("streaming %d MiB allocated %d MiB", size>>20, alloc>>20)
			}
		})
	}
}

// zeros is an endless body that allocates nothing.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// A large upload streams to the upstream, with a known length and chunked.
func TestLargeUploadStreamsWithoutBuffering(t *testing.T) {
	const size = 128 << 20
	up := startUpstream(t, "sink", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
		}
		io.WriteString(w, strconv.FormatInt(n, 10))
	})
	p, _ := newTestPool(t, upstreamCfg("", up.URL))
	for _, length := range []int64{size, -1} {
		t.Run(strconv.FormatInt(length, 10), func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			r := httptest.NewRequest("PUT", "/", io.LimitReader(zeros{}, size))
			r.ContentLength = length
			rec := httptest.NewRecorder()
			// A long timeout: with -race on a loaded machine this is slow.
			if err := p.Forward(rec, r, ForwardOptions{Timeout: time.Minute}); err != nil || rec.Body.String() != strconv.Itoa(size) {
				t.Fatalf("Forward: %v, upstream read %q of %d", err, rec.Body, size)
			}
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
				t.Fatalf("uploading %d MiB allocated %d MiB", size>>20, alloc>>20)
			}
		})
	}
}

// Plain requests reuse one upstream connection; Close closes it.
func TestKeepAliveReuseAndClose(t *testing.T) {
	var mu sync.Mutex
	remotes := map[string]bool{}
	up := startUpstream(t, "a", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes[r.RemoteAddr] = true
		mu.Unlock()
		io.WriteString(w, "a")
	})
	p, _ := newTestPool(t, upstreamCfg("", up.URL))
	for range 5 {
		rec := httptest.NewRecorder()
		if err := p.Forward(rec, httptest.NewRequest("GET", "/", nil), ForwardOptions{}); err != nil || rec.Body.String() != "a" {
			t.Fatalf("Forward: %v %q", err, rec.Body)
		}
	}
	if n := len(remotes); n != 1 {
		t.Fatalf("%d upstream connections for 5 sequential requests, want 1", n)
	}
	p.Close()
	e := p.endpoints[0]
	e.conns.mu.Lock()
	idle := len(e.conns.idle)
	e.conns.mu.Unlock()
	if idle != 0 {
		t.Fatalf("%d idle connections after Close", idle)
	}
}

// A pooled connection the upstream closed while idle is replaced without
// the client noticing.
func TestIdleConnectionClosedByUpstreamIsRedialed(t *testing.T) {
	up := startUpstream(t, "a", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "keep-alive")
		io.WriteString(w, "ok")
	})
	p, _ := newTestPool(t, upstreamCfg("", up.URL))
	for i := range 3 {
		rec := httptest.NewRecorder()
		if err := p.Forward(rec, httptest.NewRequest("GET", "/", nil), ForwardOptions{}); err != nil || rec.Body.String() != "ok" {
			t.Fatalf("request %d: %v %q", i, err, rec.Body)
		}
		// The server drops its idle connections; ours stay pooled.
		up.srv.SetKeepAlivesEnabled(false)
		up.srv.SetKeepAlivesEnabled(true)
		time.Sleep(20 * time.Millisecond)
	}
}

// Response heads beyond the first read buffer pass up to the limit; a
// larger one is a 502.
func TestLargeResponseHead(t *testing.T) {
	up := startUpstream(t, "a", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("X-Big", strings.Repeat("b", n))
		io.WriteString(w, "body")
	})
	p, _ := newTestPool(t, upstreamCfg("", up.URL))
	rec := httptest.NewRecorder()
	if err := p.Forward(rec, httptest.NewRequest("GET", "/?n=200000", nil), ForwardOptions{}); err != nil ||
		len(rec.Header().Get("X-Big")) != 200000 || rec.Body.String() != "body" {
		t.Fatalf("200 KB head: %v, body %q", err, rec.Body)
	}
	err := p.Forward(httptest.NewRecorder(), httptest.NewRequest("GET", "/?n=2000000", nil), ForwardOptions{})
	if got := statusOf(t, err); got != http.StatusBadGateway || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("2 MB head: %d %v, want a 502 naming the limit", got, err)
	}
}

// A client that leaves before the response headers ends the exchange at
// once, as 499, and its connection is not pooled.
func TestClientGoneBeforeHeadersIs499(t *testing.T) {
	up := startUpstream(t, "slow", slowHeaders(10*time.Second))
	p, _ := newTestPool(t, upstreamCfg("", up.URL))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err := p.Forward(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil).WithContext(ctx), ForwardOptions{})
	if got := statusOf(t, err); got != httperr.StatusClientClosedRequest {
		t.Fatalf("status %d (%v), want 499", got, err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("499 took %v", el)
	}
	if n := len(p.endpoints[0].conns.idle); n != 0 {
		t.Fatalf("%d connections pooled after a cut exchange", n)
	}
}

// Request headers reach the upstream as the client wrote them: cookie
// values untouched (fasthttp joins several Cookie lines into one with "; ",
// as RFC 9113 §8.2.3 has an HTTP/2 cookie joined for HTTP/1.1), no Content-Type or User-Agent added; HEAD keeps the declared
// length and sends no body.
func TestRequestHeadersPassThrough(t *testing.T) {
	var got http.Header
	up := startUpstream(t, "a", func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.Header().Set("Content-Length", "4")
		if r.Method != "HEAD" {
			io.WriteString(w, "abcd")
		}
	})
	p, _ := newTestPool(t, upstreamCfg("", up.URL))
	r := httptest.NewRequest("POST", "/", strings.NewReader("x=1"))
	r.Header["Cookie"] = []string{"a=b; c; d=e=f", "z=1"}
	if err := p.Forward(httptest.NewRecorder(), r, ForwardOptions{}); err != nil {
		t.Fatal(err)
	}
	if c := strings.Join(got["Cookie"], " | "); c != "a=b; c; d=e=f | z=1" && c != "a=b; c; d=e=f; z=1" {
		t.Errorf("upstream got Cookie %q", c)
	}
	if _, ok := got["Content-Type"]; ok {
		t.Errorf("upstream got a Content-Type the client never sent: %q", got["Content-Type"])
	}
	rec := httptest.NewRecorder()
	if err := p.Forward(rec, httptest.NewRequest("HEAD", "/", nil), ForwardOptions{}); err != nil || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") != "4" {
		t.Fatalf("HEAD: %v, body %q, header %v", err, rec.Body, rec.Header())
	}
}

// https endpoints: TLS with the endpoint's host as server name, HTTP/1.1,
// connections reused.
func TestHTTPSUpstream(t *testing.T) {
	var mu sync.Mutex
	remotes := map[string]bool{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes[r.RemoteAddr] = true
		mu.Unlock()
		io.WriteString(w, r.Proto)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted handshake below
	t.Cleanup(srv.Close)
	p, _ := newTestPool(t, upstreamCfg("", srv.URL))
	p.endpoints[0].conns.tls.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	for range 3 {
		rec := httptest.NewRecorder()
		if err := p.Forward(rec, httptest.NewRequest("GET", "/", nil), ForwardOptions{}); err != nil || rec.Body.String() != "HTTP/1.1" {
			t.Fatalf("Forward: %v %q", err, rec.Body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(remotes) != 1 {
		t.Fatalf("%d TLS connections for 3 sequential requests, want 1", len(remotes))
	}

	// An untrusted certificate fails the exchange as a 502, not a connect
	// failure (the TCP connection was made).
	untrusted, _ := newTestPool(t, upstreamCfg("", srv.URL))
	err := untrusted.Forward(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), ForwardOptions{})
	if got := statusOf(t, err); got != http.StatusBadGateway || isConnectFailure(err) {
		t.Fatalf("untrusted certificate: %d %v, want a 502 that is no connect failure", got, err)
	}
}

// An upstream that answers before reading the request body gets its
// answer to the client, as with http.Transport.
func TestEarlyAnswerToLargeBody(t *testing.T) {
	up := startUpstream(t, "a", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		io.WriteString(w, "too large")
	})
	p, _ := newTestPool(t, upstreamCfg("", up.URL))
	body := strings.Repeat("x", 16<<20)
	rec := httptest.NewRecorder()
	err := p.Forward(rec, httptest.NewRequest("PUT", "/", strings.NewReader(body)), ForwardOptions{})
	if err != nil || rec.Code != http.StatusRequestEntityTooLarge || rec.Body.String() != "too large" {
		t.Fatalf("Forward: %v %d %q, want the upstream's 413", err, rec.Code, rec.Body)
	}
}

// Expect: 100-continue: the client's body follows the 100 and reaches the
// upstream.
func TestExpectContinue(t *testing.T) {
	up := startUpstream(t, "echo", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, r.Body)
	})
	p, _ := newTestPool(t, upstreamCfg("", up.URL))
	url := startProxy(t, p, ForwardOptions{})
	tr := &http.Transport{ExpectContinueTimeout: 10 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	req, _ := http.NewRequest("PUT", url+"/", strings.NewReader("continued body"))
	req.Header.Set("Expect", "100-continue")
	start := time.Now()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "continued body" || time.Since(start) > 5*time.Second {
		t.Fatalf("got %q after %v, want the body echoed without waiting for the 100's timeout", b, time.Since(start))
	}
}
