package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// keyModules are the libraries whose versions decide how a node behaves on
// the wire and with filters and policies; `sluice version` names them.
var keyModules = []string{
	"github.com/valyala/fasthttp",
	"golang.org/x/net",
	"github.com/tetratelabs/wazero",
	"github.com/open-policy-agent/opa",
	"github.com/nats-io/nats.go",
	"github.com/nats-io/nats-server/v2",
	"github.com/lestrrat-go/jwx/v3",
}

// buildCommit is set by the Makefile (-ldflags -X main.buildCommit=...)
// for builds where Go records no VCS information (-buildvcs=false).
var buildCommit string

// versionInfo is what `sluice version` reports, from the build info Go
// writes into the binary.
type versionInfo struct {
	Version   string            `json:"version"`
	Commit    string            `json:"commit,omitempty"`
	Time      string            `json:"commit_time,omitempty"`
	Modified  bool              `json:"modified,omitempty"`
	Go        string            `json:"go"`
	Libraries map[string]string `json:"libraries"`
}

func readVersion() versionInfo {
	v := versionInfo{Version: "unknown", Commit: buildCommit, Libraries: map[string]string{}}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Go = bi.GoVersion
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	deps := map[string]string{}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		deps[d.Path] = d.Version
	}
	for _, m := range keyModules {
		if ver, ok := deps[m]; ok {
			v.Libraries[m] = ver
		}
	}
	return v
}

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, Go and key library versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printVersion(cmd.OutOrStdout(), readVersion(), asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printVersion(w io.Writer, v versionInfo, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	commit := v.Commit
	if commit == "" {
		commit = "unknown"
	}
	if v.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(w, "sluice %s\ncommit %s %s\n%s\n", v.Version, commit, v.Time, v.Go)
	for _, m := range keyModules {
		if ver, ok := v.Libraries[m]; ok {
			fmt.Fprintf(w, "%s %s\n", m, ver)
		}
	}
	return nil
}
