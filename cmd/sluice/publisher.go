package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/publisher"
)

type publisherFlags struct {
	nats, natsListen, listen, data string
	natsCreds                      string
	embedded                       bool
	replicas                       int
}

func newPublisherCmd() *cobra.Command {
	var f publisherFlags
	cmd := &cobra.Command{
		Use:   "publisher (--nats URL | --embedded-nats)",
		Short: "Run the control plane: validate, sign and publish snapshots; run rollouts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
			p, err := startPublisher(ctx, f, log)
			if err != nil {
				return fmt.Errorf("publisher: %w", err)
			}
			defer p.Close()
			log.Info("publisher serving", "api", p.URL, "ui", p.URL+"/ui", "nats", p.NATSURL,
				"token", filepath.Join(f.data, fleet.TokenFile), "trust", filepath.Join(f.data, fleet.SigningPubFile))
			fmt.Fprintf(cmd.OutOrStdout(), "publisher on %s (fleet page %s/ui), NATS %s\nedge nodes trust %s\n",
				p.URL, p.URL, p.NATSURL, filepath.Join(f.data, fleet.SigningPubFile))
			fmt.Fprintf(cmd.OutOrStdout(), "each edge node connects with its own credentials: sluice node-creds NODE-ID, then sluice edge --nats-creds NODE-ID.creds\n")
			<-ctx.Done()
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.nats, "nats", "", "NATS URL of an existing cluster (JetStream enabled)")
	fl.BoolVar(&f.embedded, "embedded-nats", false, "run an embedded NATS server, JetStream stored in --data")
	fl.StringVar(&f.natsCreds, "nats-creds", "", "NATS credentials file for --nats (with the cluster configured from --data's nats-auth.conf: --data's publisher.creds)")
	fl.StringVar(&f.natsListen, "nats-listen", fleet.DefaultNATSListen, "embedded NATS listen address")
	fl.StringVar(&f.listen, "listen", ":9900", "API listen address")
	fl.StringVar(&f.data, "data", ".sluice", "data directory: token, signing keys, artifact cache, embedded JetStream")
	fl.IntVar(&f.replicas, "replicas", 0, "servers of a NATS cluster that keep each bucket (3 for a three-server cluster); 0 keeps what the buckets have, 1 for new ones")
	return cmd
}

// runningPublisher is a publisher with its API listener (and NATS server,
// when embedded) up.
type runningPublisher struct {
	*publisher.Publisher
	URL, NATSURL string
	// Auth is the NATS operator and account in the data dir: it signs the
	// nodes' credentials; an embedded server trusts it.
	Auth  *fleet.NATSAuth
	close []func()
}

// Close stops the API, the canary watch, the NATS connection and the
// embedded server, in that order.
func (r *runningPublisher) Close() {
	for i := len(r.close) - 1; i >= 0; i-- {
		r.close[i]()
	}
}

func startPublisher(ctx context.Context, f publisherFlags, log *slog.Logger) (_ *runningPublisher, err error) {
	if f.embedded == (f.nats != "") {
		return nil, errors.New("one of --nats URL or --embedded-nats is required")
	}
	if f.replicas < 0 || f.replicas > 5 {
		return nil, fmt.Errorf("--replicas %d: JetStream keeps 1 to 5 copies", f.replicas)
	}
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	if f.embedded && f.natsCreds != "" {
		return nil, errors.New("--nats-creds is for --nats: the embedded server uses the credentials in --data")
	}
	r := &runningPublisher{NATSURL: f.nats}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	// The NATS operator and account: created in --data at the first
	// start, trusted by the embedded server; nats-auth.conf configures an
	// external one.
	auth, err := fleet.LoadOrCreateNATSAuth(f.data)
	if err != nil {
		return nil, fmt.Errorf("NATS credentials: %w", err)
	}
	r.Auth = auth
	credsFile := f.natsCreds
	if f.embedded {
		ns, err := fleet.StartEmbeddedNATS(f.natsListen, filepath.Join(f.data, "jetstream"), auth)
		if err != nil {
			return nil, err
		}
		r.close = append(r.close, func() { ns.Shutdown(); ns.WaitForShutdown() })
		r.NATSURL = clientURL(ns)
		credsFile = auth.PublisherFile
	}
	opts := []nats.Option{nats.Name("sluice-publisher"), nats.MaxReconnects(-1)}
	if credsFile != "" {
		opt, err := fleet.CredsOption(credsFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, opt)
	}
	nc, err := nats.Connect(r.NATSURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", r.NATSURL, err)
	}
	r.close = append(r.close, nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	openCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := publisher.New(openCtx, publisher.Options{DataDir: f.data, JS: js, Logger: log, Replicas: f.replicas, NATSAuth: auth})
	if err != nil {
		// A request the server denied only times out; its reason comes
		// apart, as the connection's last error.
		if last := nc.LastError(); errors.Is(last, nats.ErrPermissionViolation) {
			return nil, fmt.Errorf("%w (%v: are --nats-creds the publisher's?)", err, last)
		}
		return nil, err
	}
	r.Publisher = p
	r.close = append(r.close, p.Close)

	watchCtx, stopWatch := context.WithCancel(context.Background())
	watched := make(chan struct{})
	// The canary watch starts over after a reconnect, as a node's session
	// does (RATIONALE.md): it replays every status, so an error reported
	// meanwhile still aborts the canary.
	go func() {
		defer close(watched)
		for watchCtx.Err() == nil {
			wctx, cancel := fleet.UntilReconnect(watchCtx, nc)
			err := p.WatchCanary(wctx)
			cancel()
			if err != nil && !errors.Is(context.Cause(wctx), fleet.ErrReconnected) {
				log.Warn("canary watch failed; retrying", "error", err)
				select {
				case <-watchCtx.Done():
				case <-time.After(time.Second):
				}
			}
		}
	}()
	r.close = append(r.close, func() { stopWatch(); <-watched })
	// Gated canaries (apply --bake) are promoted or aborted by the
	// publisher; it polls, so a reconnect needs nothing of it.
	gateCtx, stopGates := context.WithCancel(context.Background())
	gated := make(chan struct{})
	go func() { defer close(gated); p.RunGates(gateCtx) }()
	r.close = append(r.close, func() { stopGates(); <-gated })

	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return nil, fmt.Errorf("--listen: %w", err)
	}
	srv := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	r.close = append(r.close, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	r.URL = "http://" + loopbackAddr(ln.Addr())
	return r, nil
}

// clientURL is the embedded server's URL, on loopback when it listens on
// every interface.
func clientURL(ns *server.Server) string {
	if a, ok := ns.Addr().(*net.TCPAddr); ok {
		return "nats://" + loopbackAddr(a)
	}
	return ns.ClientURL()
}
