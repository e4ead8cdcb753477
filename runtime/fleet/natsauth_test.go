package fleet_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/sluicegw/sluice/runtime/discovery"
	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleetclient"
	"github.com/sluicegw/sluice/runtime/fleettest"
	"github.com/sluicegw/sluice/runtime/publisher"
	"github.com/sluicegw/sluice/runtime/testkit"
)

// nodeConn connects with a node's credentials and collects the
// permission errors the server reports for that connection.
func nodeConn(t testing.TB, url, credsFile string) (*nats.Conn, jetstream.JetStream, chan error) {
	t.Helper()
	errs := make(chan error, 16)
	nc, js := fleettest.Connect(t, url, fleettest.CredsOption(t, credsFile), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
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
		t.Fatalf("publish to %s: succeeded with a node's credentials", subject)
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

func TestNATSAuthCreatedOnceAndPrivate(t *testing.T) {
	dir := t.TempDir()
	a1, err := fleet.LoadOrCreateNATSAuth(dir)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := fleet.LoadOrCreateNATSAuth(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a1.Account != a2.Account || a1.System != a2.System || a1.Account == a1.System {
		t.Fatalf("accounts on the first and second start: %s %s, then %s %s", a1.Account, a1.System, a2.Account, a2.System)
	}
	conf, err := os.ReadFile(filepath.Join(dir, fleet.NATSAuthFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), a1.Account) || !strings.Contains(string(conf), a1.System) {
		t.Fatalf("%s lacks an account:\n%s", fleet.NATSAuthFile, conf)
	}
	for _, f := range []string{"nats-operator.nk", "nats-system.nk", "nats-account.nk", fleet.PublisherCredsFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
		}
		data, _ := os.ReadFile(filepath.Join(dir, f))
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "S") && len(line) > 50 && strings.Contains(string(conf), line) {
				t.Fatalf("%s holds the seed of %s", fleet.NATSAuthFile, f)
			}
		}
	}
	os.WriteFile(filepath.Join(dir, "nats-account.nk"), []byte("not a seed\n"), 0o600)
	if _, err := fleet.LoadOrCreateNATSAuth(dir); err == nil || !strings.Contains(err.Error(), "nats-account.nk: not an nkey seed") {
		t.Fatalf("a damaged account seed: %v", err)
	}
}

func TestValidNodeID(t *testing.T) {
	for id, want := range map[string]bool{"edge-1": true, "ip-10-0-0-1.ec2.internal": true, "a_b": true,
		"": false, "a b": false, "a.*": false, "a.>": false, ".a": false, "a.": false, "a..b": false, strings.Repeat("a", 129): false} {
		if got := fleet.ValidNodeID(id); got != want {
			t.Errorf("ValidNodeID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestEmbeddedNATSRefusesAnonymousAndUnknownUsers(t *testing.T) {
	url, _ := fleettest.StartAuthNATS(t)
	if _, err := nats.Connect(url); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("anonymous connect: %v, want %v", err, nats.ErrAuthorization)
	}
	// Fleet processes retry a failed connect forever, but not a refusal.
	if _, err := fleet.Connect(url, "anonymous"); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("fleet connect without credentials: %v, want %v", err, nats.ErrAuthorization)
	}
	stranger, err := fleet.LoadOrCreateNATSAuth(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fleet.Connect(url, "stranger", fleettest.CredsOption(t, fleettest.NodeCreds(t, stranger, "edge-a"))); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("connect with a node's credentials from another publisher: %v, want %v", err, nats.ErrAuthorization)
	}
	if _, err := fleet.CredsOption(filepath.Join(t.TempDir(), "missing.creds")); err == nil || !strings.Contains(err.Error(), "missing.creds") {
		t.Fatalf("a missing credentials file: %v", err)
	}
}

// A node with its own credentials follows the fleet as before: snapshot,
// artifact (a wasm filter), status, discovery, and an announcer with
// credentials that allow the service.
func TestNodeWithItsCredsConvergesAndServes(t *testing.T) {
	url, auth := fleettest.StartAuthNATS(t)
	pub := fleettest.StartPublisher(t, url, fleettest.CredsOption(t, auth.PublisherFile))
	e := fleettest.StartEdge(t, url, fleettest.EdgeSpec{ID: "edge-a", Trust: pub.Identity().Public, Creds: fleettest.NodeCreds(t, auth, "edge-a"), Discovery: true})
	dir := t.TempDir()
	wasm := fleettest.WatGuest(t, dir, "answer")
	rev := pub.MustApply(t, fmt.Sprintf(`filters: {answer: {module: %s}}
upstreams: {svc: {discovery: nats}}
routes:
  - {name: fn, match: {path: /fn}, filters: [answer]}
  - {name: svc, match: {path_prefix: /svc}, upstream: svc}
`, wasm), "")
	testkit.WaitFor(t, 20*time.Second, "the node serving the filter", func() bool {
		code, body := fleettest.Get(t, e.URL+"/fn")
		return code == 418 && body == "hello from wasm"
	})
	testkit.WaitFor(t, 10*time.Second, "the node's status in the bucket", func() bool {
		nodes, err := fleet.ListNodes(context.Background(), pub.Buckets())
		return err == nil && len(nodes) == 1 && nodes[0].ID == "edge-a" && nodes[0].Revision == rev && nodes[0].State == fleet.StateReady
	})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- discovery.Announce(ctx, url, "svc", fleettest.Upstream(t, "svc"), 100*time.Millisecond, fleettest.Quiet, fleettest.CredsOption(t, fleettest.NodeCreds(t, auth, "announcer", "svc")))
	}()
	testkit.WaitFor(t, 10*time.Second, "the announced instance served", fleettest.Serves(t, e, "/svc", "svc:"))
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("announce: %v", err)
	}
}

