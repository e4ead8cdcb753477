package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicegw/sluice/runtime/demo"
	"github.com/sluicegw/sluice/runtime/devca"
	"github.com/sluicegw/sluice/runtime/discovery"
	"github.com/sluicegw/sluice/runtime/edge"
	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleetclient"
	"github.com/sluicegw/sluice/runtime/fleetnode"
	"github.com/sluicegw/sluice/runtime/publisher"
)

func newDevCmd() *cobra.Command {
	var f devFlags
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole system on a laptop: embedded NATS, a publisher, one edge node and demo services, with the example config applied",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDev(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	cmd.Flags().StringVar(&f.listen, "listen", ":8080", "gateway listener address")
	cmd.Flags().StringVar(&f.tlsListen, "tls-listen", ":8443", "gateway HTTPS listener address, with a certificate from a local CA in --data (empty: none)")
	cmd.Flags().StringVar(&f.admin, "admin", ":9901", "admin listener address")
	cmd.Flags().StringVar(&f.data, "data", ".sluice", "data directory")
	cmd.Flags().StringVar(&f.filters, "filters", "filters", "directory of the built example filters (make run builds them)")
	cmd.Flags().StringVar(&f.policies, "policies", "policies", "directory of the example Rego policies")
	cmd.Flags().StringVar(&f.publisher, "publisher-listen", "127.0.0.1:9900", "publisher API listen address (where the CLI looks by default)")
	cmd.Flags().StringVar(&f.nats, "nats-listen", fleet.DefaultNATSListen, "embedded NATS listen address (for more edge nodes and announce)")
	cmd.Flags().StringVar(&f.traces, "traces", "", "send a trace of every request to this OTLP/HTTP collector (its base URL, e.g. http://127.0.0.1:4318)")
	return cmd
}

type devFlags struct {
	listen, tlsListen, admin, data, filters, policies, publisher, nats, traces string
}

// devApplyTimeout bounds how long dev waits for its node to run the
// example config (compiling the example filters takes seconds the first
// time, milliseconds from the cache after).
const devApplyTimeout = 2 * time.Minute

func runDev(ctx context.Context, out io.Writer, f devFlags) error {
	filtersDir, err := filepath.Abs(f.filters)
	if err != nil {
		return fmt.Errorf("dev: --filters: %w", err)
	}
	if _, err := os.Stat(filepath.Join(filtersDir, "hello.wasm")); err != nil {
		return fmt.Errorf("dev: the example filters are not built in %s: run `make run` from the repository (it builds them), or pass --filters DIR", filtersDir)
	}
	policiesDir, err := filepath.Abs(f.policies)
	if err != nil {
		return fmt.Errorf("dev: --policies: %w", err)
	}
	if _, err := os.Stat(filepath.Join(policiesDir, "rbac")); err != nil {
		return fmt.Errorf("dev: the example policies are not in %s: run `make run` from the repository, or pass --policies DIR", policiesDir)
	}
	if f.traces != "" {
		if u, err := url.Parse(f.traces); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("dev: --traces %q: want an OTLP/HTTP collector's base URL, like http://127.0.0.1:4318", f.traces)
		}
	}
	cfg, err := demo.Config(demo.Options{Filters: filtersDir, Policies: policiesDir, Traces: f.traces})
	if err != nil {
		return fmt.Errorf("dev: example config: %w", err)
	}
	for _, name := range []string{"users", "billing", "auth"} {
		svc, err := demo.Start(name, demo.Addrs[name])
		if err != nil {
			return fmt.Errorf("dev: %w (is another sluice dev running?)", err)
		}
		defer svc.Close()
	}
	grpcSvc, err := demo.StartGRPC(demo.Addrs["grpc"])
	if err != nil {
		return fmt.Errorf("dev: %w (is another sluice dev running?)", err)
	}
	defer grpcSvc.Close()
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return fmt.Errorf("dev: data dir: %w", err)
	}
	cfgPath := filepath.Join(f.data, "sluice.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return fmt.Errorf("dev: write example config: %w", err)
	}

	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tuneRuntime()
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// The control plane: embedded NATS and a publisher on the data dir.
	pub, err := startPublisher(ctx, publisherFlags{embedded: true, natsListen: f.nats, listen: f.publisher, data: f.data}, log)
	if err != nil {
		return fmt.Errorf("dev: publisher: %w", err)
	}
	defer pub.Close()

	// One edge node following it, exactly as `sluice edge --nats` does.
	ls, err := listen(f.listen, f.admin, nil)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	httpsAddr := ""
	if f.tlsListen != "" {
		tlsLn, err := devTLSListener(f.tlsListen, f.data)
		if err != nil {
			ls.Data.Close()
			return fmt.Errorf("dev: %w", err)
		}
		httpsAddr = tlsLn.Addr().String()
		ls.Data = joinListeners(ls.Data, tlsLn)
	}
	access, accessBuf := newAccessLog()
	defer accessBuf.Close()
	// The node's own NATS identity, minted in this process: its seed is
	// never sent anywhere. Kept across restarts while still valid, so the
	// publisher's key ledger does not grow by a key a start.
	credsFile := filepath.Join(f.data, "dev-node.creds")
	if kept, err := os.ReadFile(credsFile); err != nil || !pub.Auth.StillValidNodeCreds("dev", kept) {
		nodeCreds, err := pub.Auth.NodeCreds("dev", nil, 0)
		if err == nil {
			err = fleet.WriteAtomic(credsFile, nodeCreds)
		}
		if err != nil {
			return fmt.Errorf("dev: node credentials: %w", err)
		}
	}
	creds, err := natsCreds(credsFile)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	nc, err := fleet.Connect(pub.NATSURL, "sluice-edge dev", creds...)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	defer nc.Close()
	disc := discovery.New(log)
	node := edge.NewNode(edge.Options{NodeID: "dev", DataDir: f.data, Logger: log, AccessLog: access, PrepareSnapshot: disc.Prepare, NATS: nc})
	sub, err := fleetnode.New(fleetnode.Options{Conn: nc, NATSURL: pub.NATSURL, Node: node, NodeID: "dev",
		Labels: map[string]string{"env": "dev"}, Trust: pub.Identity().Public, DataDir: f.data, Logger: log, Discovery: disc})
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	subCtx, stopSub := context.WithCancel(ctx)
	subDone := make(chan struct{})
	go func() { defer close(subDone); _ = sub.Run(subCtx) }()
	defer func() { stopSub(); <-subDone }()
	served := make(chan error, 1)
	go func() { served <- node.Run(ctx, ls) }()

	// The example config goes through the publisher like any `sluice apply`.
	client := &fleetclient.Client{URL: pub.URL, Token: pub.Identity().Token, Author: "sluice dev"}
	var applyOut bytes.Buffer
	if err := runApply(ctx, &applyOut, io.Discard, client, cfgPath, publisher.ApplyRequest{}, false); err != nil {
		stop()
		<-served
		return fmt.Errorf("dev: %w", err)
	}
	if err := waitForNode(ctx, sub, devApplyTimeout); err != nil {
		stop()
		<-served
		return fmt.Errorf("dev: %w", err)
	}
	printDevBanner(out, ls, httpsAddr, cfgPath, pub, f.data, filtersDir, f.traces)
	if err := <-served; err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	return nil
}

