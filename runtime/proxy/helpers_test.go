package proxy

import (
	"bytes"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/httperr"
)

// upstream is a real HTTP server on 127.0.0.1 that counts the requests it
// serves (health checks apart) and names itself in X-Upstream.
type upstream struct {
	name string
	URL  string
	srv  *http.Server
	hits atomic.Int64
}

// startUpstream serves h (or, when nil, the upstream's name as the body).
func startUpstream(t testing.TB, name string, h http.HandlerFunc) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{name: name, URL: "http://" + ln.Addr().String()}
	u.srv = &http.Server{
		ErrorLog: log.New(io.Discard, "", 0),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/healthz" {
				u.hits.Add(1)
			}
			w.Header().Set("X-Upstream", name)
			if h != nil {
				h(w, r)
				return
			}
			_, _ = io.WriteString(w, name)
		}),
	}
	go func() { _ = u.srv.Serve(ln) }()
	t.Cleanup(func() { _ = u.srv.Close() })
	return u
}

// deadURL is an http URL on 127.0.0.1 where nothing listens: connecting to
// it is refused at once.
func deadURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// logBuf collects a pool's log lines for assertions.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// upstreamCfg is an upstream config with package config's defaults applied
// the way the edge node hands it to NewPool.
func upstreamCfg(balance string, urls ...string) *config.Upstream {
	cfg := &config.Upstream{Balance: balance, Timeout: config.Duration(5 * time.Second)}
	if cfg.Balance == "" {
		cfg.Balance = config.BalanceRoundRobin
	}
	for _, u := range urls {
		cfg.Endpoints = append(cfg.Endpoints, config.Endpoint{URL: u, Weight: 1})
	}
	return cfg
}

// newTestPool builds a pool, closes it when the test ends and prints its
// log if the test failed.
func newTestPool(t testing.TB, cfg *config.Upstream) (*Pool, *logBuf) {
	t.Helper()
	logs := &logBuf{}
	p, err := NewPool("svc", cfg, Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		if t.Failed() {
			t.Logf("pool log:\n%s", logs)
		}
	})
	return p, logs
}

// forwardHandler is what the edge node does with Forward: answer its error
// as JSON when nothing was written.
func forwardHandler(p *Pool, opt ForwardOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := p.Forward(w, r, opt); err != nil {
			httperr.WriteError(w, err, r.Header.Get("X-Request-Id"))
		}
	})
}

// startProxy serves Forward on 127.0.0.1 over HTTP/1.1 and h2c and returns
// its base URL.
func startProxy(t testing.TB, p *Pool, opt ForwardOptions) string {
	t.Helper()
	return startHandler(t, forwardHandler(p, opt))
}

// startHandler serves h on 127.0.0.1 over HTTP/1.1 and h2c and returns its
// base URL.
func startHandler(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: &protos, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// newClient is an HTTP/1.1 client whose connections are closed with the test.
func newClient(t testing.TB) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

type result struct {
	status   int
	body     string
	upstream string
	header   http.Header
}

// do sends one request and reads the whole response.
func do(t testing.TB, c *http.Client, method, url string, body io.Reader, hdr map[string]string) result {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return result{resp.StatusCode, string(b), resp.Header.Get("X-Upstream"), resp.Header}
}

// statusOf is the status of an error returned by Forward, or 0 for nil.
func statusOf(t testing.TB, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var he *httperr.Error
	if !errors.As(err, &he) {
		t.Fatalf("Forward returned %T (%v), want *httperr.Error", err, err)
	}
	return he.Status
}

// counts tallies which upstream answered each of n GETs.
func counts(t testing.TB, c *http.Client, url string, n int) map[string]int {
	t.Helper()
	m := map[string]int{}
	for range n {
		res := do(t, c, "GET", url, nil, nil)
		if res.status != 200 {
			t.Fatalf("GET %s: status %d body %q", url, res.status, res.body)
		}
		m[res.upstream]++
	}
	return m
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
