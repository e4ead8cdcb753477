package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluicegw/sluice/runtime/discovery"
	"github.com/sluicegw/sluice/runtime/fleet"
)

func newAnnounceCmd() *cobra.Command {
	var natsURL, credsFile string
	cmd := &cobra.Command{
		Use:   "announce SERVICE URL",
		Short: "Keep one instance of SERVICE announced at URL for `discovery: nats` upstreams, until stopped",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			service, instance := args[0], args[1]
			if _, err := discovery.InstanceKey(service, instance); err != nil {
				return fmt.Errorf("announce: %w", err)
			}
			if u, err := url.Parse(instance); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return errors.New("announce: URL must be http(s)://host[:port]")
			}
			if natsURL == "" {
				natsURL = os.Getenv("NATS_URL")
			}
			if natsURL == "" {
				natsURL = "nats://" + fleet.DefaultNATSListen
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			creds, err := natsCreds(credsFile)
			if err != nil {
				return fmt.Errorf("announce: %w", err)
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, nil))
			fmt.Fprintf(cmd.OutOrStdout(), "announcing %s at %s on %s until stopped\n", service, instance, natsURL)
			if err := discovery.Announce(ctx, natsURL, service, instance, fleet.AnnounceInterval, log, creds...); err != nil {
				return fmt.Errorf("announce: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&natsURL, "nats", "", "NATS URL (default $NATS_URL, then nats://"+fleet.DefaultNATSListen+")")
	cmd.Flags().StringVar(&credsFile, "nats-creds", "", "NATS credentials file (sluice node-creds ID --announce SERVICE writes it)")
	return cmd
}
