package fleettest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/sluicegw/sluice/runtime/fleet"
)

// StartAuthNATS runs a real embedded NATS server that admits only users
// signed by the account of a fresh data dir.
func StartAuthNATS(t testing.TB) (string, *fleet.NATSAuth) {
	t.Helper()
	ns, auth := StartAuthNATSIn(t, t.TempDir())
	return ns.ClientURL(), auth
}

// StartAuthNATSIn is StartAuthNATS with the operator and accounts of the
// data dir dir, loaded (or created) as a publisher's start does: a test
// starts it again on the same dir to see what survives a restart. Stop it
// early with Shutdown then WaitForShutdown.
func StartAuthNATSIn(t testing.TB, dir string) (*server.Server, *fleet.NATSAuth) {
	t.Helper()
	auth, err := fleet.LoadOrCreateNATSAuth(dir)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := fleet.StartEmbeddedNATS("127.0.0.1:-1", t.TempDir(), auth)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns, auth
}

// NodeCreds writes node id's credentials, as `sluice node-creds` does,
// and returns the file's path.
func NodeCreds(t testing.TB, auth *fleet.NATSAuth, id string, announce ...string) string {
	t.Helper()
	return ExpiringNodeCreds(t, auth, id, 0, announce...)
}

// ExpiringNodeCreds is NodeCreds good for expires (`sluice node-creds
// --expires`; 0: never expiring).
func ExpiringNodeCreds(t testing.TB, auth *fleet.NATSAuth, id string, expires time.Duration, announce ...string) string {
	t.Helper()
	data, err := auth.NodeCreds(id, announce, expires)
	if err != nil {
		t.Fatal(err)
	}
	// One file per call: a node may hold a revoked and a fresh one.
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
