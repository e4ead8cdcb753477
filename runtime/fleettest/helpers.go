// Package fleettest starts real fleets for tests: an embedded NATS server,
// a publisher with its HTTP API on loopback, and edge nodes following it.
// Only tests import it.
package fleettest

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
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicegw/sluice/runtime/artifacts"
	"github.com/sluicegw/sluice/runtime/discovery"
	"github.com/sluicegw/sluice/runtime/edge"
	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleetclient"
	"github.com/sluicegw/sluice/runtime/fleetnode"
	"github.com/sluicegw/sluice/runtime/publisher"
)

var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// StartNATS runs a real embedded NATS server with JetStream on a free port.
func StartNATS(t testing.TB) string {
	t.Helper()
	return StartNATSServer(t).ClientURL()
}

// StartNATSServer is StartNATS for a test that reads the server's own
// numbers (Varz).
func StartNATSServer(t testing.TB) *server.Server {
	t.Helper()
	ns, err := fleet.StartEmbeddedNATS("127.0.0.1:-1", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

func Connect(t testing.TB, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
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

type Publisher struct {
	*publisher.Publisher
	Dir    string
	URL    string
	Client *fleetclient.Client
}

// StartPublisher runs a publisher with its HTTP API on loopback and its
// canary watch; opts are its NATS connect options (credentials).
func StartPublisher(t testing.TB, natsURL string, opts ...nats.Option) *Publisher {
	t.Helper()
	return startPublisher(t, natsURL, nil, opts...)
}

// StartSigningPublisher is StartPublisher connected as auth's publisher
// user, signing nodes' credentials with auth's account.
func StartSigningPublisher(t testing.TB, natsURL string, auth *fleet.NATSAuth) *Publisher {
	t.Helper()
	return startPublisher(t, natsURL, auth, nats.UserCredentials(auth.PublisherFile))
}

func startPublisher(t testing.TB, natsURL string, auth *fleet.NATSAuth, opts ...nats.Option) *Publisher {
	t.Helper()
	_, js := Connect(t, natsURL, opts...)
	dir := t.TempDir()
	p, err := publisher.New(context.Background(), publisher.Options{DataDir: dir, JS: js, Logger: Quiet, NATSAuth: auth})
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
	return &Publisher{Publisher: p, Dir: dir, URL: srv.URL,
		Client: &fleetclient.Client{URL: srv.URL, Token: p.Identity().Token, Author: "tester"}}
}

type Edge struct {
	ID        string
	Discovery *discovery.Discovery
	Node      *edge.Node
	Sub       *fleetnode.Subscriber
	URL       string
	cancel    context.CancelFunc
	done      chan struct{}
}

type EdgeSpec struct {
	ID      string
	Labels  map[string]string
	DataDir string // "" = a fresh temp dir
	Trust   ed25519.PublicKey
	// discovery: follow the services bucket for `discovery: nats` upstreams
	Discovery bool
	// statusInterval: 0 = 200 ms, so tests see status changes quickly
	StatusInterval time.Duration
	// retryAfter: the wait before a failed snapshot is applied again
	RetryAfter time.Duration
	// creds: the NATS credentials file the node connects with
	Creds string
	// logger: the subscriber's; nil: discarded
	Logger *slog.Logger
}

// StartEdge runs a real edge node on loopback, following the fleet at
// natsURL (which may be dead: the node then boots from disk and retries).
func StartEdge(t testing.TB, natsURL string, spec EdgeSpec) *Edge {
	t.Helper()
	if spec.DataDir == "" {
		spec.DataDir = t.TempDir()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := edge.Options{NodeID: spec.ID, DataDir: spec.DataDir, Logger: Quiet, ShutdownTimeout: 2 * time.Second}
	var disc *discovery.Discovery
	if spec.Discovery {
		disc = discovery.New(Quiet)
		opts.PrepareSnapshot = disc.Prepare
	}
	node := edge.NewNode(opts)
	if spec.StatusInterval == 0 {
		spec.StatusInterval = 200 * time.Millisecond
	}
	if spec.Logger == nil {
		spec.Logger = Quiet
	}
	sub, err := fleetnode.New(fleetnode.Options{NATSURL: natsURL, Node: node, NodeID: spec.ID, Labels: spec.Labels,
		Trust: spec.Trust, DataDir: spec.DataDir, Logger: spec.Logger, StatusInterval: spec.StatusInterval, Discovery: disc, RetryAfter: spec.RetryAfter, NATSCreds: spec.Creds})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Boot(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Edge{ID: spec.ID, Discovery: disc, Node: node, Sub: sub, URL: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan struct{})}
	subDone := make(chan struct{})
	go func() { defer close(subDone); sub.Run(ctx) }()
	go func() { defer close(e.done); node.Run(ctx, edge.Listeners{Data: ln}); <-subDone }()
	t.Cleanup(e.Stop)
	return e
}

// Stop stops the node and its subscriber and waits for both.
func (e *Edge) Stop() {
	e.cancel()
	<-e.done
}

// Get returns the status and body of GET url+path.
func Get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Upstream is a real HTTP server answering its name.
func Upstream(t testing.TB, name string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name+":"+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// RouteConfig is a config with one route /NAME to one upstream.
func RouteConfig(name, upstreamURL string) string {
	return fmt.Sprintf("upstreams: {%[1]s: {endpoints: [%[2]s]}}\nroutes: [{name: %[1]s, match: {path_prefix: /%[1]s}, upstream: %[1]s}]\n", name, upstreamURL)
}

func WriteConfig(t testing.TB, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("sluice-%d.yaml", time.Now().UnixNano()))
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// ApplyYAML does what `sluice apply` does: collect, upload, publish.
func (p *Publisher) ApplyYAML(t testing.TB, text, canary string) (*publisher.RevisionSummary, error) {
	t.Helper()
	path := WriteConfig(t, t.TempDir(), text)
	doc, blobs, err := artifacts.FromFile(path)
	if err != nil {
		return nil, err
	}
	if _, _, err := p.Client.Upload(context.Background(), blobs); err != nil {
		return nil, err
	}
	return p.Client.Apply(context.Background(), doc, canary)
}

// MustApply is ApplyYAML that fails the test on an error; it returns the revision.
func (p *Publisher) MustApply(t testing.TB, text, canary string) int64 {
	t.Helper()
	rev, err := p.ApplyYAML(t, text, canary)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return rev.Revision
}

// Serves reports whether the edge answers path with the body prefix want.
func Serves(t testing.TB, e *Edge, path, want string) func() bool {
	return func() bool {
		code, body := Get(t, e.URL+path)
		return code == 200 && strings.HasPrefix(body, want)
	}
}

func NodeState(e *Edge, rev int64, state string) func() bool {
	return func() bool {
		st := e.Sub.Status()
		return st.Revision == rev && st.State == state
	}
}

// WatGuest compiles testdata/wasm/NAME.wat with wat2wasm into dir.
func WatGuest(t testing.TB, dir, name string) string {
	t.Helper()
	src := filepath.Join("..", "..", "testdata", "wasm", name+".wat")
	out := filepath.Join(dir, name+".wasm")
	if b, err := exec.Command("wat2wasm", src, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm %s (apt-get install wabt): %v\n%s", src, err, b)
	}
	return out
}

// DeadAddr is a loopback address nothing listens on (for now).
func DeadAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
