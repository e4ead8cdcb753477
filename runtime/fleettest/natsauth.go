package fleettest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/sluicegw/sluice/runtime/fleet"
)

// StartAuthNATS runs a real embedded NATS server that admits only users
// signed by the account of a fresh data dir.
func StartAuthNATS(t testing.TB) (string, *fleet.NATSAuth) {
	t.Helper()
	auth, err := fleet.LoadOrCreateNATSAuth(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ns, err := fleet.StartEmbeddedNATS("127.0.0.1:-1", t.TempDir(), auth)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns.ClientURL(), auth
}

// NodeCreds writes node id's credentials, as `sluice node-creds` does,
// and returns the file's path.
func NodeCreds(t testing.TB, auth *fleet.NATSAuth, id string, announce ...string) string {
	t.Helper()
	data, err := auth.NodeCreds(id, announce, 0)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), id+".creds")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// CredsOption is the NATS option for a credentials file.
func CredsOption(t testing.TB, path string) nats.Option {
	t.Helper()
	opt, err := fleet.CredsOption(path)
	if err != nil {
		t.Fatal(err)
	}
	return opt
}
