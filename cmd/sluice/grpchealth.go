package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// newGRPCHealthCmd is a gRPC client in the binary, for seeing gRPC work
// through a gateway without grpcurl or a .proto file: one call of the
// standard health protocol, which every gRPC server can offer (the demo
// one of `sluice dev` does), like grpc_health_probe.
func newGRPCHealthCmd() *cobra.Command {
	var f grpcHealthFlags
	cmd := &cobra.Command{
		Use:   "grpc-health URL",
		Short: "Call grpc.health.v1.Health/Check at URL (http:// is h2c, https:// is TLS) and print the answer; exit 1 unless SERVING",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGRPCHealth(cmd.Context(), cmd.OutOrStdout(), args[0], f)
		},
	}
	cmd.Flags().StringVar(&f.service, "service", "", "service to ask about (empty: the server as a whole)")
	cmd.Flags().StringVar(&f.cacert, "cacert", "", "PEM file of the CA to trust for https:// (default: the system's)")
	cmd.Flags().StringArrayVarP(&f.headers, "header", "H", nil, "metadata to send, 'Name: value' (repeatable)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 5*time.Second, "deadline of the call (sent as grpc-timeout)")
	return cmd
}

type grpcHealthFlags struct {
	service, cacert string
	headers         []string
	timeout         time.Duration
}

func runGRPCHealth(ctx context.Context, out io.Writer, rawURL string, f grpcHealthFlags) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("grpc-health: %q is not a URL like http://127.0.0.1:8080", rawURL)
	}
	var creds credentials.TransportCredentials
	switch u.Scheme {
	case "http":
		creds = insecure.NewCredentials()
	case "https":
		cfg := &tls.Config{ServerName: u.Hostname()}
		if f.cacert != "" {
			pem, err := os.ReadFile(f.cacert)
			if err != nil {
				return fmt.Errorf("grpc-health: --cacert: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return fmt.Errorf("grpc-health: --cacert %s: no PEM certificate", f.cacert)
			}
		}
		creds = credentials.NewTLS(cfg)
	default:
		return fmt.Errorf("grpc-health: %q: want http:// (h2c) or https://", rawURL)
	}
	md := metadata.MD{}
	for _, h := range f.headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("grpc-health: --header %q is not 'Name: value'", h)
		}
		md.Append(strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v))
	}
	cc, err := grpc.NewClient(u.Host, grpc.WithTransportCredentials(creds))
	if err != nil {
		return fmt.Errorf("grpc-health: %w", err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(ctx, md), f.timeout)
	defer cancel()
	start := time.Now()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: f.service})
	if err != nil {
		st := status.Convert(err)
		return fmt.Errorf("grpc-health: %s: %s", st.Code(), st.Message())
	}
	fmt.Fprintf(out, "%s (grpc.health.v1.Health/Check of %q at %s, %s)\n", resp.Status, f.service, rawURL, time.Since(start).Round(time.Millisecond))
	if resp.Status != healthpb.HealthCheckResponse_SERVING {
		return &exitStatus{code: 1}
	}
	return nil
}
