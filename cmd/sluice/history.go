package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluicegw/sluice/runtime/publisher"
	"github.com/spf13/cobra"
)

func newHistoryCmd() *cobra.Command {
	var (
		cf     clientFlags
		asJSON bool
		limit  int
		before uint64
	)
	cmd := &cobra.Command{
		Use:   "history [--json]",
		Short: "Show applies, promotions, aborts, rollbacks and token changes, newest first: who, when, revision, digest, outcome",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > publisher.MaxHistoryPage {
				return fmt.Errorf("history: --limit %d: want 1 to %d", limit, publisher.MaxHistoryPage)
			}
			c, err := cf.client()
			if err != nil {
				return fmt.Errorf("history: %w", err)
			}
			page, err := c.History(cmd.Context(), before, limit)
			if err != nil {
				return fmt.Errorf("history: %w", err)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(page)
			}
			printHistory(cmd.OutOrStdout(), page)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print JSON: {"entries": [...], "next": N}`)
	cmd.Flags().IntVar(&limit, "limit", 50, "entries to show")
	cmd.Flags().Uint64Var(&before, "before", 0, "show entries older than this entry number (the SEQ column; the next page)")
	cf.add(cmd)
	return cmd
}

func printHistory(w io.Writer, page *publisher.HistoryPage) {
	if len(page.Entries) == 0 {
		fmt.Fprintln(w, "no history yet")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tWHEN\tWHO\tACTION\tREVISION\tDIGEST\tOUTCOME\tNOTE")
	for _, e := range page.Entries {
		who := e.Who
		if e.User != "" && e.User != e.Who {
			who += " (" + e.User + ")"
		}
		rev, digest := "-", "-"
		if e.Revision > 0 {
			rev = fmt.Sprint(e.Revision)
		}
		if e.Digest != "" {
			digest = shortDigest(e.Digest)
		}
		var notes []string
		if e.Selector != "" {
			notes = append(notes, "canary "+e.Selector)
		}
		if e.Note != "" {
			notes = append(notes, e.Note)
		}
		if e.Changes != nil {
			notes = append(notes, fmt.Sprintf("%d change(s)", *e.Changes))
		}
		if e.Detail != "" {
			notes = append(notes, firstLine(e.Detail))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Local().Format(time.DateTime), who, e.Action, rev, digest,
			e.Outcome, strings.Join(notes, "; "))
	}
	tw.Flush()
	if page.Next > 0 {
		fmt.Fprintf(w, "older entries: sluice history --before %d\n", page.Next)
	}
}

func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}
