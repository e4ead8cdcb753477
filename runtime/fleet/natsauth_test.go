package fleet_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicegw/sluice/runtime/discovery"
	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleettest"
)

// startAuthNATS runs a real embedded NATS server that admits only the
// users of credentials created in a fresh data dir.
func startAuthNATS(t testing.TB) (string, *fleet.NATSCreds) {
	t.Helper()
	creds, err := fleet.LoadOrCreateNATSCreds(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ns, err := fleet.StartEmbeddedNATS("127.0.0.1:-1", t.TempDir(), creds.Users()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns.ClientURL(), creds
}

func credsOpt(t testing.TB, path string) nats.Option {
	t.Helper()
	opt, err := fleet.CredsOption(path)
	if err != nil {
		t.Fatal(err)
	}
	return opt
}

// violations connects with the node credentials and collects the
// permission errors the server reports for that connection.
func nodeConn(t testing.TB, url string, creds *fleet.NATSCreds) (*nats.Conn, jetstream.JetStream, chan error) {
	t.Helper()
	errs := make(chan error, 16)
	nc, js := fleettest.Connect(t, url, credsOpt(t, creds.NodeFile), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errs <- err:
		default:
		}
	}))
	return nc, js, errs
}

// denied checks that op fails and that the server reported a permissions
// violation for publishing to subject.
func denied(t *testing.T, errs chan error, subject string, op func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	opErr := op(ctx)
	if opErr == nil {
		t.Fatalf("publish to %s: succeeded with the node credentials", subject)
	}
	want := fmt.Sprintf("Permissions Violation for Publish to %q", subject)
	deadline := time.After(5 * time.Second)
	var seen []string
	for {
		select {
		case err := <-errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), want) {
				return
			}
			seen = append(seen, err.Error())
		case <-deadline:
			t.Fatalf("no %q reported; the call failed with %v; the server reported %q", want, opErr, seen)
		}
	}
}

func TestNATSCredsCreatedOnceAndPrivate(t *testing.T) {
	dir := t.TempDir()
	c1, err := fleet.LoadOrCreateNATSCreds(dir)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := fleet.LoadOrCreateNATSCreds(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Publisher != c2.Publisher || c1.Node != c2.Node {
		t.Fatalf("keys changed on the second start: %+v, then %+v", c1, c2)
	}
	if c1.Publisher == c1.Node {
		t.Fatal("the publisher and the nodes share a key")
	}
	for _, f := range []string{fleet.PublisherCredsFile, fleet.NodeCredsFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	conf, err := os.ReadFile(filepath.Join(dir, fleet.NATSAuthFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), c1.Publisher) || !strings.Contains(string(conf), c1.Node) {
		t.Fatalf("%s lacks a public key:\n%s", fleet.NATSAuthFile, conf)
	}
	for _, f := range []string{fleet.PublisherCredsFile, fleet.NodeCredsFile} {
		seed, _ := os.ReadFile(filepath.Join(dir, f))
		line := strings.Split(string(seed), "\n")[1]
		if !strings.HasPrefix(line, "SU") || strings.Contains(string(conf), line) {
			t.Fatalf("%s: seed line %.4s...; %s must not hold it", f, line, fleet.NATSAuthFile)
		}
	}
	os.WriteFile(filepath.Join(dir, fleet.NodeCredsFile), []byte("not a seed\n"), 0o600)
	if _, err := fleet.LoadOrCreateNATSCreds(dir); err == nil || !strings.Contains(err.Error(), fleet.NodeCredsFile+": not a NATS user nkey seed") {
		t.Fatalf("a damaged node.creds: %v", err)
	}
}

func TestEmbeddedNATSRefusesAnonymousAndUnknownUsers(t *testing.T) {
	url, _ := startAuthNATS(t)
	if _, err := nats.Connect(url); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("anonymous connect: %v, want %v", err, nats.ErrAuthorization)
	}
	// Fleet processes retry a failed connect forever, but not a refusal.
	if _, err := fleet.Connect(url, "anonymous"); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("fleet connect without credentials: %v, want %v", err, nats.ErrAuthorization)
	}
	stranger, err := fleet.LoadOrCreateNATSCreds(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fleet.Connect(url, "stranger", credsOpt(t, stranger.NodeFile)); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("connect with another publisher's node.creds: %v, want %v", err, nats.ErrAuthorization)
	}
	if _, err := fleet.CredsOption(filepath.Join(t.TempDir(), "missing.creds")); err == nil || !strings.Contains(err.Error(), "missing.creds") {
		t.Fatalf("a missing credentials file: %v", err)
	}
}

