// Package docs holds the project's documentation; its test checks that the
// links between the documents hold.
package docs

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// The documents checked, relative to the repository root; every .md file
// under docs/ is checked too.
var topLevelDocs = []string{"README.md", "RATIONALE.md", "BENCHMARKS.md"}

// TestLinksHold checks every relative link in the documents: the file or
// directory it names exists, and an anchor (#section) names a heading of the
// target, slugged as GitHub does. External links are not fetched.
func TestLinksHold(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	files := append([]string(nil), topLevelDocs...)
	err = filepath.WalkDir(filepath.Join(root, "docs"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			rel, _ := filepath.Rel(root, path)
			files = append(files, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	problems := checkLinks(root, files)
	for _, p := range problems {
		t.Error(p)
	}
}

// checkLinks returns one "file:line: ..." line per broken link.
func checkLinks(root string, files []string) []string {
	anchors := map[string]map[string]bool{} // file -> its heading anchors, read once
	anchorsOf := func(file string) (map[string]bool, error) {
		if a, ok := anchors[file]; ok {
			return a, nil
		}
		src, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			return nil, err
		}
		a := headingAnchors(src)
		anchors[file] = a
		return a, nil
	}
	var problems []string
	for _, file := range files {
		src, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", file, err))
			continue
		}
		for _, l := range links(src) {
			where := fmt.Sprintf("%s:%d", file, l.line)
			u, err := url.Parse(l.dest)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: link %q: %v", where, l.dest, err))
				continue
			}
			if u.Scheme != "" || u.Host != "" {
				continue // external
			}
			target := file
			if u.Path != "" {
				target = filepath.Join(filepath.Dir(file), filepath.FromSlash(u.Path))
				if strings.HasPrefix(target, "..") {
					problems = append(problems, fmt.Sprintf("%s: link %q leaves the repository", where, l.dest))
					continue
				}
				if _, err := os.Stat(filepath.Join(root, target)); err != nil {
					problems = append(problems, fmt.Sprintf("%s: link %q: %s does not exist", where, l.dest, target))
					continue
				}
			}
			if u.Fragment == "" || !strings.HasSuffix(target, ".md") {
				continue
			}
			a, err := anchorsOf(target)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: link %q: %v", where, l.dest, err))
				continue
			}
			if !a[u.Fragment] {
				problems = append(problems, fmt.Sprintf("%s: link %q: %s has no heading with anchor #%s", where, l.dest, target, u.Fragment))
			}
		}
	}
	return problems
}

type link struct {
	dest string
	line int
}

var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

// links lists the link and image destinations of a markdown document with
// their lines; code spans and blocks hold none.
func links(src []byte) []link {
	doc := markdown.Parser().Parse(text.NewReader(src))
	var out []link
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		var dest []byte
		switch n := n.(type) {
		case *ast.Link:
			dest = n.Destination
		case *ast.Image:
			dest = n.Destination
		default:
			return ast.WalkContinue, nil
		}
		out = append(out, link{dest: string(dest), line: lineOf(src, position(n))})
		return ast.WalkContinue, nil
	})
	return out
}

// position is an offset of the node in the source: its own, else its first
// text's, else its block's first line.
func position(n ast.Node) int {
	if p := n.Pos(); p >= 0 {
		return p
	}
	for c := n.FirstChild(); c != nil; c = c.FirstChild() {
		if t, ok := c.(*ast.Text); ok {
			return t.Segment.Start
		}
	}
	for p := n.Parent(); p != nil; p = p.Parent() {
		if p.Type() == ast.TypeBlock && p.Lines().Len() > 0 {
			return p.Lines().At(0).Start
		}
	}
	return 0
}

func lineOf(src []byte, offset int) int {
	return bytes.Count(src[:min(offset, len(src))], []byte("\n")) + 1
}

// headingAnchors are the anchors GitHub gives a document's headings: the
// heading's text in lower case, without punctuation, spaces as hyphens; a
// repeated one gets -1, -2, ...
func headingAnchors(src []byte) map[string]bool {
	doc := markdown.Parser().Parse(text.NewReader(src))
	anchors := map[string]bool{}
	seen := map[string]int{}
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if h, ok := n.(*ast.Heading); ok && entering {
			slug := slugify(plainText(h, src))
			if k := seen[slug]; k > 0 {
				anchors[fmt.Sprintf("%s-%d", slug, k)] = true
			} else {
				anchors[slug] = true
			}
			seen[slug]++
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	return anchors
}

func plainText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *ast.Text:
			b.Write(c.Segment.Value(src))
		case *ast.String:
			b.Write(c.Value)
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

func slugify(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.IsLetter(r) || unicode.IsNumber(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}
