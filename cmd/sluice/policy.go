package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/policy"
)

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy test DIR | eval DIR --input FILE",
		Short: "Test and evaluate Rego access policies",
		RunE:  needSubcommand("test or eval"),
	}
	test := &cobra.Command{
		Use:   "test DIR",
		Short: "Run the *_test.rego tests of a policy; exit 1 if any fails",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			passed, failed, err := policy.RunTests(cmd.Context(), args[0], cmd.OutOrStdout())
			if err != nil {
				return fmt.Errorf("policy test %s: %w", args[0], err)
			}
			if failed > 0 {
				return fmt.Errorf("policy test %s: %d of %d tests failed", args[0], failed, passed+failed)
			}
			return nil
		},
	}
	var input, query string
	eval := &cobra.Command{
		Use:   "eval DIR --input FILE",
		Short: "Decide one input document with a policy and show how long it took",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if input == "" {
				return errors.New("policy eval: --input FILE is required")
			}
			doc, err := os.ReadFile(input)
			if err != nil {
				return fmt.Errorf("policy eval: %w", err)
			}
			d, took, err := policy.Eval(cmd.Context(), args[0], query, doc)
			if err != nil {
				return fmt.Errorf("policy eval %s: %w", args[0], err)
			}
			type decision struct {
				Allow   bool              `json:"allow"`
				Status  int               `json:"status,omitempty"`
				Reason  string            `json:"reason,omitempty"`
				Headers map[string]string `json:"headers,omitempty"`
			}
			out, _ := json.MarshalIndent(struct {
				Decision decision `json:"decision"`
				Took     string   `json:"took"`
			}{decision{d.Allow, d.Status, d.Reason, d.Headers}, took.String()}, "", "  ")
			fmt.Fprintln(cmd.OutOrStdout(), string(out))
			return nil
		},
	}
	eval.Flags().StringVar(&input, "input", "", "JSON input document (docs/policies.md describes it)")
	eval.Flags().StringVar(&query, "query", "", "query to decide (default "+config.DefaultPolicyQuery+")")
	cmd.AddCommand(test, eval)
	return cmd
}