// A node with node.creds follows the fleet as before: snapshot, artifact
// (a wasm filter), status, discovery, and an announcer with the same file.
func TestNodeWithNodeCredsConvergesAndServes(t *testing.T) {
	url, creds := startAuthNATS(t)
	pub := fleettest.StartPublisher(t, url, credsOpt(t, creds.PublisherFile))
	e := fleettest.StartEdge(t, url, fleettest.EdgeSpec{ID: "edge-a", Trust: pub.Identity().Public, Creds: creds.NodeFile, Discovery: true})
	dir := t.TempDir()
	wasm := fleettest.WatGuest(t, dir, "answer")
	rev := pub.MustApply(t, fmt.Sprintf(`filters: {answer: {module: %s}}
upstreams: {svc: {discovery: nats}}
routes:
  - {name: fn, match: {path: /fn}, filters: [answer]}
  - {name: svc, match: {path_prefix: /svc}, upstream: svc}
`, wasm), "")
	fleettest.Eventually(t, 20*time.Second, "the node serving the filter", func() bool {
		code, body := fleettest.Get(t, e.URL+"/fn")
		return code == 418 && body == "hello from wasm"
	})
	fleettest.Eventually(t, 10*time.Second, "the node's status in the bucket", func() bool {
		nodes, err := fleet.ListNodes(context.Background(), pub.Buckets())
		return err == nil && len(nodes) == 1 && nodes[0].ID == "edge-a" && nodes[0].Revision == rev && nodes[0].State == fleet.StateReady
	})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- discovery.Announce(ctx, url, "svc", fleettest.Upstream(t, "svc"), 100*time.Millisecond, fleettest.Quiet, credsOpt(t, creds.NodeFile))
	}()
	fleettest.Eventually(t, 10*time.Second, "the announced instance served", fleettest.Serves(t, e, "/svc", "svc:"))
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("announce with node.creds: %v", err)
	}
}

func TestNodeCredsCannotPublishOrManageStreams(t *testing.T) {
	url, creds := startAuthNATS(t)
	pub := fleettest.StartPublisher(t, url, credsOpt(t, creds.PublisherFile))
	rev := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "users")), "")
	_, js, errs := nodeConn(t, url, creds)
	b, err := fleet.BindBuckets(context.Background(), js)
	if err != nil {
		t.Fatalf("bind with node.creds: %v", err)
	}
	stable, err := b.Config.Get(context.Background(), fleet.StableKey)
	if err != nil {
		t.Fatalf("read the stable snapshot with node.creds: %v", err)
	}

	denied(t, errs, "$KV.sluice_config.snapshot.stable", func(ctx context.Context) error {
		_, err := b.Config.Put(ctx, fleet.StableKey, []byte(`{"revision": 999}`))
		return err
	})
	denied(t, errs, "$KV.sluice_config.snapshot.canary", func(ctx context.Context) error {
		_, err := b.Config.Put(ctx, fleet.CanaryKey, []byte(`{"revision": 999}`))
		return err
	})
	denied(t, errs, "$JS.API.STREAM.DELETE.KV_sluice_config", func(ctx context.Context) error {
		return js.DeleteKeyValue(ctx, fleet.ConfigBucket)
	})
	denied(t, errs, "$JS.API.STREAM.PURGE.KV_sluice_config", func(ctx context.Context) error {
		s, err := js.Stream(ctx, "KV_"+fleet.ConfigBucket)
		if err != nil {
			t.Fatalf("stream info with node.creds: %v", err)
		}
		return s.Purge(ctx)
	})
	denied(t, errs, "$JS.API.STREAM.UPDATE.KV_sluice_nodes", func(ctx context.Context) error {
		s, err := js.Stream(ctx, "KV_"+fleet.NodesBucket)
		if err != nil {
			t.Fatalf("stream info with node.creds: %v", err)
		}
		cfg := s.CachedInfo().Config
		cfg.MaxAge = time.Hour
		_, err = js.UpdateStream(ctx, cfg)
		return err
	})
	denied(t, errs, "$JS.API.STREAM.CREATE.other", func(ctx context.Context) error {
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "other", Subjects: []string{"other.>"}})
		return err
	})
	denied(t, errs, "$JS.API.STREAM.MSG.DELETE.OBJ_sluice_artifacts", func(ctx context.Context) error {
		s, err := js.Stream(ctx, "OBJ_"+fleet.ArtifactsBucket)
		if err != nil {
			t.Fatalf("stream info with node.creds: %v", err)
		}
		return s.DeleteMsg(ctx, 1)
	})
	digest := fleet.Digest([]byte("evil"))
	denied(t, errs, "$O.sluice_artifacts.M."+encodeObjectName(digest), func(ctx context.Context) error {
		_, err := b.Artifacts.PutBytes(ctx, digest, []byte("evil"))
		return err
	})
	denied(t, errs, fleet.HistorySubject+"apply", func(ctx context.Context) error {
		_, err := js.Publish(ctx, fleet.HistorySubject+"apply", []byte(`{}`))
		return err
	})

	after, err := pub.Buckets().Config.Get(context.Background(), fleet.StableKey)
	if err != nil || after.Revision() != stable.Revision() {
		t.Fatalf("the stable snapshot changed under the node credentials: %v", err)
	}
	if revs, err := pub.Revisions(context.Background()); err != nil || len(revs) != 1 || revs[0].Revision != rev {
		t.Fatalf("revisions after the attempts: %v, %v", revs, err)
	}
}

