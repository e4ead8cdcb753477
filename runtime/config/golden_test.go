package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// update rewrites the expected part of every golden file with the current
// output: go test ./runtime/config -run Golden -update. Review the diff by
// hand before accepting it; a golden file shows the right answer, not just
// the current one.
var update = flag.Bool("update", false, "rewrite the expected output of the golden files")

// goldenSep separates a golden file's YAML input from its expected output.
const goldenSep = "----------\n"

// goldenDir holds the cases, caddy-style: one file per case.
var goldenDir = filepath.Join("..", "..", "testdata", "config")

// splitGolden returns the input and expected output of a golden file.
func splitGolden(t testing.TB, data []byte) (input, want []byte) {
	t.Helper()
	i := bytes.Index(data, []byte("\n"+goldenSep))
	if i < 0 {
		if !bytes.HasPrefix(data, []byte(goldenSep)) {
			t.Fatalf("no separator line %q", strings.TrimSpace(goldenSep))
		}
		return nil, data[len(goldenSep):]
	}
	return data[:i+1], data[i+1+len(goldenSep):]
}

// goldenFiles lists the case files of one directory of testdata/config.
func goldenFiles(t testing.TB, kind string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(goldenDir, kind, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no golden files in %s", filepath.Join(goldenDir, kind))
	}
	return files
}

// goldenOutput is what a case must print: the problems, one a line, or the
// decoded and defaulted config as indented JSON.
func goldenOutput(t *testing.T, valid bool, input []byte) []byte {
	t.Helper()
	cfg, err := Parse(input, "config.yaml")
	if valid {
		if err != nil {
			t.Fatalf("valid config rejected:\n%v", err)
		}
		out, err := json.MarshalIndent(cfg, "", "  ")
		if err != nil {
			t.Fatalf("marshal config: %v", err)
		}
		return append(out, '\n')
	}
	if err == nil {
		t.Fatalf("invalid config accepted")
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error is %T, not Problems: %v", err, err)
	}
	if len(ps) == 0 {
		t.Fatalf("empty Problems")
	}
	for _, p := range ps {
		if p.Line <= 0 {
			t.Errorf("problem without a line: %#v", p)
		}
		if p.File != "config.yaml" {
			t.Errorf("problem without the file name: %#v", p)
		}
	}
	return []byte(err.Error() + "\n")
}

func TestGolden(t *testing.T) {
	for _, kind := range []string{"valid", "invalid"} {
		for _, file := range goldenFiles(t, kind) {
			t.Run(kind+"/"+strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				input, want := splitGolden(t, data)
				got := goldenOutput(t, kind == "valid", input)
				if *update {
					if !bytes.Equal(got, want) {
						var b bytes.Buffer
						b.Write(input)
						b.WriteString(goldenSep)
						b.Write(got)
						if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
							t.Fatal(err)
						}
						t.Logf("updated %s", file)
					}
					return
				}
				if !bytes.Equal(got, want) {
					t.Errorf("output differs (go test -run Golden -update rewrites it; review the diff)\n--- got\n%s--- want\n%s", got, want)
				}
			})
		}
	}
}
