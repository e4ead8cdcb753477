package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/sluicegw/sluice/runtime/publisher"
	"github.com/spf13/cobra"
)

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token create NAME --role read|deploy|admin | list | revoke NAME",
		Short: "Manage the publisher's API tokens (needs an admin token)",
		RunE:  needSubcommand("create, list or revoke"),
	}
	cmd.AddCommand(newTokenCreateCmd(), newTokenListCmd(), newTokenRevokeCmd())
	return cmd
}

func newTokenCreateCmd() *cobra.Command {
	var (
		cf   clientFlags
		role string
	)
	cmd := &cobra.Command{
		Use:   "create NAME --role read|deploy|admin",
		Short: "Issue a token; prints it once, on stdout (the publisher keeps only its hash)",
		Args:  oneArg("token create", "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !publisher.ValidRole(role) {
				return fmt.Errorf("token create: --role %q: want read, deploy or admin", role)
			}
			c, err := cf.client()
			if err != nil {
				return fmt.Errorf("token create: %w", err)
			}
			t, err := c.CreateToken(cmd.Context(), args[0], role)
			if err != nil {
				return fmt.Errorf("token create: %w", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), t.Token)
			fmt.Fprintf(cmd.ErrOrStderr(), "token %q (role %s) created; it is shown only this once\n", t.Name, t.Role)
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "read (status, diff, history), deploy (also apply, rollout, rollback) or admin (also tokens)")
	cf.add(cmd)
	return cmd
}

func newTokenListCmd() *cobra.Command {
	var (
		cf     clientFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the tokens: name, role, created, by whom (never the tokens)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return fmt.Errorf("token list: %w", err)
			}
			tokens, err := c.Tokens(cmd.Context())
			if err != nil {
				return fmt.Errorf("token list: %w", err)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(map[string][]publisher.TokenInfo{"tokens": tokens})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tBY")
			for _, t := range tokens {
				created, by := "-", t.CreatedBy
				if !t.Created.IsZero() {
					created = t.Created.Format(time.RFC3339)
				}
				if t.Name == publisher.BootstrapTokenName {
					by = "(the data dir's token file)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Role, created, by)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cf.add(cmd)
	return cmd
}

func newTokenRevokeCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a token: the publisher refuses it from then on",
		Args:  oneArg("token revoke", "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return fmt.Errorf("token revoke: %w", err)
			}
			if err := c.RevokeToken(cmd.Context(), args[0]); err != nil {
				return fmt.Errorf("token revoke: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "token %q revoked\n", args[0])
			return nil
		},
	}
	cf.add(cmd)
	return cmd
}
