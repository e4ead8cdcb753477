// Command sluice is the one binary of the gateway: edge node, publisher,
// developer environment and the CLI that drives them.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		// The contract: a failing command exits non-zero with a one-line
		// reason. Multi-line detail (every config problem) follows it.
		code := 1
		var es *exitStatus
		if errors.As(err, &es) {
			code, err = es.code, es.err
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "sluice: "+err.Error())
		}
		os.Exit(code)
	}
}

// newRootCmd is the whole command tree; docs/cli.md is rendered from it
// (clidocs_test.go).
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "sluice",
		Short:         "Sluice: a WebAssembly-filter edge API gateway",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newEdgeCmd(),
		newDevCmd(),
		newValidateCmd(),
		newPublisherCmd(),
		newApplyCmd(),
		newRolloutCmd(),
		newRollbackCmd(),
		newStatusCmd(),
		newFilterCmd(),
		newPolicyCmd(),
		newAnnounceCmd(),
		newVersionCmd(),
		newTokenCmd(),
		newNodeCredsCmd(),
		newDiffCmd(),
		newHistoryCmd(),
		newGRPCHealthCmd(),
		newDecisionsCmd(),
	)
	return root
}

// oneArg is the Args of a command taking exactly one argument, named what
// in the error ("node-creds revoke: one NODE-ID is required"); prefix is
// the command's path below sluice.
func oneArg(prefix, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return fmt.Errorf("%s: one %s is required", prefix, what)
		}
		return nil
	}
}

// needSubcommand is the RunE of a command that only groups subcommands: a
// missing or unknown one is a failure (exit 1 with a reason), not help and 0.
func needSubcommand(want string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("%s: a subcommand is required (%s)", cmd.Name(), want)
		}
		return fmt.Errorf("%s: unknown subcommand %q (want %s)", cmd.Name(), args[0], want)
	}
}
