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

// What the Go SDK written beside a filter leaves out of the embedded
// source: the other languages' SDKs, and the file that embeds them (its
// patterns would then match nothing, and the filter would not build).
var (
	otherSDKs = []string{"c", "assemblyscript"}
	embedFile = "source.go"
)

// writeEmbeddedSDK writes the Go SDK embedded in the binary into dir,
// leaving out its tests (the filter's author runs the filter's, not the
// SDK's), the other languages' SDKs and the embedding itself.
func writeEmbeddedSDK(dir string) error {
	return fs.WalkDir(sluice.Source, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && slices.Contains(otherSDKs, path) {
			return fs.SkipDir
		}
		if err != nil || d.IsDir() || strings.HasSuffix(path, "_test.go") || path == embedFile {
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
