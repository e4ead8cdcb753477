package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// The embedded NATS a publisher runs admits only its users: a node or an
// announcer without credentials is refused at start with the server's reason.
func TestEmbeddedNATSRefusesCommandsWithoutCredentials(t *testing.T) {
	data := t.TempDir()
	api, natsAddr := freeAddr(t), freeAddr(t)
	startProcess(t, "publisher", "--embedded-nats", "--nats-listen", natsAddr, "--listen", api, "--data", data)
	waitHTTP(t, "http://"+api+"/ui")
	trust := filepath.Join(data, "signing.pub")
	env := []string{"SLUICE_PUBLISHER=http://" + api, "SLUICE_TOKEN="}
	nodeA := nodeCreds(t, env, data, "edge-a")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"edge", "--nats", "nats://" + natsAddr, "--trust", trust, "--listen", freeAddr(t), "--data", t.TempDir()},
			"sluice: edge: nats nats://" + natsAddr + ": nats: Authorization Violation"},
		{[]string{"edge", "--nats", "nats://" + natsAddr, "--trust", trust, "--nats-creds", filepath.Join(data, "nope.creds"), "--listen", freeAddr(t), "--data", t.TempDir()},
			"sluice: edge: --nats-creds: NATS credentials " + filepath.Join(data, "nope.creds")},
		{[]string{"edge", "--nats", "nats://" + natsAddr, "--trust", trust, "--nats-creds", trust, "--listen", freeAddr(t), "--data", t.TempDir()},
			"sluice: edge: --nats-creds: NATS credentials " + trust},
		{[]string{"edge", "--nats", "nats://" + natsAddr, "--trust", trust, "--nats-creds", nodeA, "--node", "edge-b", "--listen", freeAddr(t), "--data", t.TempDir()},
			"sluice: edge: --node edge-b, but --nats-creds " + nodeA + " are node edge-a's"},
		{[]string{"announce", "svc", "http://127.0.0.1:1", "--nats", "nats://" + natsAddr},
			"sluice: announce: nats nats://" + natsAddr + ": nats: Authorization Violation"},
		{[]string{"publisher", "--nats", "nats://" + natsAddr, "--listen", freeAddr(t), "--data", t.TempDir()},
			"sluice: publisher: nats nats://" + natsAddr + ": nats: Authorization Violation"},
		{[]string{"publisher", "--nats", "nats://" + natsAddr, "--nats-creds", nodeA, "--listen", freeAddr(t), "--data", t.TempDir()},
			"sluice: publisher: "}, // and the server's reason, below

	} {
		out, code := sluiceRun(t, nil, tc.args...)
		if tc.args[0] == "publisher" && strings.Contains(strings.Join(tc.args, " "), nodeA) && !strings.Contains(out, "Permissions Violation for Publish to") {
			t.Errorf("a publisher with a node's credentials: the reason lacks the denied subject:\n%s", out)
		}
		if code != 1 || !strings.HasPrefix(out, tc.want) && !strings.Contains(out, "\n"+tc.want) {
			t.Errorf("%v: exit %d, want 1 and %q:\n%s", tc.args, code, tc.want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "nats-auth.conf")); err != nil {
		t.Errorf("the publisher wrote no nats-auth.conf: %v", err)
	}
}

// A node's credentials expire when asked and are revoked by node ID: the
// revoked node cannot start against the embedded server, before and after
// the publisher restarts, while another node's credentials still work.
func TestNodeCredsRevokeThroughTheCLI(t *testing.T) {
	data := t.TempDir()
	api, natsAddr := freeAddr(t), freeAddr(t)
	pubArgs := []string{"publisher", "--embedded-nats", "--nats-listen", natsAddr, "--listen", api, "--data", data}
	pub := startProcess(t, pubArgs...)
	waitHTTP(t, "http://"+api+"/ui")
	trust := filepath.Join(data, "signing.pub")
	env := []string{"SLUICE_PUBLISHER=http://" + api, "SLUICE_TOKEN="}

	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"node-creds", "edge-a", "--expires", "-1h", "--data", data}, "sluice: node-creds: --expires -1h0m0s: between 1s and 87600h0m0s"},
		{[]string{"node-creds", "edge-a", "--expires", "soon", "--data", data}, `invalid argument "soon" for "--expires"`},
		{[]string{"node-creds", "revoke", "edge-z", "--data", data}, `sluice: node-creds revoke: node "edge-z": no credentials were signed for it here`},
		{[]string{"node-creds", "revoke", "edge-a", "--key", "nope", "--data", data}, `sluice: node-creds revoke: --key "nope": not a NATS user public key`},
		{[]string{"node-creds", "revoke", "--data", data}, "sluice: node-creds revoke: one NODE-ID is required"},
	} {
		if out, code := sluiceRun(t, env, bad.args...); code != 1 || !strings.Contains(out, bad.want) {
			t.Errorf("%v: exit %d, want 1 and %q:\n%s", bad.args, code, bad.want, out)
		}
	}
	lost := nodeCreds(t, env, data, "edge-a", "--expires", "720h")
	kept := nodeCreds(t, env, data, "edge-b")
	lostFile, err := os.ReadFile(lost)
	if err != nil {
		t.Fatal(err)
	}
	token, err := jwt.ParseDecoratedJWT(lostFile)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := jwt.DecodeUserClaims(token)
	if err != nil || claims.Expires == 0 || time.Until(time.Unix(claims.Expires, 0)) < 719*time.Hour {
		t.Fatalf("edge-a's credentials with --expires 720h: %+v %v", claims, err)
	}
	out, code := sluiceRun(t, env, "node-creds", "revoke", "edge-a", "--data", data)
	if code != 0 || !strings.Contains(out, claims.Subject+"\trevoked ") || strings.Contains(out, "warning") {
		t.Fatalf("node-creds revoke edge-a: exit %d\n%s", code, out)
	}
	edge := func(creds string) []string {
		return []string{"edge", "--nats", "nats://" + natsAddr, "--trust", trust, "--nats-creds", creds, "--listen", freeAddr(t), "--data", t.TempDir()}
	}
	refused := "nats: Authorization Violation"
	if out, code := sluiceRun(t, nil, edge(lost)...); code != 1 || !strings.Contains(out, refused) {
		t.Fatalf("edge with revoked credentials: exit %d, want 1 and %q:\n%s", code, refused, out)
	}
	startProcess(t, edge(kept)...)
	inStatus := func(what string) {
		t.Helper()
		testkit.Eventually(t, 20*time.Second, what, func() (bool, string) {
			out, code := sluiceRun(t, env, "status", "--data", data)
			return code == 0 && strings.Contains(out, "edge-b"), out
		})
	}
	inStatus("edge-b, not revoked, in status")

	// The publisher restarts on the same data dir: the revocation holds.
	pub.Process.Signal(syscall.SIGTERM)
	pub.Wait()
	startProcess(t, pubArgs...)
	waitHTTP(t, "http://"+api+"/ui")
	if out, code := sluiceRun(t, nil, edge(lost)...); code != 1 || !strings.Contains(out, refused) {
		t.Fatalf("edge with revoked credentials after the publisher's restart: exit %d, want 1 and %q:\n%s", code, refused, out)
	}
	// The node status bucket is in memory: edge-b shows again once it
	// has reconnected to the new server.
	inStatus("edge-b back in status after the publisher's restart")
}
