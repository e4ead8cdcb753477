package main

import (
	"context"
	"fmt"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"

	"github.com/sluicegw/sluice/runtime/discovery"
	"github.com/sluicegw/sluice/runtime/edge"
	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleetnode"
)

// natsCreds is the connect option for a --nats-creds file, none for "".
func natsCreds(path string) ([]nats.Option, error) {
	if path == "" {
		return nil, nil
	}
	opt, err := fleet.CredsOption(path)
	if err != nil {
		return nil, fmt.Errorf("--nats-creds: %w", err)
	}
	return []nats.Option{opt}, nil
}

// serveFromFleet runs node on the snapshots the fleet publishes: boot from
// the last good snapshot on disk (if any), open the listeners, follow NATS
// (reconnecting forever) and drain on SIGTERM or SIGINT.
func serveFromFleet(ctx context.Context, node *edge.Node, nc *nats.Conn, log *slog.Logger, nodeID string, labels map[string]string, disc *discovery.Discovery, f edgeFlags) error {
	trust, err := fleet.LoadPublicKey(f.trust)
	if err != nil {
		return fmt.Errorf("--trust: %w", err)
	}
	sub, err := fleetnode.New(fleetnode.Options{
		Conn: nc, NATSURL: f.nats, Node: node, NodeID: nodeID, Labels: labels, Trust: trust, DataDir: f.data, Logger: log, Discovery: disc,
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	booted, err := sub.Boot(ctx)
	if err != nil {
		// A node without a usable snapshot on disk still joins the fleet
		// and gets the current one; it answers 503 until then.
		log.Error("last good snapshot not used", "error", err)
	}
	ls, err := listen(f.listen, f.admin, f.tls.config)
	if err != nil {
		return err
	}
	subCtx, stopSub := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = sub.Run(subCtx) }()
	log.Info("edge node serving", "node", nodeID, "listen", ls.Data.Addr().String(), "nats", f.nats, "booted_from_disk", booted)
	f.tls.manage(ctx, log)
	err = node.Run(ctx, ls)
	stopSub()
	<-done
	return err
}