func TestNodeCredsCannotPublishOrManageStreams(t *testing.T) {
	url, auth := fleettest.StartAuthNATS(t)
	pub := fleettest.StartPublisher(t, url, fleettest.CredsOption(t, auth.PublisherFile))
	rev := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "users")), "")
	nc, js, errs := nodeConn(t, url, fleettest.NodeCreds(t, auth, "edge-a", "users"))
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

	// Its own status key, decisions and announced service; no other's.
	ctx := context.Background()
	if _, err := b.Nodes.Put(ctx, "edge-a", []byte(`{"id": "edge-a"}`)); err != nil {
		t.Fatalf("a node writing its own status: %v", err)
	}
	pubNC, _ := fleettest.Connect(t, url, fleettest.CredsOption(t, auth.PublisherFile))
	decisions, err := pubNC.SubscribeSync(fleet.DecisionSubjectPrefix + ">")
	if err != nil || pubNC.Flush() != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(fleet.DecisionSubjectPrefix+"edge-a", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if m, err := decisions.NextMsg(5 * time.Second); err != nil || m.Subject != fleet.DecisionSubjectPrefix+"edge-a" {
		t.Fatalf("a node's own decision: %v %v", m, err)
	}
	if _, err := b.Services.Put(ctx, "users.abc", []byte(`{}`)); err != nil {
		t.Fatalf("announcing a service the credentials allow: %v", err)
	}
	if _, err := pub.Buckets().Nodes.Put(ctx, "edge-b", []byte(`{"id": "edge-b", "revision": 7}`)); err != nil {
		t.Fatal(err)
	}
	denied(t, errs, "$KV.sluice_nodes.edge-b", func(ctx context.Context) error {
		_, err := b.Nodes.Put(ctx, "edge-b", []byte(`{"id": "edge-b", "revision": 999}`))
		return err
	})
	denied(t, errs, "$KV.sluice_nodes.edge-b", func(ctx context.Context) error {
		return b.Nodes.Delete(ctx, "edge-b")
	})
	// A plain publish fails only asynchronously: the server's report
	// (checked by denied) and the subscriber that never sees it tell.
	denied(t, errs, fleet.DecisionSubjectPrefix+"edge-b", func(ctx context.Context) error {
		if err := nc.Publish(fleet.DecisionSubjectPrefix+"edge-b", []byte(`{}`)); err != nil {
			return err
		}
		return errors.New("published; the server decides")
	})
	if m, err := decisions.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("another node's decision subject reached subscribers: %s", m.Subject)
	}
	denied(t, errs, "$KV.sluice_services.billing.abc", func(ctx context.Context) error {
		_, err := b.Services.Put(ctx, "billing.abc", []byte(`{}`))
		return err
	})
	if e, err := pub.Buckets().Nodes.Get(ctx, "edge-b"); err != nil || !strings.Contains(string(e.Value()), `"revision": 7`) {
		t.Fatalf("another node's status after the attempts: %v", err)
	}

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
	url, auth := fleettest.StartAuthNATS(t)
	nc, _, errs := nodeConn(t, url, fleettest.NodeCreds(t, auth, "edge-a"))
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
// gone, and a node with its credentials (which may not update streams)
// creates it again and reports into it.
func TestNodeWithItsCredsReportsAfterNATSRestart(t *testing.T) {
	auth, err := fleet.LoadOrCreateNATSAuth(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	addr, store := fleettest.DeadAddr(t), t.TempDir()
	ns, err := fleet.StartEmbeddedNATS(addr, store, auth)
	if err != nil {
		t.Fatal(err)
	}
	url := ns.ClientURL()
	pub := fleettest.StartPublisher(t, url, fleettest.CredsOption(t, auth.PublisherFile))
	e := fleettest.StartEdge(t, url, fleettest.EdgeSpec{ID: "edge-a", Trust: pub.Identity().Public, Creds: fleettest.NodeCreds(t, auth, "edge-a")})
	rev := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "users")), "")
	testkit.WaitFor(t, 10*time.Second, "revision served", fleettest.Serves(t, e, "/users", "users:"))

	ns.Shutdown()
	ns.WaitForShutdown()
	ns, err = fleet.StartEmbeddedNATS(addr, store, auth)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	testkit.WaitFor(t, 15*time.Second, "the node's status after the restart", func() bool {
		nodes, err := fleet.ListNodes(context.Background(), pub.Buckets())
		return err == nil && len(nodes) == 1 && nodes[0].ID == "edge-a" && nodes[0].Revision == rev
	})
}

