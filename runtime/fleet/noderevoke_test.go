package fleet_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleetclient"
	"github.com/sluicegw/sluice/runtime/fleettest"
	"github.com/sluicegw/sluice/runtime/publisher"
	"github.com/sluicegw/sluice/runtime/testkit"
)

// credsClaims is the user JWT in a credentials file.
func credsClaims(t *testing.T, path string) *jwt.UserClaims {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	token, err := jwt.ParseDecoratedJWT(data)
	if err != nil {
		t.Fatal(err)
	}
	uc, err := jwt.DecodeUserClaims(token)
	if err != nil {
		t.Fatal(err)
	}
	return uc
}

// dial connects with a credentials file and does not reconnect, so the
// connection ends when the server closes it. The errors the server sends
// go to errs, when not nil.
func dial(url, creds string, errs chan<- error) (*nats.Conn, error) {
	opt, err := fleet.CredsOption(creds)
	if err != nil {
		return nil, err
	}
	return nats.Connect(url, opt, nats.NoReconnect(), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errs != nil {
			select {
			case errs <- err:
			default:
			}
		}
	}))
}

// conn is a test's connection and the errors the server sent it.
type conn struct {
	*nats.Conn
	errs chan error
}

// mustDial is dial that fails the test, closing the connection at its end.
func mustDial(t *testing.T, url, creds string) conn {
	t.Helper()
	errs := make(chan error, 16)
	nc, err := dial(url, creds, errs)
	if err != nil {
		t.Fatalf("connect with %s: %v", filepath.Base(creds), err)
	}
	t.Cleanup(nc.Close)
	return conn{nc, errs}
}

// closedWith waits for the server to close c, saying why: want.
func closedWith(t *testing.T, c conn, want error) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, "the connection closed by the server", func() (bool, string) {
		return c.IsClosed(), c.Status().String()
	})
	var got []error
	for {
		select {
		case err := <-c.errs:
			if errors.Is(err, want) {
				return
			}
			got = append(got, err)
		default:
			t.Fatalf("the server closed the connection saying %v, want %v", got, want)
		}
	}
}

// refused checks that creds can no longer connect to url.
func refused(t *testing.T, url, creds, what string) {
	t.Helper()
	nc, err := dial(url, creds, nil)
	if err == nil {
		nc.Close()
		t.Fatalf("%s: connected", what)
	}
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("%s: %v, want an authorization violation", what, err)
	}
}

// writesItsStatus checks a node's connection still has its rights: it
// writes its own status key.
func writesItsStatus(t *testing.T, nc conn, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	js, err := jetstream.New(nc.Conn)
	if err != nil {
		t.Fatal(err)
	}
	b, err := fleet.BindBuckets(ctx, js)
	if err != nil {
		t.Fatalf("%s: bind buckets: %v", id, err)
	}
	if _, err := b.Nodes.Put(ctx, id, []byte(`{"id": "`+id+`"}`)); err != nil {
		t.Fatalf("%s: its own status: %v", id, err)
	}
}

// revokedInAuthFile reports the revocations of the fleet account JWT in
// the data dir's nats-auth.conf, what an external cluster loads.
func revokedInAuthFile(t *testing.T, dir, account string) jwt.RevocationList {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, fleet.NATSAuthFile))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*` + account + `: "([^"]+)"$`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("%s holds no JWT for account %s:\n%s", fleet.NATSAuthFile, account, data)
	}
	ac, err := jwt.DecodeAccountClaims(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return ac.Revocations
}

