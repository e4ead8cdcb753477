package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/cli.md from the command tree")

const cliDocs = "../../docs/cli.md"

// TestCLIReferenceIsCurrent keeps docs/cli.md what the command tree says:
// every command, its usage line and every flag with its type, default and
// help text.
func TestCLIReferenceIsCurrent(t *testing.T) {
	got := renderCLIDocs(newRootCmd())
	if *updateDocs {
		if err := os.WriteFile(cliDocs, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(cliDocs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("docs/cli.md is stale: a command or flag changed since it was written; regenerate it with:\n" +
			"  go test ./cmd/sluice -run TestCLIReferenceIsCurrent -update-docs\nand commit docs/cli.md")
	}
}

// Every command and flag has help text for the reference to show.
func TestEveryCommandAndFlagIsDescribed(t *testing.T) {
	walkCommands(newRootCmd(), func(c *cobra.Command) {
		if c.Short == "" {
			t.Errorf("%s has no Short description", c.CommandPath())
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Usage == "" {
				t.Errorf("%s --%s has no help text", c.CommandPath(), f.Name)
			}
		})
	})
}

func walkCommands(c *cobra.Command, visit func(*cobra.Command)) {
	if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
		return
	}
	visit(c)
	for _, sub := range c.Commands() {
		walkCommands(sub, visit)
	}
}

func renderCLIDocs(root *cobra.Command) []byte {
	var b bytes.Buffer
	b.WriteString(cliHeader)
	walkCommands(root, func(c *cobra.Command) {
		if c == root {
			return
		}
		fmt.Fprintf(&b, "\n## %s\n\n%s.\n\n", c.CommandPath(), strings.TrimSuffix(c.Short, "."))
		if c.Long != "" {
			fmt.Fprintf(&b, "%s\n\n", c.Long)
		}
		fmt.Fprintf(&b, "```\n%s\n```\n", c.UseLine())
		var rows []string
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			name := "`--" + f.Name + "`"
			if f.Shorthand != "" {
				name = "`-" + f.Shorthand + "`, " + name
			}
			def := f.DefValue
			switch {
			case def == "" || def == "[]":
				def = ""
			default:
				def = "`" + def + "`"
			}
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s |", name, f.Value.Type(), def, strings.ReplaceAll(f.Usage, "|", `\|`)))
		})
		if len(rows) > 0 {
			fmt.Fprintf(&b, "\n| flag | type | default | description |\n| --- | --- | --- | --- |\n%s\n", strings.Join(rows, "\n"))
		}
	})
	return b.Bytes()
}

const cliHeader = `# CLI reference

<!-- Generated from the command tree of cmd/sluice; do not edit. After changing a command or flag:
     go test ./cmd/sluice -run TestCLIReferenceIsCurrent -update-docs -->

` + "`sluice`" + ` is one binary: the edge node, the publisher, the developer environment and the client that
drives a publisher. Every command exits 0 on success and non-zero with a one-line reason on stderr
(` + "`sluice: ...`" + `) on failure; detail, such as every problem of a config, follows that line.

Commands that talk to a publisher (` + "`apply`, `diff`, `status`, `history`, `rollout`, `rollback`, `token`" + `)
find it at ` + "`--publisher`" + `, else ` + "`$SLUICE_PUBLISHER`" + `, else ` + "`http://127.0.0.1:9900`" + `, and send the
token in ` + "`$SLUICE_TOKEN`" + `, else the admin token the publisher wrote into its data directory (` + "`--data`" + `). Which
token role each command needs is in [operations.md](operations.md#api-tokens).
`
