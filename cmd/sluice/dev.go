package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sluicegw/sluice/runtime/demo"
	"github.com/sluicegw/sluice/runtime/edge"
)

func newDevCmd() *cobra.Command {
	var listenAddr, adminAddr, data, filters, policies string
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything on a laptop: demo services and an edge node with the example config",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDev(cmd.Context(), cmd.OutOrStdout(), listenAddr, adminAddr, data, filters, policies)
		},
	}
	cmd.Flags().StringVar(&listenAddr, "listen", ":8080", "gateway listener address")
	cmd.Flags().StringVar(&adminAddr, "admin", ":9901", "admin listener address")
	cmd.Flags().StringVar(&data, "data", ".sluice", "data directory")
	cmd.Flags().StringVar(&filters, "filters", "filters", "directory of the built example filters (make run builds them)")
	cmd.Flags().StringVar(&policies, "policies", "policies", "directory of the example Rego policies")
	return cmd
}

func runDev(ctx context.Context, out io.Writer, listenAddr, adminAddr, data, filters, policies string) error {
	filtersDir, err := filepath.Abs(filters)
	if err != nil {
		return fmt.Errorf("dev: --filters: %w", err)
	}
	if _, err := os.Stat(filepath.Join(filtersDir, "hello.wasm")); err != nil {
		return fmt.Errorf("dev: the example filters are not built in %s: run `make run` from the repository (it builds them), or pass --filters DIR", filtersDir)
	}
	policiesDir, err := filepath.Abs(policies)
	if err != nil {
		return fmt.Errorf("dev: --policies: %w", err)
	}
	if _, err := os.Stat(filepath.Join(policiesDir, "rbac")); err != nil {
		return fmt.Errorf("dev: the example policies are not in %s: run `make run` from the repository, or pass --policies DIR", policiesDir)
	}
	cfg, err := demo.Config(filtersDir, policiesDir)
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
	if err := os.MkdirAll(data, 0o755); err != nil {
		return fmt.Errorf("dev: data dir: %w", err)
	}
	cfgPath := filepath.Join(data, "sluice.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return fmt.Errorf("dev: write example config: %w", err)
	}

	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tuneRuntime()
	access, accessBuf := newAccessLog()
	defer accessBuf.Close()
	node := edge.NewNode(edge.Options{NodeID: "dev", DataDir: data, Logger: log, AccessLog: access})
	err = serveFromFile(ctx, node, log, cfgPath,
		func() (edge.Listeners, error) { return listen(listenAddr, adminAddr, "", "") },
		func(ls edge.Listeners) { printDevBanner(out, ls, cfgPath) })
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	return nil
}

func printDevBanner(out io.Writer, ls edge.Listeners, cfgPath string) {
	gw := "http://" + loopbackAddr(ls.Data.Addr())
	admin := "http://" + loopbackAddr(ls.Admin.Addr())
	fmt.Fprintf(out, `Sluice dev is running.

  gateway   %[1]s
  admin     %[2]s   (/healthz /readyz /config /metrics, POST /cache/purge?route=NAME[&key=PATH])
  services  users %[3]s, billing %[4]s, auth %[5]s
  config    %[6]s   (edit and save: the node reloads it)

Try:
  curl -s %[1]s/hello?name=you           # serverless: a wasm filter answers, no upstream
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

Users: alice (admin), bob (viewer), carol (editor), dave (no roles). API key: demo-key.
Stop with Ctrl-C.
`, gw, admin, demo.Addrs["users"], demo.Addrs["billing"], demo.Addrs["auth"], cfgPath)
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