// waitForNode waits until the node runs the stable revision or refuses it.
func waitForNode(ctx context.Context, sub *fleetnode.Subscriber, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		st := sub.Status()
		switch {
		case st.State == fleet.StateReady && st.Revision > 0:
			return nil
		case st.State == fleet.StateError:
			return fmt.Errorf("the node refused the example config: %s", st.Error)
		case time.Now().After(deadline):
			return fmt.Errorf("the node did not apply the example config within %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func printDevBanner(out io.Writer, ls edge.Listeners, httpsAddr, cfgPath string, pub *runningPublisher, data, filtersDir, traces string) {
	gw := "http://" + loopbackAddr(ls.Data.Addr())
	admin := "http://" + loopbackAddr(ls.Admin.Addr())
	fmt.Fprintf(out, `Sluice dev is running.

  gateway   %[1]s
`, gw)
	if httpsAddr != "" {
		_, port, _ := net.SplitHostPort(httpsAddr)
		fmt.Fprintf(out, "  https     https://localhost:%s   (HTTP/2 and HTTP/1.1; certificate from the local CA %s)\n", port, filepath.Join(data, devca.CertFile))
	}
	fmt.Fprintf(out, `  admin     %[2]s   (/healthz /readyz /config /metrics, POST /cache/purge?route=NAME[&key=PATH])
  services  users %[3]s, billing %[4]s, auth %[5]s, gRPC %[10]s
  publisher %[7]s   (API token in %[9]s/token)
  dashboard %[7]s/ui#token=%[11]s   (the fleet: nodes, revisions, traffic, policy decisions)
  nats      %[8]s   (more nodes: sluice node-creds edge-2 --data %[9]s --publisher %[7]s, then
            sluice edge --nats %[8]s --trust %[9]s/signing.pub --nats-creds edge-2.creds --listen :8081 --data edge-2)
  config    %[6]s   (edit, then: sluice apply -f %[6]s --data %[9]s --publisher %[7]s)
`, gw, admin, demo.Addrs["users"], demo.Addrs["billing"], demo.Addrs["auth"], cfgPath, pub.URL, pub.NATSURL, data, demo.Addrs["grpc"], pub.Identity().Token)
	if traces != "" {
		fmt.Fprintf(out, "  traces    %s   (OTLP/HTTP: a trace of every request)\n", traces)
	} else {
		fmt.Fprintf(out, "  traces    off   (sluice dev --traces http://127.0.0.1:4318 sends them to an OTLP/HTTP collector)\n")
	}
	fmt.Fprintf(out, `
Try:
  curl -s %[1]s/hello?name=you           # serverless: a wasm filter answers, no upstream
`, gw)
	bin := devBinary()
	if httpsAddr != "" {
		_, port, _ := net.SplitHostPort(httpsAddr)
		https, ca := "https://localhost:"+port, filepath.Join(data, devca.CertFile)
		fmt.Fprintf(out, `  curl -s --cacert %[2]s '%[1]s/hello?name=tls' -w ' (HTTP/%%{http_version})\n'   # HTTPS, checked against the local CA
  %[3]s grpc-health %[1]s --cacert %[2]s -H 'X-API-Key: demo-key' --service %[4]s   # gRPC over TLS through the gateway
`, https, ca, bin, demo.GRPCService)
	}
	fmt.Fprintf(out, `  %[3]s grpc-health %[1]s -H 'X-API-Key: demo-key' --service %[4]s   # gRPC (h2c) through auth and a filter: SERVING
  %[3]s grpc-health %[1]s --service %[4]s   # no key: the refusal as a gRPC status, Unauthenticated
  curl -si %[1]s/users | head -1          # 401: the route wants a token (or an API key)
  BOB=$(curl -s '%[1]s/auth/token?user=bob' | grep -o '"token": *"[^"]*"' | cut -d'"' -f4)
  curl -s %[1]s/users/1 -H "Authorization: Bearer $BOB"     # 200: bob is a viewer; email redacted by a filter
  curl -si -X DELETE %[1]s/users/1 -H "Authorization: Bearer $BOB" | head -1   # 403: viewers cannot delete
  curl -si %[1]s/billing/invoices?user=1 -H "Authorization: Bearer $BOB" | head -1   # 403: billing wants billing or admin
  curl -si %[1]s/v1/users | head -12      # an old API version: Deprecation and Sunset headers
  curl -si %[1]s/nope                     # 404 as JSON
  curl -si %[1]s/broken                   # 502: nothing listens behind this route
  curl -s %[2]s/metrics | grep sluice_requests_total
  curl -s -o /dev/null -D - %[1]s/catalog -H 'Accept-Encoding: zstd, gzip' | grep -iE '^(x-cache|content-encoding|ratelimit)'   # MISS, zstd, RateLimit-*
  curl -s -o /dev/null -D - %[1]s/catalog | grep -i '^x-cache'           # HIT: served from the route's cache
  curl -s -X POST '%[2]s/cache/purge?route=catalog'                     # purge the route's cache (or one key: &key=/catalog)
  for i in 1 2 3 4 5 6 7 8 9; do curl -s -o /dev/null -w '%%{http_code} ' %[1]s/catalog; done; echo   # 429 once 10 per minute are used
  curl -s %[1]s/catalog -H 'X-Api-Version: 2' | head -2                 # routed by version header to the v2 service
  curl -s %[1]s/profile/1 -H 'X-API-Key: demo-key'                      # aggregated: user and invoices in one answer
  curl -s -o /dev/null -D - %[1]s/profile/9 -H 'X-API-Key: demo-key' | grep -i '^x-sluice-partial'   # no user 9: null, listed as partial
`, gw, admin, bin, demo.GRPCService)
	// The filters in other languages, each in front of an echo of the
	// request: the header shows on the way in (echoed) and out.
	var skipped []string
	for _, o := range demo.OptionalFilters {
		if !demo.Built(filtersDir, o.Name) {
			skipped = append(skipped, fmt.Sprintf("%s (%s) needs %s", o.Name, o.What, o.Needs))
			continue
		}
		fmt.Fprintf(out, "  curl -si %s%s/invoices/echo | grep -i %s   # %s (filters/%s): the header on the way in and out\n", gw, o.Path, o.Header, o.What, o.Name)
	}
	if len(skipped) > 0 {
		fmt.Fprintf(out, "  (not built, so not routed: %s; make wasm builds them once installed)\n", strings.Join(skipped, ", "))
	}
	fmt.Fprint(out, `
Users: alice (admin), bob (viewer), carol (editor), dave (no roles). API key: demo-key.
Stop with Ctrl-C.
`)
}

// devBinary is how the banner names this binary: as it was started when
// that was a path (bin/sluice from `make run`), else sluice from PATH.
func devBinary() string {
	if strings.Contains(os.Args[0], "/") {
		return os.Args[0]
	}
	return "sluice"
}

// devTLSListener is the dev gateway's HTTPS port, with a certificate for
// localhost from the local CA in data (made there on first use).
func devTLSListener(addr, data string) (net.Listener, error) {
	cert, err := devca.ServerCertificate(data)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--tls-listen: %w", err)
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}), nil
}

// loopbackAddr turns ":8080" into "127.0.0.1:8080" for the printed URLs.
func loopbackAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		if ok {
			return fmt.Sprintf("127.0.0.1:%d", tcp.Port)
		}
	}
	return a.String()
}