// A lost node is revoked by its ID: its open connection is closed and it
// cannot come back, while another node's credentials and a new key for the
// same node work; all of it holds after the publisher's data dir is loaded
// again and its server restarted.
func TestRevokedNodeIsCutOffAndStaysOutAfterARestart(t *testing.T) {
	dir := t.TempDir()
	ns, auth := fleettest.StartAuthNATSIn(t, dir)
	url := ns.ClientURL()
	pub := fleettest.StartSigningPublisher(t, url, auth)
	ctx := context.Background()

	lost := fleettest.NodeCreds(t, auth, "edge-a")
	kept := fleettest.NodeCreds(t, auth, "edge-b")
	lostKey, keptKey := credsClaims(t, lost).Subject, credsClaims(t, kept).Subject
	ncLost, ncKept := mustDial(t, url, lost), mustDial(t, url, kept)
	writesItsStatus(t, ncLost, "edge-a")

	rev, err := pub.Client.RevokeNode(ctx, "edge-a", "")
	if err != nil {
		t.Fatal(err)
	}
	if !rev.Pushed || len(rev.Keys) != 1 || rev.Keys[0].Key != lostKey || rev.Keys[0].Revoked.IsZero() {
		t.Fatalf("revocation: %+v", rev)
	}
	closedWith(t, ncLost, nats.ErrAuthRevoked)
	refused(t, url, lost, "edge-a's revoked credentials")
	if !ncKept.IsConnected() {
		t.Fatalf("edge-b's connection: %s after edge-a's revocation", ncKept.Status())
	}
	writesItsStatus(t, ncKept, "edge-b")
	writesItsStatus(t, mustDial(t, url, kept), "edge-b")

	// The replacement machine gets a new key for the same node ID.
	fresh := fleettest.NodeCreds(t, auth, "edge-a")
	writesItsStatus(t, mustDial(t, url, fresh), "edge-a")
	if keys := auth.NodeKeys("edge-a"); len(keys) != 2 || keys[0].Key != lostKey || keys[0].Revoked.IsZero() || !keys[1].Revoked.IsZero() {
		t.Fatalf("edge-a's keys after a revoke and a new key: %+v", keys)
	}

	// What an external cluster loads: the account JWT revokes the lost key
	// only.
	revoked := revokedInAuthFile(t, dir, auth.Account)
	if _, ok := revoked[lostKey]; !ok || len(revoked) != 1 {
		t.Fatalf("%s revokes %v, want %s alone", fleet.NATSAuthFile, revoked, lostKey)
	}
	page, err := pub.Client.History(ctx, 0, 1)
	if err != nil || len(page.Entries) != 1 {
		t.Fatalf("history: %+v %v", page, err)
	}
	if e := page.Entries[0]; e.Action != publisher.ActionNodeRevoke || e.Outcome != publisher.OutcomeDone || !strings.Contains(e.Detail, `"edge-a"`) {
		t.Fatalf("history after the revocation: %+v", e)
	}

	// The publisher's restart: the data dir loaded again, a new server.
	ns.Shutdown()
	ns.WaitForShutdown()
	ns2, auth2 := fleettest.StartAuthNATSIn(t, dir)
	url2 := ns2.ClientURL()
	if auth2.Account != auth.Account {
		t.Fatalf("the account changed across the restart: %s, then %s", auth.Account, auth2.Account)
	}
	refused(t, url2, lost, "edge-a's revoked credentials after a restart")
	mustDial(t, url2, kept)
	mustDial(t, url2, fresh)
	if _, ok := revokedInAuthFile(t, dir, auth2.Account)[lostKey]; !ok {
		t.Fatalf("%s rewritten at the restart lost the revocation of %s", fleet.NATSAuthFile, lostKey)
	}
	// A revoked key is not signed again; the other node's is.
	if _, err := auth2.NodeUserJWT("edge-a", lostKey, nil, 0); !errors.Is(err, fleet.ErrBadRequest) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("signing a revoked key again: %v", err)
	}
	if _, err := auth2.NodeUserJWT("edge-b", keptKey, nil, 0); err != nil {
		t.Fatalf("signing edge-b's key again: %v", err)
	}
}

// Revoking what the publisher never signed says so; one key of a node may
// be revoked alone (the old one after a rotation), and revoking again
// keeps the first time.
func TestRevokeNodeRefusesWhatItDoesNotKnow(t *testing.T) {
	url, auth := fleettest.StartAuthNATS(t)
	pub := fleettest.StartSigningPublisher(t, url, auth)
	ctx := context.Background()
	old := fleettest.NodeCreds(t, auth, "edge-a")
	current := fleettest.NodeCreds(t, auth, "edge-a")
	other := fleettest.NodeCreds(t, auth, "edge-b")
	oldKey, otherKey := credsClaims(t, old).Subject, credsClaims(t, other).Subject

	for _, bad := range []struct {
		id, key string
		status  int
		want    string
	}{
		{"edge-z", "", http.StatusNotFound, `node "edge-z": no credentials were signed for it here`},
		{"edge-a", otherKey, http.StatusNotFound, "was not signed for it"},
		{"edge.*", "", http.StatusBadRequest, "node id"},
	} {
		_, err := pub.Client.RevokeNode(ctx, bad.id, bad.key)
		var ae *fleetclient.APIError
		if !errors.As(err, &ae) || ae.Status != bad.status || !strings.Contains(ae.Message, bad.want) {
			t.Fatalf("revoke %q %q: %v, want a %d saying %q", bad.id, bad.key, err, bad.status, bad.want)
		}
	}
	rev, err := pub.Client.RevokeNode(ctx, "edge-a", oldKey)
	if err != nil || !rev.Pushed || len(rev.Keys) != 2 {
		t.Fatalf("revoke edge-a's old key: %+v %v", rev, err)
	}
	refused(t, url, old, "edge-a's old key")
	mustDial(t, url, current)
	first := rev.Keys[0].Revoked
	again, err := pub.Client.RevokeNode(ctx, "edge-a", "")
	if err != nil || !again.Keys[0].Revoked.Equal(first) || again.Keys[1].Revoked.IsZero() {
		t.Fatalf("revoke all of edge-a after its old key: %+v %v", again, err)
	}
	refused(t, url, current, "edge-a's current key, revoked with the node")
	mustDial(t, url, other)
}

