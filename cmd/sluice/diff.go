package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/sluicegw/sluice/runtime/artifacts"
	"github.com/sluicegw/sluice/runtime/fleetclient"
	"github.com/spf13/cobra"
)

// exitStatus is an error that sets the exit code; a nil err prints nothing
// (the command has said what it had to).
type exitStatus struct {
	code int
	err  error
}

func (e *exitStatus) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitStatus) Unwrap() error { return e.err }

func newDiffCmd() *cobra.Command {
	var (
		cf     clientFlags
		file   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "diff -f FILE [--json]",
		Short: "Show what FILE changes against the running stable revision; exit 0 if nothing, 1 if something, 2 on failure",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// As diff(1): 1 means "differs", so a failure is 2.
			trouble := func(err error) error { return &exitStatus{code: 2, err: err} }
			if file == "" {
				return trouble(errors.New("diff: -f FILE is required"))
			}
			doc, _, err := artifacts.FromFile(file)
			if err != nil {
				return trouble(problemsError(file, err))
			}
			c, err := cf.client()
			if err != nil {
				return trouble(fmt.Errorf("diff: %w", err))
			}
			d, err := c.Diff(cmd.Context(), doc)
			if err != nil {
				var ae *fleetclient.APIError
				if errors.As(err, &ae) && ae.Status == http.StatusUnprocessableEntity {
					return trouble(fmt.Errorf("%s: refused by the publisher:\n%s", file, ae.Message))
				}
				return trouble(fmt.Errorf("diff: %w", err))
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(d); err != nil {
					return trouble(err)
				}
			} else {
				d.WriteText(cmd.OutOrStdout())
			}
			if !d.Empty() {
				return &exitStatus{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "config file")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: {against, routes, upstreams, filters, policies, auth, limits, settings: {added, removed, changed}}")
	cf.add(cmd)
	return cmd
}
