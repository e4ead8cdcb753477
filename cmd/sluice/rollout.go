package main

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
)

func newRolloutCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "rollout promote|abort",
		Short: "Promote the canary to stable everywhere, or abort it (canary nodes return to stable)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return fmt.Errorf("rollout: %w", err)
			}
			switch args[0] {
			case "promote":
				rev, err := c.Promote(cmd.Context())
				if err != nil {
					return fmt.Errorf("rollout promote: %w", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revision %d promoted to stable\n", rev.Revision)
			case "abort":
				rev, err := c.Abort(cmd.Context())
				if err != nil {
					return fmt.Errorf("rollout abort: %w", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "canary revision %d aborted; canary nodes return to stable\n", rev)
			default:
				return fmt.Errorf("rollout: unknown action %q (want promote or abort)", args[0])
			}
			return nil
		},
	}
	cf.add(cmd)
	return cmd
}

func newRollbackCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "rollback [REVISION]",
		Short: "Republish an earlier revision (default: the stable one before the current) as a new revision",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var target int64
			if len(args) == 1 {
				n, err := strconv.ParseInt(args[0], 10, 64)
				if err != nil || n < 1 {
					return errors.New("rollback: REVISION must be a positive number")
				}
				target = n
			}
			c, err := cf.client()
			if err != nil {
				return fmt.Errorf("rollback: %w", err)
			}
			rev, err := c.Rollback(cmd.Context(), target)
			if err != nil {
				return fmt.Errorf("rollback: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revision %d published (%s)\n", rev.Revision, rev.Note)
			return nil
		},
	}
	cf.add(cmd)
	return cmd
}
