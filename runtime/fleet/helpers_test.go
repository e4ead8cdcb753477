package fleet

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicegw/sluice/internal/testkit"
	"github.com/sluicegw/sluice/internal/testkit/natstest"
	"github.com/sluicegw/sluice/runtime/edge"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// eventually is testkit.WaitFor, under the name this package's tests use
// (kept while runtime/fleet is being split; call testkit.WaitFor in new tests).
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, timeout, what, cond)
}

// startNATS is natstest.Start, under the name this package's tests use
// (kept while runtime/fleet is being split; call natstest.Start in new tests).
func startNATS(t testing.TB) string {
	t.Helper()
	return natstest.Start(t)
}

func connect(t testing.TB, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

type testPublisher struct {
	*Publisher
	dir    string
	url    string
	client *Client
}

// startPublisher runs a publisher with its HTTP API on loopback and its
// canary watch; opts are its NATS connect options (credentials).
func startPublisher(t testing.TB, natsURL string, opts ...nats.Option) *testPublisher {
	t.Helper()
	_, js := connect(t, natsURL, opts...)
	dir := t.TempDir()
	p, err := NewPublisher(context.Background(), PublisherOptions{DataDir: dir, JS: js, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	gated := make(chan struct{})
	go func() { defer close(done); p.WatchCanary(ctx) }()
	go func() { defer close(gated); p.RunGates(ctx) }()
	t.Cleanup(func() { cancel(); <-done; <-gated })
	return &testPublisher{Publisher: p, dir: dir, url: srv.URL,
		client: &Client{URL: srv.URL, Token: p.Identity().Token, Author: "tester"}}
}

type testEdge struct {
	id        string
	discovery *Discovery
	node      *edge.Node
	sub       *Subscriber
	url       string
	cancel    context.CancelFunc
	done      chan struct{}
}

type edgeSpec struct {
	id      string
	labels  map[string]string
	dataDir string // "" = a fresh temp dir
	trust   ed25519.PublicKey
	// discovery: follow the services bucket for `discovery: nats` upstreams
	discovery bool
	// statusInterval: 0 = 200 ms, so tests see status changes quickly
	statusInterval time.Duration
	// retryAfter: the wait before a failed snapshot is applied again
	retryAfter time.Duration
	// creds: the NATS credentials file the node connects with
	creds string
	// logger: the subscriber's; nil: discarded
	logger *slog.Logger
}

// startEdge runs a real edge node on loopback, following the fleet at
// natsURL (which may be dead: the node then boots from disk and retries).
func startEdge(t testing.TB, natsURL string, spec edgeSpec) *testEdge {
	t.Helper()
	if spec.dataDir == "" {
		spec.dataDir = t.TempDir()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := edge.Options{NodeID: spec.id, DataDir: spec.dataDir, Logger: quiet, ShutdownTimeout: 2 * time.Second}
	var disc *Discovery
	if spec.discovery {
		disc = NewDiscovery(quiet)
		opts.PrepareSnapshot = disc.Prepare
	}
	node := edge.NewNode(opts)
	if spec.statusInterval == 0 {
		spec.statusInterval = 200 * time.Millisecond
	}
	if spec.logger == nil {
		spec.logger = quiet
	}
	sub, err := NewSubscriber(SubscriberOptions{NATSURL: natsURL, Node: node, NodeID: spec.id, Labels: spec.labels,
		Trust: spec.trust, DataDir: spec.dataDir, Logger: spec.logger, StatusInterval: spec.statusInterval, Discovery: disc, RetryAfter: spec.retryAfter, NATSCreds: spec.creds})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Boot(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &testEdge{id: spec.id, discovery: disc, node: node, sub: sub, url: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan struct{})}
	subDone := make(chan struct{})
	go func() { defer close(subDone); sub.Run(ctx) }()
	go func() { defer close(e.done); node.Run(ctx, edge.Listeners{Data: ln}); <-subDone }()
	t.Cleanup(e.stop)
	return e
}

func (e *testEdge) stop() {
	e.cancel()
	<-e.done
}

// get returns the status and body of GET url+path.
func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// upstream is a real HTTP server answering its name.
func upstream(t testing.TB, name string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name+":"+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// routeConfig is a config with one route /NAME to one upstream.
func routeConfig(name, upstreamURL string) string {
	return fmt.Sprintf("upstreams: {%[1]s: {endpoints: [%[2]s]}}\nroutes: [{name: %[1]s, match: {path_prefix: /%[1]s}, upstream: %[1]s}]\n", name, upstreamURL)
}

func writeConfig(t testing.TB, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("sluice-%d.yaml", time.Now().UnixNano()))
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// apply does what `sluice apply` does: collect, upload, publish.
func (p *testPublisher) apply(t testing.TB, text, canary string) (*RevisionSummary, error) {
	t.Helper()
	path := writeConfig(t, t.TempDir(), text)
	doc, artifacts, err := FromFile(path)
	if err != nil {
		return nil, err
	}
	if _, _, err := p.client.Upload(context.Background(), artifacts); err != nil {
		return nil, err
	}
	return p.client.Apply(context.Background(), doc, canary)
}

func (p *testPublisher) mustApply(t testing.TB, text, canary string) int64 {
	t.Helper()
	rev, err := p.apply(t, text, canary)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return rev.Revision
}

// serves reports whether the edge answers path with the body prefix want.
func serves(t testing.TB, e *testEdge, path, want string) func() bool {
	return func() bool {
		code, body := get(t, e.url+path)
		return code == 200 && strings.HasPrefix(body, want)
	}
}

func nodeState(e *testEdge, rev int64, state string) func() bool {
	return func() bool {
		st := e.sub.Status()
		return st.Revision == rev && st.State == state
	}
}

// watGuest writes testdata/wasm/NAME.wat, compiled (testkit.WAT), to
// dir/NAME.wasm.
func watGuest(t testing.TB, dir, name string) string {
	t.Helper()
	out := filepath.Join(dir, name+".wasm")
	if err := os.WriteFile(out, testkit.WAT(t, name), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}
