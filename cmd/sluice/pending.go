package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// These commands are part of the CLI contract (DESIGN.md) and keep their
// flags, but what they drive is not built yet. They fail clearly instead of
// pretending.
func notYet(what string) func(*cobra.Command, []string) error {
	return func(*cobra.Command, []string) error {
		return fmt.Errorf("%s is not available in this build yet", what)
	}
}

func newPublisherCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "publisher (--nats URL | --embedded-nats)", Short: "Run the control plane", Args: cobra.NoArgs, RunE: notYet("publisher")}
	cmd.Flags().String("nats", "", "external NATS URL")
	cmd.Flags().Bool("embedded-nats", false, "run an embedded NATS server")
	cmd.Flags().String("nats-listen", "", "embedded NATS listen address")
	cmd.Flags().String("listen", ":9900", "API listen address")
	cmd.Flags().String("data", ".sluice", "data directory")
	return cmd
}

func newApplyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "apply -f FILE", Short: "Validate, sign and publish a config", Args: cobra.NoArgs, RunE: notYet("apply")}
	cmd.Flags().StringP("file", "f", "", "config file")
	cmd.Flags().String("publisher", "", "publisher URL")
	cmd.Flags().String("canary", "", "canary selector")
	cmd.Flags().Bool("wait", false, "wait for the fleet")
	return cmd
}

func newRolloutCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "rollout promote|abort", Short: "Promote or abort a canary", Args: cobra.ExactArgs(1), RunE: notYet("rollout")}
	cmd.Flags().String("publisher", "", "publisher URL")
	return cmd
}

func newRollbackCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "rollback [REVISION]", Short: "Republish an earlier revision", Args: cobra.MaximumNArgs(1), RunE: notYet("rollback")}
	cmd.Flags().String("publisher", "", "publisher URL")
	return cmd
}

func newStatusCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "status", Short: "Show the fleet", Args: cobra.NoArgs, RunE: notYet("status")}
	cmd.Flags().Bool("json", false, "print JSON")
	cmd.Flags().String("publisher", "", "publisher URL")
	return cmd
}

func newAnnounceCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "announce SERVICE URL", Short: "Announce a service instance for discovery", Args: cobra.ExactArgs(2), RunE: notYet("announce")}
	cmd.Flags().String("nats", "", "NATS URL")
	return cmd
}
