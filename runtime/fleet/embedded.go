package fleet

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultNATSListen is where an embedded NATS server listens unless told.
const DefaultNATSListen = "127.0.0.1:4222"

// StartEmbeddedNATS runs a NATS server with JetStream stored on disk in
// storeDir, listening on addr ("host:port"; port 0 or -1 picks a free one).
// With auth, only users whose JWT its account signed may connect, each
// with the permissions in it; with nil, anyone may (tests of what needs no
// auth).
// Shut it down with Shutdown then WaitForShutdown.
func StartEmbeddedNATS(addr, storeDir string, auth *NATSAuth) (*server.Server, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("nats listen %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("nats listen %q: bad port", addr)
	}
	if port == 0 {
		port = -1 // nats-server's "pick a free port"
	}
	if host == "" {
		host = "0.0.0.0"
	}
	opts := &server.Options{
		ServerName: "sluice",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true,
		NoLog:      true,
	}
	if auth != nil {
		if err := auth.Configure(opts); err != nil {
			return nil, fmt.Errorf("nats auth: %w", err)
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("nats: not ready on %s", addr)
	}
	return ns, nil
}
