package config

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Size
		ok   bool
	}{
		{"0", 0, true},
		{"1024", 1024, true},
		{"16MiB", 16 << 20, true},
		{"512KiB", 512 << 10, true},
		{"2GiB", 2 << 30, true},
		{"1KB", 1000, true},
		{"3MB", 3_000_000, true},
		{"1GB", 1_000_000_000, true},
		{"10B", 10, true},
		{" 16 MiB ", 16 << 20, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"-1", 0, false},
		{"-1KiB", 0, false},
		{"1.5MiB", 0, false},
		{"16mib", 0, false},
		{"16M", 0, false},
		{"0x10", 0, false},
		{"16MiB!", 0, false},
		{"9223372036854775807", 0, false},
		{"4611686018427387904", 1 << 62, true},
		{"4611686018427387905", 0, false},
		{"4294967296GiB", 1 << 62, true},
		{"4294967297GiB", 0, false},
	} {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestDurationYAML(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"250ms", 250 * time.Millisecond, ""},
		{"2s", 2 * time.Second, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"0s", 0, ""},
		{"0", 0, ""},
		{"10", 0, `line 1: invalid duration "10"`},
		{"2 seconds", 0, `invalid duration "2 seconds"`},
		{"-1s", 0, `line 1: negative duration "-1s"`},
		{"[1s]", 0, "line 1: expected a duration"},
		{"{a: 1}", 0, "line 1: expected a duration"},
	} {
		var d Duration
		err := yaml.Unmarshal([]byte(tc.in), &d)
		if tc.wantErr == "" {
			if err != nil || d.D() != tc.want {
				t.Errorf("%q: got %v, %v; want %v", tc.in, d.D(), err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%q: error %v; want it to contain %q", tc.in, err, tc.wantErr)
		}
	}
	// A null leaves the zero value: the default applies.
	var d Duration
	if err := yaml.Unmarshal([]byte("~"), &d); err != nil || d != 0 {
		t.Errorf("null: %v, %v", d, err)
	}
}

func TestDurationJSON(t *testing.T) {
	for _, tc := range []struct {
		d    Duration
		want string
	}{
		{Duration(250 * time.Millisecond), `"250ms"`},
		{Duration(90 * time.Minute), `"1h30m0s"`},
		{0, `"0s"`},
	} {
		got, err := json.Marshal(tc.d)
		if err != nil || string(got) != tc.want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", tc.d.D(), got, err, tc.want)
		}
	}
	// Through a pointer and inside a struct too.
	got, err := json.Marshal(&struct{ T *Duration }{T: new(Duration(time.Second))})
	if err != nil || string(got) != `{"T":"1s"}` {
		t.Errorf("struct: %s, %v", got, err)
	}
}

