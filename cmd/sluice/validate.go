package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/edge"
	"github.com/sluicegw/sluice/runtime/filter"
)

func newValidateCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "validate -f FILE",
		Short: "Check a config offline with the same checks as the publisher; exit 1 listing every problem",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return errors.New("validate: -f FILE is required")
			}
			cfg, err := config.Load(file)
			if err != nil {
				return problemsError(file, err)
			}
			// Build the snapshot as a node would (without starting it):
			// modules compiled and instantiated, so what validate accepts a
			// node accepts.
			ctx := cmd.Context()
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			env := edge.BuildEnv{Logger: quiet}
			if len(cfg.Filters) > 0 {
				rt, err := filter.NewRuntime(ctx, filter.RuntimeOptions{Logger: quiet})
				if err != nil {
					return err
				}
				defer rt.Close(ctx)
				env.Filters = rt
			}
			snap, err := edge.Build(ctx, cfg, env)
			if err != nil {
				return fmt.Errorf("%s: invalid:\n%w", file, err)
			}
			snap.Discard()
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d routes, %d upstreams, digest %s)\n", file, len(cfg.Routes), len(cfg.Upstreams), snap.Digest)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "config file")
	return cmd
}

// problemsError puts a one-line summary first, then every problem.
func problemsError(file string, err error) error {
	var ps config.Problems
	if errors.As(err, &ps) {
		return fmt.Errorf("%s: %d problem(s):\n%w", file, len(ps), err)
	}
	return err
}
