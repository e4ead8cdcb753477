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

func newFilterCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "filter new NAME | build DIR | test WASM --request FILE", Short: "Create, build and test WASM filters", Args: cobra.MinimumNArgs(1), RunE: notYet("filter")}
	cmd.Flags().String("request", "", "request file for test")
	return cmd
}
