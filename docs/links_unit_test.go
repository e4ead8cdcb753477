package docs

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSlugsAsGitHubMakesThem(t *testing.T) {
	src := []byte("# Config reference\n\n## `sluice edge`: run a node\n\n## Fleet: TLS, ACME & upgrades\n\n## Limits\n\n## Limits\n")
	got := headingAnchors(src)
	want := map[string]bool{"config-reference": true, "sluice-edge-run-a-node": true, "fleet-tls-acme--upgrades": true, "limits": true, "limits-1": true}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("anchors %v, want %v", got, want)
	}
}

// A broken file link and a broken anchor are each reported with file:line;
// links in code are not links; external links are not checked.
func TestBrokenLinksAreNamed(t *testing.T) {
	root := t.TempDir()
	write := func(name, body string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("docs/b.md", "# B\n\n## Second part\n")
	write("README.md", strings.Join([]string{
		"# Readme", // 1
		"",         // 2
		"[ok](docs/b.md#second-part) [ok](#readme)", // 3
		"[gone](docs/missing.md)",                   // 4
		"",                                          // 5
		"| a | [bad anchor](docs/b.md#third) |",     // 6
		"| --- | --- |",                             // 7
		"",                                          // 8
		"`[not a link](nowhere.md)` [web](https://example.com/x.md)", // 9
		"",                                // 10
		"```",                             // 11
		"[not a link either](nowhere.md)", // 12
		"```",                             // 13
		"[self](#nope)",                   // 14
	}, "\n"))
	got := checkLinks(root, []string{"README.md", "docs/b.md"})
	want := []string{
		`README.md:4: link "docs/missing.md": docs/missing.md does not exist`,
		`README.md:6: link "docs/b.md#third": docs/b.md has no heading with anchor #third`,
		`README.md:14: link "#nope": README.md has no heading with anchor #nope`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
