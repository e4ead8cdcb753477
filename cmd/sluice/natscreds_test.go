package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
