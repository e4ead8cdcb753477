// Package filterkit is the filter author's tool chain behind `sluice filter`:
// scaffold a new Go filter, build one into a checked .wasm, and run a module
// once on a request described in a file, without a gateway.
package filterkit

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
)

//go:embed template/*.tmpl
var templates embed.FS

// validName is what a filter name may be: it becomes a directory, a Go
// module path, a .wasm file and a key in the gateway config.
var validName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// ErrExists is returned by Scaffold when the target directory is not empty.
var ErrExists = errors.New("directory exists and is not empty")

// Scaffold writes a new filter module into dir (created if missing): go.mod
// using the SDK at sdkDir, main.go, main_test.go and README.md. With sdkDir
// "" the SDK embedded in the binary is written into dir/sluice-sdk and used
// from there. The result builds with Build and tests with `go test` as it is.
func Scaffold(dir, name, sdkDir string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("filter name %q: use lower-case letters, digits and '-', starting with a letter", name)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s: %w", dir, ErrExists)
	}
	embedded := sdkDir == ""
	sdk := "./" + EmbeddedSDKDir
	if !embedded {
		var err error
		if sdk, err = sdkReplacePath(dir, sdkDir); err != nil {
			return err
		}
	}
	data := struct {
		Name, Module, Title, SDK string
		Embedded                 bool
	}{
		Name:     name,
		Module:   name,
		Title:    title(name),
		SDK:      sdk,
		Embedded: embedded,
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if embedded {
		if err := writeEmbeddedSDK(filepath.Join(dir, EmbeddedSDKDir)); err != nil {
			return fmt.Errorf("writing the embedded SDK: %w", err)
		}
	}
	files, err := fs.Glob(templates, "template/*.tmpl")
	if err != nil {
		return err
	}
	for _, f := range files {
		t, err := template.ParseFS(templates, f)
		if err != nil {
			return fmt.Errorf("template %s: %w", f, err)
		}
		var out bytes.Buffer
		if err := t.Execute(&out, data); err != nil {
			return fmt.Errorf("template %s: %w", f, err)
		}
		target := filepath.Join(dir, strings.TrimSuffix(filepath.Base(f), ".tmpl"))
		if err := os.WriteFile(target, out.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// sdkReplacePath is the SDK directory as the new go.mod's replace directive
// should name it: relative to dir when the two are close (a filter created
// inside a checkout keeps working when the checkout moves), absolute
// otherwise.
func sdkReplacePath(dir, sdkDir string) (string, error) {
	absSDK, err := filepath.Abs(sdkDir)
	if err != nil {
		return "", err
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(absDir, absSDK); err == nil && strings.Count(rel, "..") <= 2 {
		if !strings.HasPrefix(rel, ".") {
			rel = "./" + rel
		}
		return filepath.ToSlash(rel), nil
	}
	return filepath.ToSlash(absSDK), nil
}

// title turns "rate-tag" into "Rate-Tag", the shape of an HTTP header name.
func title(name string) string {
	parts := strings.Split(name, "-")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "-")
}