// What a node must be able to do beyond the buckets: the fleet rate-limit
// and cache-purge subjects, both ways.
func TestNodeCredsUseRateLimitAndPurgeSubjects(t *testing.T) {
	url, creds := startAuthNATS(t)
	nc, _, errs := nodeConn(t, url, creds)
	for _, subject := range []string{fleet.RateLimitSubjectPrefix + "route.key", fleet.CachePurgeSubject} {
		sub, err := nc.SubscribeSync(subject)
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Publish(subject, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := sub.NextMsg(5 * time.Second); err != nil {
			t.Fatalf("%s: %v (server said: %v)", subject, err, nc.LastError())
		}
		sub.Unsubscribe()
	}
	select {
	case err := <-errs:
		t.Fatalf("node credentials: %v", err)
	default:
	}
}

// encodeObjectName is how the Object Store names an object in its subjects.
func encodeObjectName(name string) string {
	return base64.URLEncoding.EncodeToString([]byte(name))
}

// The status bucket lives in memory: when the only server restarts it is
// gone, and a node with node.creds (which may not update streams) creates
// it again and reports into it.
func TestNodeWithNodeCredsReportsAfterNATSRestart(t *testing.T) {
	creds, err := fleet.LoadOrCreateNATSCreds(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	addr, store := fleettest.DeadAddr(t), t.TempDir()
	ns, err := fleet.StartEmbeddedNATS(addr, store, creds.Users()...)
	if err != nil {
		t.Fatal(err)
	}
	url := ns.ClientURL()
	pub := fleettest.StartPublisher(t, url, credsOpt(t, creds.PublisherFile))
	e := fleettest.StartEdge(t, url, fleettest.EdgeSpec{ID: "edge-a", Trust: pub.Identity().Public, Creds: creds.NodeFile})
	rev := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "users")), "")
	fleettest.Eventually(t, 10*time.Second, "revision served", fleettest.Serves(t, e, "/users", "users:"))

	ns.Shutdown()
	ns.WaitForShutdown()
	ns, err = fleet.StartEmbeddedNATS(addr, store, creds.Users()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	fleettest.Eventually(t, 15*time.Second, "the node's status after the restart", func() bool {
		nodes, err := fleet.ListNodes(context.Background(), pub.Buckets())
		return err == nil && len(nodes) == 1 && nodes[0].ID == "edge-a" && nodes[0].Revision == rev
	})
}