// --nats-creds reads a JWT .creds file (ours, or nsc's) or a bare nkey
// seed (a cluster configured with nkey users); CredsName reads the node ID
// from ours.
func TestCredsOptionTellsSeedFromJWTCreds(t *testing.T) {
	_, auth := fleettest.StartAuthNATS(t)
	creds := fleettest.NodeCreds(t, auth, "edge-a")
	o := nats.Options{}
	if err := fleettest.CredsOption(t, creds)(&o); err != nil {
		t.Fatal(err)
	}
	if o.UserJWT == nil || o.Nkey != "" {
		t.Fatalf("a JWT .creds file: JWT callback set %v, nkey %q; want the JWT", o.UserJWT != nil, o.Nkey)
	}
	if name, err := fleet.CredsName(creds); err != nil || name != "edge-a" {
		t.Fatalf("CredsName: %q, %v; want edge-a", name, err)
	}
	kp, _ := nkeys.CreateUser()
	seed, _ := kp.Seed()
	pubKey, _ := kp.PublicKey()
	seedFile := filepath.Join(t.TempDir(), "user.nk")
	os.WriteFile(seedFile, []byte("-----BEGIN USER NKEY SEED-----\n"+string(seed)+"\n------END USER NKEY SEED------\n"), 0o600)
	o = nats.Options{}
	if err := fleettest.CredsOption(t, seedFile)(&o); err != nil {
		t.Fatal(err)
	}
	if o.Nkey != pubKey || o.UserJWT != nil {
		t.Fatalf("a seed file: nkey %q, JWT callback set %v; want nkey %q and no JWT", o.Nkey, o.UserJWT != nil, pubKey)
	}
	if name, err := fleet.CredsName(seedFile); err != nil || name != "" {
		t.Fatalf("CredsName of a seed: %q, %v; want none", name, err)
	}
}

