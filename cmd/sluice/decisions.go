package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluicegw/sluice/runtime/edge"
	"github.com/sluicegw/sluice/runtime/publisher"
)

func newDecisionsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "decisions",
		Short: "Policy decisions logged by the fleet's nodes",
	}
	var (
		cf     clientFlags
		f      publisher.DecisionFilter
		asJSON bool
	)
	tail := &cobra.Command{
		Use:   "tail [--route R] [--deny] [--json]",
		Short: "Print the fleet's policy decisions live, one line each, until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return fmt.Errorf("decisions tail: %w", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			t, err := c.TailDecisions(ctx, f)
			if err != nil {
				return fmt.Errorf("decisions tail: %w", err)
			}
			defer t.Close()
			// On stderr, so stdout holds only decisions (for a pipe to jq).
			fmt.Fprintln(cmd.ErrOrStderr(), "tailing decisions (Ctrl-C to stop)")
			out := cmd.OutOrStdout()
			enc := json.NewEncoder(out)
			for {
				d, err := t.Next()
				if err != nil {
					if ctx.Err() != nil {
						return nil
					}
					if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
						return errors.New("decisions tail: the publisher closed the stream")
					}
					return fmt.Errorf("decisions tail: %w", err)
				}
				if asJSON {
					if err := enc.Encode(d); err != nil {
						return err
					}
					continue
				}
				printDecision(out, d)
			}
		},
	}
	tail.Flags().StringVar(&f.Route, "route", "", "only this route's decisions")
	tail.Flags().BoolVar(&f.Deny, "deny", false, "only denials (policy errors included)")
	tail.Flags().BoolVar(&asJSON, "json", false, "print each decision as one JSON object per line")
	cf.add(tail)
	cmd.AddCommand(tail)
	return cmd
}

// printDecision writes one decision on one line:
//
//	2026-12-03 10:41:07.123  eu-1  DENY 403  orders  gate  DELETE /orders/1  "read only"  decision=ID request=RID
func printDecision(w io.Writer, d *edge.DecisionRecord) {
	verdict := "ALLOW"
	switch {
	case d.Error != "":
		verdict = fmt.Sprintf("ERROR %d", d.Status)
	case !d.Allow:
		verdict = fmt.Sprintf("DENY %d", d.Status)
	}
	why := ""
	switch {
	case d.Error != "":
		why = fmt.Sprintf("  %q", firstLine(d.Error))
	case d.Reason != "":
		why = fmt.Sprintf("  %q", d.Reason)
	}
	fmt.Fprintf(w, "%s  %s  %s  %s  %s  %s %s%s  decision=%s request=%s\n",
		d.Time.Local().Format("2006-01-02 15:04:05.000"), d.Node, verdict, d.Route, d.Policy, d.Method, d.Path, why, d.ID, d.RequestID)
}