// --nats-creds reads either an nkey seed (ours) or a JWT .creds file (nsc).
func TestCredsOptionTellsSeedFromJWTCreds(t *testing.T) {
	creds, err := fleet.LoadOrCreateNATSCreds(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var o nats.Options
	if err := credsOpt(t, creds.NodeFile)(&o); err != nil {
		t.Fatal(err)
	}
	if o.Nkey != creds.Node || o.UserJWT != nil {
		t.Fatalf("node.creds: nkey %q, JWT callback set %v; want nkey %q and no JWT", o.Nkey, o.UserJWT != nil, creds.Node)
	}
	seed, _ := os.ReadFile(creds.NodeFile)
	jwtCreds := filepath.Join(t.TempDir(), "user.creds")
	os.WriteFile(jwtCreds, append([]byte("-----BEGIN NATS USER JWT-----\neyJhbGciOiJlZDI1NTE5In0.e30.c2ln\n------END NATS USER JWT------\n\n"), seed...), 0o600)
	o = nats.Options{}
	if err := credsOpt(t, jwtCreds)(&o); err != nil {
		t.Fatal(err)
	}
	if o.UserJWT == nil || o.Nkey != "" {
		t.Fatalf("a JWT .creds file: JWT callback set %v, nkey %q; want the JWT", o.UserJWT != nil, o.Nkey)
	}
}

// nats-auth.conf is what an external cluster includes: nats-server must
// read it as the same users and permissions the embedded server gets.
func TestNATSAuthConfIsTheEmbeddedServersAuth(t *testing.T) {
	dir := t.TempDir()
	creds, err := fleet.LoadOrCreateNATSCreds(dir)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "nats-server.conf")
	os.WriteFile(conf, []byte("jetstream: {store_dir: \""+filepath.Join(dir, "js")+"\"}\ninclude \""+fleet.NATSAuthFile+"\"\n"), 0o600)
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("nats-server cannot read %s: %v", fleet.NATSAuthFile, err)
	}
	users := map[string]*server.Permissions{}
	for _, u := range opts.Nkeys {
		users[u.Nkey] = u.Permissions
	}
	if len(users) != 2 || users[creds.Publisher] != nil {
		t.Fatalf("users: %v; want the publisher without limits and the node", users)
	}
	got, want := users[creds.Node], fleet.NodePermissions()
	if got == nil || !slices.Equal(got.Publish.Allow, want.Publish.Allow) || !slices.Equal(got.Subscribe.Allow, want.Subscribe.Allow) ||
		len(got.Publish.Deny) != 0 || len(got.Subscribe.Deny) != 0 {
		t.Fatalf("node permissions from %s:\n%+v\nwant\n%+v", fleet.NATSAuthFile, got, want)
	}
}

// lockedBuffer is a log sink safe for the goroutines of a node.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A node no longer creates the config bucket: started before any publisher
// it waits, says so once however often it retries, and follows once the
// buckets exist.
func TestNodeStartedBeforeThePublisherWaitsAndSaysSoOnce(t *testing.T) {
	ns, err := fleet.StartEmbeddedNATS("127.0.0.1:-1", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	var logs lockedBuffer
	trust, _, _ := ed25519.GenerateKey(rand.Reader)
	fleettest.StartEdge(t, ns.ClientURL(), fleettest.EdgeSpec{ID: "early", Trust: trust, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	const waiting = "waiting for the publisher to create the fleet's buckets"
	fleettest.Eventually(t, 10*time.Second, "the node saying it waits", func() bool { return strings.Contains(logs.String(), waiting) })
	// Each retry asks for the config bucket's stream info: wait for several.
	v0, _ := ns.Varz(nil)
	fleettest.Eventually(t, 10*time.Second, "the node retrying", func() bool {
		v, err := ns.Varz(nil)
		return err == nil && v.InMsgs >= v0.InMsgs+5
	})
	_, js := fleettest.Connect(t, ns.ClientURL())
	b, err := fleet.OpenBuckets(context.Background(), js, 0)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "the node's status once the buckets exist", func() bool {
		nodes, err := fleet.ListNodes(context.Background(), b)
		return err == nil && len(nodes) == 1 && nodes[0].ID == "early"
	})
	if n := strings.Count(logs.String(), waiting); n != 1 {
		t.Fatalf("the node said it waits %d times, want once:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "fleet session ended") {
		t.Fatalf("waiting for the buckets logged as a failed session:\n%s", logs.String())
	}
}