func TestProblemsError(t *testing.T) {
	ps := Problems{
		{File: "c.yaml", Line: 3, Path: "routes[0].upstream", Msg: `unknown upstream "x"`},
		{File: "c.yaml", Line: 7, Msg: "malformed YAML: oops"},
		{File: "c.yaml", Msg: "cannot read the config: no such file or directory"},
		{Line: 2, Path: "routes", Msg: "in memory"},
		{Path: "routes", Msg: "no file, no line"},
		{Msg: "bare"},
	}
	want := strings.Join([]string{
		`c.yaml:3: routes[0].upstream: unknown upstream "x"`,
		`c.yaml:7: malformed YAML: oops`,
		`c.yaml: cannot read the config: no such file or directory`,
		`line 2: routes: in memory`,
		`routes: no file, no line`,
		`bare`,
	}, "\n")
	if got := ps.Error(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	var err error = ps
	var back Problems
	if !errors.As(err, &back) || len(back) != len(ps) {
		t.Errorf("errors.As(Problems) failed")
	}
	if got := (Problems{}).Error(); got != "" {
		t.Errorf("empty Problems: %q", got)
	}
}

func TestLineIndexLookup(t *testing.T) {
	src := `upstreams:
  api.v1:
    endpoints:
      - http://h
      - {url: http://i}
routes:
  - name: r
    match:
      path: /a
  -
    name: s
`
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(src), &root); err != nil {
		t.Fatal(err)
	}
	idx := indexLines(&root)
	for _, tc := range []struct {
		path string
		want int
	}{
		{"", 1},
		{"upstreams", 1},
		{"upstreams.api.v1", 2},              // a key holding dots
		{"upstreams.api.v1.endpoints", 3},    // a value points at its key
		{"upstreams.api.v1.endpoints[1]", 5}, // a list item
		{"upstreams.api.v1.endpoints[1].url", 5},
		{"upstreams.api.v1.endpoints[1].weight", 5}, // missing: the parent
		{"upstreams.api.v1.hash_on", 2},             // missing under a dotted key
		{"routes[0].match.path", 9},
		{"routes[0].match.host", 8},
		{"routes[0].rewrite.strip_prefix", 7}, // two levels missing
		{"routes[1]", 11},                     // item on the line after its dash
		{"routes[7].name", 6},                 // no such item: the list
		{"nothing.at.all", 1},                 // falls back to the top
	} {
		if got := idx.lookup(tc.path); got != tc.want {
			t.Errorf("lookup(%q) = %d; want %d", tc.path, got, tc.want)
		}
	}
	if got := (lineIndex{}).lookup("a.b[0]"); got != 0 {
		t.Errorf("empty index: %d", got)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sluice.yaml")
	if _, err := Load(path); err == nil || !strings.HasPrefix(err.Error(), path+": cannot read the config: ") {
		t.Errorf("missing file: %v", err)
	}
	writeFile(t, path, "routes:\n  - {name: r, upstream: nope}\n")
	if _, err := Load(path); err == nil || err.Error() != path+`:2: routes[0].upstream: unknown upstream "nope"` {
		t.Errorf("invalid file: %v", err)
	}
	writeFile(t, path, "filters: {f: {module: f.wasm}}\nroutes: [{name: r, filters: [f]}]\n")
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if abs, _ := filepath.Abs(dir); cfg.Dir != abs {
		t.Errorf("Dir = %q; want %q", cfg.Dir, abs)
	}
}

func TestSyntaxProblemLines(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		// yaml.v3 counts a parser error's line from 0; we count from 1.
		{"a: 1\nb: [x, y\nc: 1\n", `c:2: malformed YAML: did not find expected ',' or ']'`},
		{"a: 1\r\nb: [x, y\r\nc: 1\r\n", `c:2: malformed YAML: did not find expected ',' or ']'`},
		{"a: 1\rb: [x, y\rc: 1\r", `c:2: malformed YAML: did not find expected ',' or ']'`},
		// A scanner error is counted from 1 already.
		{"a: 1\n b: 2\n", `c:2: malformed YAML: mapping values are not allowed in this context`},
		// No line from yaml.v3 at all.
		{"a: b: c\n", `c:1: malformed YAML: mapping values are not allowed in this context`},
		{"a: 1\nb: 2\nc: \x7f\n", `c:3: malformed YAML: control characters are not allowed`},
		{"a: 1\n\nb: *nope\n", `c:3: malformed YAML: unknown anchor 'nope' referenced`},
		// An error at the end of input is on the last line, not past it.
		{"a: 1\nroutes: [\n\n\n", `c:2: malformed YAML: did not find expected node content`},
		{"a:\n\t- b\n", `c:2: malformed YAML: found character that cannot start any token (tabs cannot indent YAML; use spaces)`},
		{"a:\r\t- b\r", `c:2: malformed YAML: found character that cannot start any token (tabs cannot indent YAML; use spaces)`},
	} {
		_, err := Parse([]byte(tc.in), "c")
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.in, err, tc.want)
		}
	}
}

func TestParseInMemory(t *testing.T) {
	_, err := Parse([]byte("routes:\n  - {name: r}\n"), "")
	if err == nil || err.Error() != "line 2: routes[0]: route has no upstream, aggregate or filters to answer it" {
		t.Errorf("got %v", err)
	}
}
