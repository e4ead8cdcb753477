package filterkit

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	sluice "github.com/sluicegw/sluice/sdk"
)

// EmbeddedSDKDir is where Scaffold writes the SDK the binary carries,
// inside the new filter, when no checkout's SDK is given: the filter's
// go.mod points there, so it builds and tests anywhere it is copied (CI
// included) with nothing but Go.
const EmbeddedSDKDir = "sluice-sdk"

// The directories of the other languages' SDKs in the embedded source.
var otherSDKs = []string{"c", "assemblyscript"}

// writeEmbeddedSDK writes the Go SDK embedded in the binary into dir,
// leaving out its tests (the filter's author runs the filter's, not the
// SDK's) and the other languages' SDKs.
func writeEmbeddedSDK(dir string) error {
	return fs.WalkDir(sluice.Source, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && slices.Contains(otherSDKs, path) {
			return fs.SkipDir
		}
		if err != nil || d.IsDir() || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := sluice.Source.ReadFile(path)
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

// writeEmbeddedFiles writes the named files of the embedded SDK directory
// sdk (c, assemblyscript) into dir.
func writeEmbeddedFiles(dir, sdk string, names ...string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range names {
		b, err := sluice.Source.ReadFile(sdk + "/" + name)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
