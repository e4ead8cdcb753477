package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluicegw/sluice/runtime/discovery"
	"github.com/sluicegw/sluice/runtime/edge"
	"github.com/sluicegw/sluice/runtime/fleet"
)

type edgeFlags struct {
	config, nats, node, labels string
	listen                     string
	tls                        tlsFlags
	admin, data, trust         string
	engine                     string
	natsCreds                  string
}

func newEdgeCmd() *cobra.Command {
	var f edgeFlags
	cmd := &cobra.Command{
		Use:   "edge (--config FILE | --nats URL)",
		Short: "Run an edge node (the data plane)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEdge(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "serve from this YAML config file (standalone node)")
	fl.StringVar(&f.nats, "nats", "", "take config from the fleet over NATS at this URL")
	fl.StringVar(&f.node, "node", "", "node id (default: the host name)")
	fl.StringVar(&f.labels, "labels", "", "node labels, k=v,k=v (for canary selectors)")
	fl.StringVar(&f.listen, "listen", ":8080", "data listener address")
	f.tls.register(cmd)
	fl.StringVar(&f.admin, "admin", "", "admin listener address (/healthz, /readyz, /config, /metrics); empty: off")
	fl.StringVar(&f.data, "data", ".sluice", "data directory")
	fl.StringVar(&f.trust, "trust", "", "publisher public key file for snapshot signatures")
	fl.StringVar(&f.natsCreds, "nats-creds", "", "NATS credentials file for this node (sluice node-creds NODE-ID writes it; the node ID comes from it)")
	fl.StringVar(&f.engine, "http1-engine", string(edge.EngineFast), "what serves HTTP/1.1: fasthttp or net/http (HTTP/2 is always net/http)")
	return cmd
}

func runEdge(ctx context.Context, f edgeFlags) error {
	switch {
	case f.config == "" && f.nats == "":
		return errors.New("edge: one of --config FILE or --nats URL is required")
	case f.config != "" && f.nats != "":
		return errors.New("edge: --config and --nats cannot be used together")
	case f.nats != "" && f.trust == "":
		return errors.New("edge: --nats needs --trust PUBKEYFILE (the publisher's signing.pub): unsigned snapshots are never applied")
	}
	if err := f.tls.check(); err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	labels, err := parseLabels(f.labels)
	if err != nil {
		return err
	}
	engine, err := edge.ParseEngine(f.engine)
	if err != nil {
		return fmt.Errorf("edge: --http1-engine: %w", err)
	}
	nodeID, err := edgeNodeID(f.node, f.natsCreds)
	if err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := f.tls.load(ctx, log, f.listen, f.data); err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	tuneRuntime()
	access, accessBuf := newAccessLog()
	defer accessBuf.Close()
	opts := edge.Options{NodeID: nodeID, DataDir: f.data, Logger: log, AccessLog: access, Engine: engine}
	if f.nats != "" {
		// One connection for the node: snapshots, status, discovery.
		creds, err := natsCreds(f.natsCreds)
		if err != nil {
			return fmt.Errorf("edge: %w", err)
		}
		nc, err := fleet.Connect(f.nats, "sluice-edge "+nodeID, creds...)
		if err != nil {
			return fmt.Errorf("edge: %w", err)
		}
		defer nc.Close()
		opts.NATS = nc // fleet-scope rate limits and cache purges ride on it too
		disc := discovery.New(log)
		opts.PrepareSnapshot = disc.Prepare
		node := edge.NewNode(opts)
		if err := serveFromFleet(ctx, node, nc, log, nodeID, labels, disc, f); err != nil {
			return fmt.Errorf("edge: %w", err)
		}
		return nil
	}
	node := edge.NewNode(opts)

	err = serveFromFile(ctx, node, log, f.config,
		func() (edge.Listeners, error) { return listen(f.listen, f.admin, f.tls.config) },
		func(ls edge.Listeners) {
			log.Info("edge node serving", "node", nodeID, "listen", ls.Data.Addr().String(), "tls", ls.TLS != nil, "config", f.config)
			f.tls.manage(ctx, log)
		})
	if err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	return nil
}

// listen opens the node's listeners up front, so a port in use is reported
// before anything is served.
func listen(data, admin string, tlsConfig *tls.Config) (edge.Listeners, error) {
	ls := edge.Listeners{TLS: tlsConfig}
	var err error
	if ls.Data, err = net.Listen("tcp", data); err != nil {
		return ls, fmt.Errorf("--listen: %w", err)
	}
	if admin != "" {
		if ls.Admin, err = net.Listen("tcp", admin); err != nil {
			ls.Data.Close()
			return ls, fmt.Errorf("--admin: %w", err)
		}
	}
	return ls, nil
}

func parseLabels(s string) (map[string]string, error) {
	labels := map[string]string{}
	if s == "" {
		return labels, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--labels: %q is not k=v", kv)
		}
		labels[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return labels, nil
}

// edgeNodeID is the node's ID: --node, else the name in its NATS
// credentials (sluice node-creds), else the host name. --node and the
// credentials must agree: the credentials let the node write only its own
// status key, so another ID would leave it unable to report.
func edgeNodeID(flag, credsFile string) (string, error) {
	var named string
	if credsFile != "" {
		var err error
		if named, err = fleet.CredsName(credsFile); err != nil {
			return "", fmt.Errorf("--nats-creds: %w", err)
		}
	}
	switch {
	case flag != "" && named != "" && flag != named:
		return "", fmt.Errorf("--node %s, but --nats-creds %s are node %s's", flag, credsFile, named)
	case flag != "":
		return flag, nil
	case named != "":
		return named, nil
	}
	host, _ := os.Hostname()
	return host, nil
}
