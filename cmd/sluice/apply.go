package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/sluicegw/sluice/runtime/artifacts"
	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleetclient"
	"github.com/sluicegw/sluice/runtime/publisher"
)

func newApplyCmd() *cobra.Command {
	var (
		cf     clientFlags
		file   string
		canary string
		note   string
		wait   bool
		gate   gateFlags
	)
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Validate, sign and publish a config to the fleet; prints the new revision",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return errors.New("apply: -f FILE is required")
			}
			if canary != "" {
				if _, err := fleet.ParseSelector(canary); err != nil {
					return fmt.Errorf("apply: --canary: %w", err)
				}
			}
			req := publisher.ApplyRequest{Canary: canary, Note: note}
			if err := gate.set(cmd, &req); err != nil {
				return fmt.Errorf("apply: %w", err)
			}
			c, err := cf.client()
			if err != nil {
				return fmt.Errorf("apply: %w", err)
			}
			return runApply(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), c, file, req, wait)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "config file")
	cmd.Flags().StringVar(&canary, "canary", "", "publish as a canary to the nodes matching SELECTOR (region=eu, or 10%)")
	cmd.Flags().StringVar(&note, "note", "", "why, in one line: signed into the revision and shown by `sluice history`")
	cmd.Flags().BoolVar(&wait, "wait", false, "show progress until every live node runs the revision (exit 1 if one reports an error)")
	cmd.Flags().DurationVar(&gate.bake, "bake", 0, "with --canary: the publisher promotes the canary after this long (5m), or aborts it as soon as a bound is crossed")
	cmd.Flags().Float64Var(&gate.maxErrorRate, "max-error-rate", publisher.DefaultMaxErrorRate, "with --bake: abort when the canary nodes' share of 5xx exceeds this percentage")
	cmd.Flags().Float64Var(&gate.maxP99Increase, "max-p99-increase", publisher.DefaultMaxP99Increase, "with --bake: abort when the canary nodes' p99 exceeds the stable nodes' by more than this percentage")
	cf.add(cmd)
	return cmd
}

// gateFlags are the flags of a metric-gated canary.
type gateFlags struct {
	bake                         time.Duration
	maxErrorRate, maxP99Increase float64
}

// set checks the gate flags and puts them in req.
func (g *gateFlags) set(cmd *cobra.Command, req *publisher.ApplyRequest) error {
	fl := cmd.Flags()
	if g.bake == 0 {
		if fl.Changed("max-error-rate") || fl.Changed("max-p99-increase") {
			return errors.New("--max-error-rate and --max-p99-increase need --bake")
		}
		if fl.Changed("bake") {
			return errors.New("--bake: want a positive duration (5m)")
		}
		return nil
	}
	switch {
	case req.Canary == "":
		return errors.New("--bake needs --canary: only a canary is baked")
	case g.bake < 0:
		return fmt.Errorf("--bake %s: want a positive duration", g.bake)
	case g.maxErrorRate < 0 || g.maxErrorRate > 100:
		return fmt.Errorf("--max-error-rate %g: want 0 to 100 (percent)", g.maxErrorRate)
	case g.maxP99Increase < 0:
		return fmt.Errorf("--max-p99-increase %g: want 0 or more (percent)", g.maxP99Increase)
	}
	req.Bake = g.bake.String()
	req.MaxErrorRate, req.MaxP99Increase = &g.maxErrorRate, &g.maxP99Increase
	return nil
}

func runApply(ctx context.Context, out, progress io.Writer, c *fleetclient.Client, file string, req publisher.ApplyRequest, wait bool) error {
	canary := req.Canary
	// The same checks as `sluice validate` up to building; the publisher
	// builds it (compiles modules, prepares policies) before publishing.
	doc, artifacts, err := artifacts.FromFile(file)
	if err != nil {
		return problemsError(file, err)
	}
	uploaded, skipped, err := c.Upload(ctx, artifacts)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	req.Document = doc
	rev, err := c.ApplyRequest(ctx, req)
	if err != nil {
		var ae *fleetclient.APIError
		if errors.As(err, &ae) && ae.Status == http.StatusUnprocessableEntity {
			return fmt.Errorf("%s: refused by the publisher, nothing published:\n%s", file, ae.Message)
		}
		return fmt.Errorf("apply: %w", err)
	}
	where := "stable"
	if canary != "" {
		where = "canary " + canary
	}
	fmt.Fprintf(out, "revision %d published (%s, %s)\n", rev.Revision, where, rev.Digest)
	if rev.Diff != nil {
		rev.Diff.WriteText(out)
	}
	if g := rev.Gate; g != nil {
		fmt.Fprintf(out, "baking %s: the publisher promotes it then, or aborts it as soon as the canary's 5xx share exceeds %g%% "+
			"or its p99 exceeds the stable nodes' by more than %g%% (sluice history shows the decision)\n", g.Bake, g.MaxErrorRate, g.MaxP99Increase)
	}
	if len(artifacts) > 0 {
		fmt.Fprintf(progress, "artifacts: %d uploaded, %d already stored\n", uploaded, skipped)
	}
	if !wait {
		return nil
	}
	return waitForFleet(ctx, progress, c, rev.Revision)
}

// waitForFleet polls the fleet until every live node that should run rev
// reports it, or one reports an error with it.
func waitForFleet(ctx context.Context, progress io.Writer, c *fleetclient.Client, rev int64) error {
	tty := false
	if f, ok := progress.(*os.File); ok {
		tty = isatty.IsTerminal(f.Fd())
	}
	last := ""
	for {
		st, err := c.Status(ctx)
		if err != nil {
			return fmt.Errorf("apply --wait: %w", err)
		}
		want, done := 0, 0
		for _, n := range st.Nodes {
			if targetOf(st, n) != rev {
				continue
			}
			want++
			if n.State == fleet.StateError && n.Wanted == rev {
				if tty {
					fmt.Fprintln(progress)
				}
				return fmt.Errorf("apply --wait: node %s refused revision %d: %s", n.ID, rev, n.Error)
			}
			if n.Revision == rev && n.State == fleet.StateReady {
				done++
			}
		}
		if st.Stable != rev && (st.Canary == nil || *st.Canary != rev) {
			return fmt.Errorf("apply --wait: revision %d is no longer published (canary aborted or superseded)", rev)
		}
		line := fmt.Sprintf("revision %d: %d/%d live nodes", rev, done, want)
		if line != last {
			if tty {
				fmt.Fprintf(progress, "\r%s", line)
			} else {
				fmt.Fprintln(progress, line)
			}
			last = line
		}
		if done == want {
			if tty {
				fmt.Fprintln(progress)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// targetOf is the revision node n should run: the canary when it selects
// the node, else stable.
func targetOf(st *publisher.FleetStatus, n fleet.NodeStatus) int64 {
	if st.Canary != nil && *st.Canary > st.Stable {
		if sel, err := fleet.ParseSelector(st.CanarySelector); err == nil && sel.Matches(n.ID, n.Labels) {
			return *st.Canary
		}
	}
	return st.Stable
}
