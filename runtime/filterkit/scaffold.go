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

//go:embed template
var templates embed.FS

// validName is what a filter name may be: it becomes a directory, a Go
// module path, a .wasm file and a key in the gateway config.
var validName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// ErrExists is returned by Scaffold when the target directory is not empty.
var ErrExists = errors.New("directory exists and is not empty")

// Languages of ScaffoldLang and Build, as `sluice filter new --lang` names
// them.
const (
	LangGo = "go"
	LangC  = "c"
	LangAS = "as" // AssemblyScript
)

// Scaffold writes a new Go filter module into dir (created if missing):
// go.mod using the SDK at sdkDir, main.go, main_test.go and README.md. With
// sdkDir "" the SDK embedded in the binary is written into dir/sluice-sdk
// and used from there. The result builds with Build and tests with `go
// test` as it is.
func Scaffold(dir, name, sdkDir string) error { return ScaffoldLang(dir, name, LangGo, sdkDir) }

// ScaffoldLang writes a new filter in lang into dir. Go is Scaffold. C gets
// main.c, README.md and the SDK's sluice.h; AssemblyScript gets
// assembly/index.ts, package.json, README.md and the SDK in sluice-sdk/.
// The C and AssemblyScript SDKs always come from the binary (sdkDir is for
// Go). Each builds with Build as it is.
func ScaffoldLang(dir, name, lang, sdkDir string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("filter name %q: use lower-case letters, digits and '-', starting with a letter", name)
	}
	if lang != LangGo && lang != LangC && lang != LangAS {
		return fmt.Errorf("language %q: want go, c or as (AssemblyScript)", lang)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s: %w", dir, ErrExists)
	}
	embedded := sdkDir == "" || lang != LangGo
	sdk := "./" + EmbeddedSDKDir
	if !embedded {
		var err error
		if sdk, err = sdkReplacePath(dir, sdkDir); err != nil {
			return err
		}
	}
	data := struct {
		Name, Module, Title, Class, SDK string
		Embedded                        bool
	}{
		Name:     name,
		Module:   name,
		Title:    title(name),
		Class:    strings.ReplaceAll(title(name), "-", ""),
		SDK:      sdk,
		Embedded: embedded,
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var err error
	switch lang {
	case LangGo:
		if embedded {
			err = writeEmbeddedSDK(filepath.Join(dir, EmbeddedSDKDir))
		}
	case LangC:
		err = writeEmbeddedFiles(dir, "c", "sluice.h")
	case LangAS:
		err = writeEmbeddedFiles(filepath.Join(dir, EmbeddedSDKDir), "assemblyscript", "index.ts", "asconfig.json", "README.md")
	}
	if err != nil {
		return fmt.Errorf("writing the embedded SDK: %w", err)
	}
	pattern := map[string]string{LangGo: "template/*.tmpl", LangC: "template/c/*.tmpl", LangAS: "template/as/*.tmpl"}[lang]
	files, err := fs.Glob(templates, pattern)
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
		base := strings.TrimSuffix(filepath.Base(f), ".tmpl")
		target := filepath.Join(dir, base)
		if lang == LangAS && base == "index.ts" {
			target = filepath.Join(dir, "assembly", base)
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
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
