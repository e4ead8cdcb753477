package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/publisher"
)

// silentAfter: a node whose last report is older than this is flagged; it
// reports every fleet.StatusInterval and vanishes after fleet.NodeTTL.
const silentAfter = 3 * fleet.StatusInterval

func newStatusCmd() *cobra.Command {
	var (
		cf     clientFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the fleet: one row per node (id, labels, revision, state, last seen)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return fmt.Errorf("status: %w", err)
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return fmt.Errorf("status: %w", err)
			}
			if asJSON {
				return printStatusJSON(cmd.OutOrStdout(), st)
			}
			printStatusTable(cmd.OutOrStdout(), st, time.Now())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cf.add(cmd)
	return cmd
}

// statusJSON is the contract of `status --json`.
type statusJSON struct {
	Nodes  []nodeJSON `json:"nodes"`
	Stable int64      `json:"stable"`
	Canary *int64     `json:"canary"`
}

type nodeJSON struct {
	ID       string            `json:"id"`
	Labels   map[string]string `json:"labels"`
	Revision int64             `json:"revision"`
	State    string            `json:"state"`
	LastSeen time.Time         `json:"last_seen"`
	Error    string            `json:"error"`
}

func printStatusJSON(w io.Writer, st *publisher.FleetStatus) error {
	out := statusJSON{Nodes: []nodeJSON{}, Stable: st.Stable, Canary: st.Canary}
	for _, n := range st.Nodes {
		out.Nodes = append(out.Nodes, nodeJSON{n.ID, n.Labels, n.Revision, n.State, n.LastSeen, n.Error})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func printStatusTable(w io.Writer, st *publisher.FleetStatus, now time.Time) {
	canary := "none"
	if st.Canary != nil {
		canary = fmt.Sprintf("%d (%s)", *st.Canary, st.CanarySelector)
	}
	fmt.Fprintf(w, "stable revision %d, canary %s, %d live node(s)\n\n", st.Stable, canary, len(st.Nodes))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tLABELS\tREVISION\tSTATE\tLAST SEEN\tNOTE")
	for _, n := range st.Nodes {
		var notes []string
		if want := targetOf(st, n); n.Revision < want {
			notes = append(notes, fmt.Sprintf("BEHIND (wants %d)", want))
		}
		age := now.Sub(n.LastSeen)
		if age > silentAfter {
			notes = append(notes, "SILENT")
		}
		if n.Error != "" {
			notes = append(notes, firstLine(n.Error))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s ago\t%s\n", n.ID, labelString(n.Labels), n.Revision, n.State,
			age.Round(time.Second), strings.Join(notes, "; "))
	}
	tw.Flush()
}

func labelString(labels map[string]string) string {
	if len(labels) == 0 {
		return "-"
	}
	kv := make([]string, 0, len(labels))
	for k, v := range labels {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
