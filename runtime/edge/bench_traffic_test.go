package edge

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkCacheHit compares the whole pipeline answering a 1 KiB response
// from the route's cache with proxying the same response from a loopback
// upstream.
func BenchmarkCacheHit(b *testing.B) {
	upURL := startPayloadUpstream(b)

	n := NewNode(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	cfg := strings.ReplaceAll(`
upstreams: {u: {endpoints: ["URL"]}}
routes:
  - {name: proxied, match: {path_prefix: /proxied}, upstream: u}
  - {name: cached, match: {path_prefix: /cached}, upstream: u, cache: {ttl: 1h}}
`, "URL", upURL)
	if _, err := n.Apply(mustParseB(b, cfg)); err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	for _, path := range []string{"/proxied/items/42", "/cached/items/42"} {
		b.Run(strings.Split(path, "/")[1], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, _ := http.NewRequest(http.MethodGet, "http://gw"+path, nil)
				r.RemoteAddr = "127.0.0.1:5555"
				w := &discardWriter{h: http.Header{}}
				n.ServeHTTP(w, r)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}

// BenchmarkRateLimitedPipeline is the rate-limit stage as the node runs it:
// key, bucket and the three response headers. The clock advances one token
// per request, so the limit never refuses.
func BenchmarkRateLimitedPipeline(b *testing.B) {
	n := NewNode(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	cfg := `
upstreams: {u: {endpoints: ["http://127.0.0.1:9"]}}
routes:
  - {name: limited, match: {path_prefix: /}, upstream: u, cache: {ttl: 1h}, rate_limit: {requests: 1000, per: 1s}}
`
	if _, err := n.Apply(mustParseB(b, cfg)); err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	x := &n.Current().compiled[0]
	r, _ := http.NewRequest(http.MethodGet, "http://gw/x", nil)
	r.RemoteAddr = "127.0.0.1:5555"
	w := &discardWriter{h: http.Header{}}
	now := n.now()
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Millisecond)
		if err := checkRateLimit(w, r, x.limit, nil, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheHitHTTP is the same comparison end to end: a real client
// over loopback HTTP/1.1 keep-alive to a serving node, 4 concurrent
// clients.
func BenchmarkCacheHitHTTP(b *testing.B) {
	upURL := startPayloadUpstream(b)

	n := NewNode(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	cfg := strings.ReplaceAll(`
upstreams: {u: {endpoints: ["URL"]}}
routes:
  - {name: proxied, match: {path_prefix: /proxied}, upstream: u}
  - {name: cached, match: {path_prefix: /cached}, upstream: u, cache: {ttl: 1h}}
`, "URL", upURL)
	if _, err := n.Apply(mustParseB(b, cfg)); err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, Listeners{Data: ln}) }()
	defer func() { cancel(); <-done; n.Close() }()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	base := "http://" + ln.Addr().String()
	for _, path := range []string{"/proxied/items/42", "/cached/items/42"} {
		b.Run(strings.Split(path, "/")[1], func(b *testing.B) {
			b.SetParallelism(2) // 2 × GOMAXPROCS(2) = 4 clients
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(base + path)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}
