package edge

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/sluicegw/sluice/runtime/policy"
)

// BenchmarkDecisionDenied is a request a policy denies (no upstream), with
// its decision log: off, kept in the node's log only, and also published
// over NATS. The difference is what a kept decision costs the request.
func BenchmarkDecisionDenied(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gate.rego"), []byte("package sluice.authz\n\ndefault decision := {\"allow\": false, \"reason\": \"no\"}\n\ndecision := {\"allow\": true} if input.request.method == \"GET\"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		b.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(5e9) {
		b.Fatal("nats not ready")
	}
	defer s.Shutdown()
	for _, c := range []struct {
		name, log string
		nats      bool
	}{{"no-log", "", false}, {"logged", ", decision_log: {sample: 1}", false}, {"logged+nats", ", decision_log: {sample: 1}", true}} {
		b.Run(c.name, func(b *testing.B) {
			opts := Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			if c.nats {
				nc, err := nats.Connect(s.ClientURL())
				if err != nil {
					b.Fatal(err)
				}
				defer nc.Close()
				opts.NATS = nc
			}
			n := NewNode(opts)
			cfg := strings.NewReplacer("DIR", dir, "LOG", c.log).Replace(`
upstreams: {u: {endpoints: ["http://127.0.0.1:1"]}}
policies: {gate: {module: "DIR"LOG}}
routes:
  - {name: api, match: {path_prefix: /api}, upstream: u, policy: gate}
`)
			if _, err := n.Apply(mustParseB(b, cfg)); err != nil {
				b.Fatal(err)
			}
			defer n.Close()
			b.ReportAllocs()
			for b.Loop() {
				r, _ := http.NewRequest(http.MethodDelete, "http://gw/api/items/42", nil)
				r.RemoteAddr = "127.0.0.1:5555"
				w := &discardWriter{h: http.Header{}}
				n.ServeHTTP(w, r)
				if w.status != http.StatusForbidden {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}

// BenchmarkDecisionParts splits a published decision's cost: what the
// request pays (the record and the input document, on the request path)
// and what the publishing goroutine pays (the JSON).
func BenchmarkDecisionParts(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gate.rego"), []byte("package sluice.authz\n\ndefault decision := {\"allow\": false, \"reason\": \"no\"}\n\ndecision := {\"allow\": true} if input.request.method == \"GET\"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	n := NewNode(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	snap, err := n.Apply(mustParseB(b, strings.ReplaceAll(`
upstreams: {u: {endpoints: ["http://127.0.0.1:1"]}}
policies: {gate: {module: "DIR", decision_log: {sample: 1}}}
routes:
  - {name: api, match: {path_prefix: /api}, upstream: u, policy: gate}
`, "DIR", dir)))
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	rp := snap.compiled[0].policy
	r, _ := http.NewRequest(http.MethodDelete, "http://gw/api/items/42", nil)
	in := &policy.Input{Method: r.Method, Path: r.URL.Path, Host: r.Host, Route: "api", Headers: r.Header}
	d, _ := rp.policy.Decide(context.Background(), in)
	b.Run("request-path", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = n.decisionRecord(snap, r, in, "api", "rid", "did", rp, d, nil)
		}
	})
	pd := n.decisionRecord(snap, r, in, "api", "rid", "did", rp, d, nil)
	b.Run("publisher-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			pd.rec.Input, pd.rec.Result = policy.InputJSON(pd.input), policy.ResultJSON(pd.result)
			if _, err := json.Marshal(pd.rec); err != nil {
				b.Fatal(err)
			}
		}
	})
}