// nats-auth.conf is what an external cluster includes: nats-server started
// from it admits the publisher's and the nodes' users and no one else.
func TestNATSAuthConfIsTheEmbeddedServersAuth(t *testing.T) {
	dir := t.TempDir()
	auth, err := fleet.LoadOrCreateNATSAuth(dir)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "nats-server.conf")
	os.WriteFile(conf, []byte("listen: 127.0.0.1:-1\njetstream: {store_dir: \""+filepath.Join(dir, "js")+"\"}\ninclude \""+fleet.NATSAuthFile+"\"\n"), 0o600)
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("nats-server cannot read %s: %v", fleet.NATSAuthFile, err)
	}
	opts.NoLog, opts.NoSigs = true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server from nats-auth.conf not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	url := ns.ClientURL()
	if _, err := nats.Connect(url); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("anonymous connect: %v, want %v", err, nats.ErrAuthorization)
	}
	pub := fleettest.StartPublisher(t, url, fleettest.CredsOption(t, auth.PublisherFile))
	e := fleettest.StartEdge(t, url, fleettest.EdgeSpec{ID: "edge-a", Trust: pub.Identity().Public, Creds: fleettest.NodeCreds(t, auth, "edge-a")})
	pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "users")), "")
	testkit.WaitFor(t, 20*time.Second, "the node serving", fleettest.Serves(t, e, "/users", "users:"))
}