// Credentials signed with an expiry are refused once it passes: the open
// connection is closed and a new one refused.
func TestExpiredNodeCredsAreRefused(t *testing.T) {
	url, auth := fleettest.StartAuthNATS(t)
	// 3 s: a JWT's exp counts whole seconds, so at least 2 s to connect.
	creds := fleettest.ExpiringNodeCreds(t, auth, "edge-a", 3*time.Second)
	claims := credsClaims(t, creds)
	if left := time.Until(time.Unix(claims.Expires, 0)); left <= time.Second || left > 3*time.Second {
		t.Fatalf("exp %d is %s away, want 3 s", claims.Expires, left)
	}
	closedWith(t, mustDial(t, url, creds), nats.ErrAuthExpired)
	// The server checks exp in whole seconds at connect: refused within
	// one.
	testkit.Eventually(t, 5*time.Second, "expired credentials refused", func() (bool, string) {
		nc, err := dial(url, creds, nil)
		if err == nil {
			nc.Close()
			return false, "connected"
		}
		return errors.Is(err, nats.ErrAuthorization), err.Error()
	})
	mustDial(t, url, fleettest.NodeCreds(t, auth, "edge-a"))
}

// The API carries the expiry as a duration and refuses one it cannot read
// or that is out of bounds.
func TestNodeCredsExpiryThroughTheAPI(t *testing.T) {
	url, auth := fleettest.StartAuthNATS(t)
	pub := fleettest.StartSigningPublisher(t, url, auth)
	ctx := context.Background()
	key := func() string {
		t.Helper()
		return credsClaims(t, fleettest.NodeCreds(t, auth, "scratch")).Subject
	}
	for _, bad := range []struct{ expires, want string }{
		{`"soon"`, "not a duration (720h, 90m)"},
		{`"-1h"`, "expires -1h0m0s: between 1s and 87600h0m0s"},
		{`"500ms"`, "between 1s and"},
		{`"100000h"`, "between 1s and"},
		{`"0s"`, "say nothing for credentials that never expire"},
		{`720`, "request body"},
	} {
		body := `{"public_key": "` + key() + `", "expires": ` + bad.expires + `}`
		req, _ := http.NewRequest("POST", pub.URL+"/v1/nodes/edge-a/creds", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+pub.Identity().Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg := new(strings.Builder)
		_, _ = io.Copy(msg, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(msg.String(), bad.want) {
			t.Fatalf("expires %s: %d %s, want a 400 saying %q", bad.expires, resp.StatusCode, msg, bad.want)
		}
	}
	if keys := auth.NodeKeys("edge-a"); len(keys) != 0 {
		t.Fatalf("refused requests recorded keys: %+v", keys)
	}
	userKey := key()
	before := time.Now()
	signed, err := pub.Client.NodeCreds(ctx, "edge-a", userKey, nil, 720*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := jwt.DecodeUserClaims(signed.JWT)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Unix(claims.Expires, 0)
	if exp.Before(before.Add(720*time.Hour).Truncate(time.Second)) || exp.After(time.Now().Add(720*time.Hour)) {
		t.Fatalf("exp %s, want 720h after %s", exp, before)
	}
	keys := auth.NodeKeys("edge-a")
	if len(keys) != 1 || keys[0].Key != userKey || !keys[0].Expires.Equal(exp) {
		t.Fatalf("the ledger after a 720h credential: %+v", keys)
	}
	page, err := pub.Client.History(ctx, 0, 1)
	if err != nil || len(page.Entries) != 1 || !strings.Contains(page.Entries[0].Detail, "expires in 720h0m0s") {
		t.Fatalf("history: %+v %v", page, err)
	}
}

// A revocation made while the publisher cannot reach NATS is kept and
// said not pushed; the server started from the data dir refuses the node.
func TestRevokeWithoutServersIsKeptAndSaidNotPushed(t *testing.T) {
	dir := t.TempDir()
	ns, auth := fleettest.StartAuthNATSIn(t, dir)
	pub := fleettest.StartSigningPublisher(t, ns.ClientURL(), auth)
	lost := fleettest.NodeCreds(t, auth, "edge-a")
	ns.Shutdown()
	ns.WaitForShutdown()

	rev, err := pub.Client.RevokeNode(context.Background(), "edge-a", "")
	if err != nil {
		t.Fatal(err)
	}
	if rev.Pushed || !strings.Contains(rev.PushError, "not connected") || len(rev.Keys) != 1 || rev.Keys[0].Revoked.IsZero() {
		t.Fatalf("revocation with the server down: %+v", rev)
	}
	ns2, _ := fleettest.StartAuthNATSIn(t, dir)
	refused(t, ns2.ClientURL(), lost, "edge-a's credentials revoked while the server was down")
}
