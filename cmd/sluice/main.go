// Command sluice is the one binary of the gateway: edge node, publisher,
// developer environment and the CLI that drives them.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
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
	)
	if err := root.Execute(); err != nil {
		// The contract: a failing command exits non-zero with a one-line
		// reason. Multi-line detail (every config problem) follows it.
		fmt.Fprintln(os.Stderr, "sluice: "+err.Error())
		os.Exit(1)
	}
}
