// Command config-docs writes docs/config.md, the config reference, from the
// schema itself: every key of runtime/config/schema.go with its type (from
// the Go field), its description (the field's doc comment), its default (what
// config.Parse fills in when the key is left out of the example) and an
// example (from example.yaml, a complete config that must stay valid).
//
// Run it after changing the schema, from anywhere in the repository:
//
//	go generate ./runtime/config    (or: go run ./cmd/config-docs)
//
// It fails, naming them, on keys without a doc comment or an example.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// The files it reads and writes, relative to the repository root.
const (
	schemaFile = "runtime/config/schema.go"
	outputFile = "docs/config.md"
)

func main() {
	out := flag.String("o", "", "write here instead of "+outputFile+" (- for stdout)")
	flag.Parse()
	root, err := repoRoot()
	if err != nil {
		fail(err)
	}
	md, err := generate(filepath.Join(root, schemaFile))
	if err != nil {
		fail(err)
	}
	switch *out {
	case "-":
		_, err = os.Stdout.Write(md)
	case "":
		err = os.WriteFile(filepath.Join(root, outputFile), md, 0o644)
	default:
		err = os.WriteFile(*out, md, 0o644)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "config-docs:", err)
	os.Exit(1)
}

// repoRoot is the nearest directory up from here holding go.mod and the
// schema, so the command runs from the root and from go generate alike.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, schemaFile)); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the sluice repository (no " + schemaFile + " above here)")
		}
		dir = parent
	}
}
