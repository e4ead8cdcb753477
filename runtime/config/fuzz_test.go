package config

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
)

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzParse: whatever a stranger writes, Parse must not panic, must explain
// a refusal with located problems, and must return a config that can be
// written back as JSON.
func FuzzParse(f *testing.F) {
	for _, kind := range []string{"valid", "invalid"} {
		for _, file := range goldenFiles(f, kind) {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			input, _ := splitGolden(f, data)
			f.Add(input)
		}
	}
	for _, s := range []string{
		"",
		"~",
		"[]",
		"{}",
		"routes: []",
		"a: &a [*a]",
		"a: &a b\nc: *a\n",
		"<<: {routes: []}",
		"routes: [{name: r, filters: [f]}]\nfilters: {f: {module: m, config: {? [a] : b}}}",
		"filters: {f: {module: m, config: {x: .inf, 1: 2, true: 3, ~: 4}}}\nroutes: [{name: r, filters: [f]}]",
		"upstreams: {u: {endpoints: [{url: [x], weight: {}}, ~, 1]}}",
		"routes:\n  - match: {path: \"/{a}/{a}/{\"}\n",
		"\xef\xbb\xbfroutes: []",
		"routes: [\x00]",
		"--- !!map\n? a\n: b\n...\n---\n",
		"a: !!binary aGVsbG8=\n",
		"routes: !!str 1\n",
		"auth: {a: {api_key: {keys: {k: {consumer: c}, k: {}}}}}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "config.yaml")
		// The one-pass decode must agree with the reporting one wherever
		// it answers.
		if len(data) <= MaxBytes {
			if clean, ok := decodeClean(data); ok {
				slow, serr := parseReporting(data, "config.yaml")
				if serr != nil {
					t.Fatalf("one pass accepted what the reporting parse refuses: %v", serr)
				}
				applyDefaults(clean)
				if a, b := string(mustJSON(t, clean)), string(mustJSON(t, slow)); a != b {
					t.Fatalf("one pass decoded\n%s\nthe reporting parse\n%s", a, b)
				}
			}
		}
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error is %T, not Problems: %v", err, err)
			}
			if len(ps) == 0 {
				t.Fatal("empty Problems")
			}
			for _, p := range ps {
				if p.Line <= 0 {
					t.Errorf("problem without a line: %#v", p)
				}
			}
			return
		}
		if cfg == nil {
			t.Fatal("nil config without an error")
		}
		if _, err := json.Marshal(cfg); err != nil {
			t.Fatalf("marshal config: %v", err)
		}
	})
}

func mustJSON(t *testing.T, cfg *Config) []byte {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