// A node no longer creates the config bucket: started before any publisher
// it waits, says so once however often it retries, and follows once the
// buckets exist.
func TestNodeStartedBeforeThePublisherWaitsAndSaysSoOnce(t *testing.T) {
	ns, err := fleet.StartEmbeddedNATS("127.0.0.1:-1", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	var logs testkit.SyncBuffer
	trust, _, _ := ed25519.GenerateKey(rand.Reader)
	fleettest.StartEdge(t, ns.ClientURL(), fleettest.EdgeSpec{ID: "early", Trust: trust, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	const waiting = "waiting for the publisher to create the fleet's buckets"
	testkit.WaitFor(t, 10*time.Second, "the node saying it waits", func() bool { return strings.Contains(logs.String(), waiting) })
	// Each retry asks for the config bucket's stream info: wait for several.
	v0, _ := ns.Varz(nil)
	testkit.WaitFor(t, 10*time.Second, "the node retrying", func() bool {
		v, err := ns.Varz(nil)
		return err == nil && v.InMsgs >= v0.InMsgs+5
	})
	_, js := fleettest.Connect(t, ns.ClientURL())
	b, err := fleet.OpenBuckets(context.Background(), js, 0)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the node's status once the buckets exist", func() bool {
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

// An admin has the publisher sign a node's user for a key made elsewhere:
// the JWT names the node, and the node it lets in may write its own status.
func TestNodeCredsThroughTheAPI(t *testing.T) {
	url, auth := fleettest.StartAuthNATS(t)
	pub := fleettest.StartSigningPublisher(t, url, auth)
	ctx := context.Background()
	kp, _ := nkeys.CreateUser()
	userKey, _ := kp.PublicKey()
	for _, bad := range []struct{ id, key, want string }{
		{"edge-a", "not-a-key", "not a NATS user public key"},
		{"edge.*", userKey, "node id"},
		{"edge-a", auth.Account, "not a NATS user public key"}, // an account key is no user's
	} {
		_, err := pub.Client.NodeCreds(ctx, bad.id, bad.key, nil, 0)
		var ae *fleetclient.APIError
		if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Message, bad.want) {
			t.Fatalf("node-creds %q %q: %v, want a 400 saying %q", bad.id, bad.key, err, bad.want)
		}
	}
	signed, err := pub.Client.NodeCreds(ctx, "edge-a", userKey, []string{"billing"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := jwt.DecodeUserClaims(signed.JWT)
	if err != nil || claims.Name != "edge-a" || claims.Subject != userKey || claims.Issuer != auth.Account {
		t.Fatalf("the signed JWT: %+v %v", claims, err)
	}
	seed, _ := kp.Seed()
	creds, _ := jwt.FormatUserConfig(signed.JWT, seed)
	file := filepath.Join(t.TempDir(), "edge-a.creds")
	os.WriteFile(file, creds, 0o600)
	_, js, _ := nodeConn(t, url, file)
	b, err := fleet.BindBuckets(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Nodes.Put(ctx, "edge-a", []byte(`{"id": "edge-a"}`)); err != nil {
		t.Fatalf("the node's own status with the signed credentials: %v", err)
	}
	page, err := pub.Client.History(ctx, 0, 10)
	if err != nil || len(page.Entries) == 0 || page.Entries[0].Action != publisher.ActionNodeCreds || !strings.Contains(page.Entries[0].Detail, "edge-a") {
		t.Fatalf("history after node-creds: %+v %v", page, err)
	}
}

// TestSharedNodeCredsServeAnyNodeButPublishNoSnapshot: the node.creds the
// publisher writes into its data dir (the release 2 contract) let nodes of
// any id converge and report, and still cannot publish a snapshot.
func TestSharedNodeCredsServeAnyNodeButPublishNoSnapshot(t *testing.T) {
	url, auth := fleettest.StartAuthNATS(t)
	shared := filepath.Join(filepath.Dir(auth.PublisherFile), fleet.SharedNodeCredsFile)
	if name, err := fleet.CredsName(shared); err != nil || name != "" {
		t.Fatalf("%s names node %q (%v); want no node, so --node decides", shared, name, err)
	}
	pub := fleettest.StartPublisher(t, url, fleettest.CredsOption(t, auth.PublisherFile))
	rev := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "users")), "")
	for _, id := range []string{"edge-a", "eu.edge-b"} {
		e := fleettest.StartEdge(t, url, fleettest.EdgeSpec{ID: id, Trust: pub.Identity().Public, Creds: shared})
		testkit.WaitFor(t, 20*time.Second, id+" serving revision", fleettest.NodeState(e, rev, fleet.StateReady))
	}
	testkit.Eventually(t, 10*time.Second, "both nodes' status in the bucket", func() (bool, string) {
		nodes, err := fleet.ListNodes(context.Background(), pub.Buckets())
		return err == nil && len(nodes) == 2, fmt.Sprint(nodes, err)
	})
	_, js, errs := nodeConn(t, url, shared)
	b, err := fleet.BindBuckets(context.Background(), js)
	if err != nil {
		t.Fatalf("bind with %s: %v", fleet.SharedNodeCredsFile, err)
	}
	denied(t, errs, "$KV.sluice_config.snapshot.stable", func(ctx context.Context) error {
		_, err := b.Config.Put(ctx, fleet.StableKey, []byte(`{"revision": 999}`))
		return err
	})
}

// TestStillValidNodeCreds: credentials made for a node stay usable for it
// until revoked, and serve no other node, account or changed file.
func TestStillValidNodeCreds(t *testing.T) {
	auth, err := fleet.LoadOrCreateNATSAuth(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	creds, err := auth.NodeCreds("dev", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !auth.StillValidNodeCreds("dev", creds) {
		t.Fatal("fresh credentials not taken as still valid")
	}
	other, err := auth.NodeCreds("other", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	announcing, err := auth.NodeCreds("dev", []string{"users"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	expiring, err := auth.NodeCreds("dev", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := fleet.LoadOrCreateNATSAuth(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := stranger.NodeCreds("dev", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The seed of another node's file under this node's JWT.
	swapped := append(bytes.Clone(creds[:bytes.Index(creds, []byte("-----BEGIN USER NKEY SEED"))]),
		other[bytes.Index(other, []byte("-----BEGIN USER NKEY SEED")):]...)
	for name, c := range map[string][]byte{"another node's": other, "announcing": announcing, "expiring": expiring,
		"another account's": foreign, "swapped seed": swapped, "garbage": []byte("not creds")} {
		if auth.StillValidNodeCreds("dev", c) {
			t.Errorf("%s credentials taken as dev's", name)
		}
	}
	if _, err := auth.RevokeNode("dev", ""); err != nil {
		t.Fatal(err)
	}
	if auth.StillValidNodeCreds("dev", creds) {
		t.Error("revoked credentials taken as still valid")
	}
}
