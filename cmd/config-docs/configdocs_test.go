package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicegw/sluice/runtime/config"
)

const regenerate = "regenerate it with: go generate ./runtime/config (or go run ./cmd/config-docs) and commit docs/config.md"

func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The checked-in reference is what the generator makes from today's schema.
// A key added without a doc comment or an example fails here too.
func TestConfigReferenceIsCurrent(t *testing.T) {
	got, err := render(readRepoFile(t, schemaFile), exampleYAML)
	if err != nil {
		t.Fatalf("%v\n\nDocument every key with a doc comment on its field in %s and set it in cmd/config-docs/example.yaml; then %s",
			err, schemaFile, regenerate)
	}
	if want := readRepoFile(t, outputFile); !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: the schema or cmd/config-docs changed since it was generated; %s", outputFile, regenerate)
	}
}

func TestUndocumentedKeyFails(t *testing.T) {
	schema := string(readRepoFile(t, schemaFile))
	doc := "\t// Eject is how long an ejected endpoint takes no traffic.\n"
	if !strings.Contains(schema, doc) {
		t.Fatal("the test's doc comment is no longer in the schema; pick another")
	}
	_, err := render([]byte(strings.Replace(schema, doc, "", 1)), exampleYAML)
	if err == nil || !strings.Contains(err.Error(), "upstreams.NAME.outlier.eject") {
		t.Fatalf("a key without a doc comment: err = %v, want it named", err)
	}
}

func TestKeyWithoutExampleFails(t *testing.T) {
	line := "    sunset: \"2027-01-01T00:00:00Z\"\n"
	if !bytes.Contains(exampleYAML, []byte(line)) {
		t.Fatal("the test's line is no longer in example.yaml; pick another")
	}
	_, err := render(readRepoFile(t, schemaFile), bytes.Replace(exampleYAML, []byte(line), nil, 1))
	if err == nil || !strings.Contains(err.Error(), "routes[].sunset") {
		t.Fatalf("a key missing from the example: err = %v, want it named", err)
	}
}

func TestInvalidExampleFails(t *testing.T) {
	_, err := render(readRepoFile(t, schemaFile), append(bytes.Clone(exampleYAML), "nonsense: 1\n"...))
	if err == nil || !strings.Contains(err.Error(), "nonsense") {
		t.Fatalf("an example config Parse refuses: err = %v", err)
	}
}

// Defaults are read back from config.Parse, so they follow defaults.go.
// (Checked on the committed reference, which the test above keeps current.)
func TestDefaultsComeFromTheDecoder(t *testing.T) {
	md := readRepoFile(t, outputFile)
	for key, def := range map[string]string{
		"upstreams.NAME.timeout":           config.DefaultUpstreamTimeout.String(),
		"upstreams.NAME.health_check.path": config.DefaultHealthPath,
		"upstreams.NAME.balance":           config.BalanceRoundRobin,
		"filters.NAME.limits.timeout":      config.DefaultFilterTimeout.String(),
		"policies.NAME.query":              config.DefaultPolicyQuery,
		"auth.NAME.api_key.header":         config.DefaultAPIKeyHeader,
		"tracing.service":                  config.DefaultTraceService,
	} {
		row := "| `" + key + "` | "
		i := strings.Index(string(md), row)
		if i < 0 {
			t.Errorf("no row for %s", key)
			continue
		}
		line, _, _ := strings.Cut(string(md[i:]), "\n")
		if cells := strings.Split(line, " | "); len(cells) < 3 || cells[2] != "`"+def+"`" {
			t.Errorf("%s: row %q, want default `%s`", key, line, def)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{16 << 20: "16MiB", 64 << 10: "64KiB", 1 << 30: "1GiB", 1000: "1000", 3 << 19: "1536KiB"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
