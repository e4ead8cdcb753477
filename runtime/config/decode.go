package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads, strictly decodes, validates and completes the config at path.
// Relative module paths in it are resolved against its directory. The error,
// if any, is Problems listing everything found.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Problems{{File: path, Msg: err.Error()}}
	}
	cfg, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err == nil {
		cfg.Dir = abs
	}
	return cfg, nil
}

// Parse decodes one YAML document strictly, validates it and applies
// defaults. name labels problems (a file name, or "").
func Parse(data []byte, name string) (*Config, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, Problems{syntaxProblem(name, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Problems{{File: name, Line: extra.Line, Msg: "more than one YAML document; a config file is one snapshot"}}
	}

	cfg := &Config{}
	var problems Problems
	if len(root.Content) > 0 {
		strict := yaml.NewDecoder(bytes.NewReader(data))
		strict.KnownFields(true)
		if err := strict.Decode(cfg); err != nil {
			problems = append(problems, decodeProblems(name, err)...)
		}
	}
	lines := indexLines(&root)
	for _, p := range validate(cfg) {
		p.File = name
		p.Line = lines.lookup(p.Path)
		problems = append(problems, p)
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
		return nil, problems
	}
	applyDefaults(cfg)
	return cfg, nil
}

var (
	yamlLineRe    = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownKeyRe  = regexp.MustCompile(`^field (\S+) not found in type config\.(\w+)$`)
	cannotDecodeR = regexp.MustCompile(`^cannot unmarshal !!(\w+) ` + "`" + `?(.*?)` + "`" + `? into (\S+)$`)
)

// syntaxProblem turns a YAML parser error into a located problem.
func syntaxProblem(name string, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{File: name, Line: line, Msg: "malformed YAML: " + m[2]}
	}
	return Problem{File: name, Msg: "malformed YAML: " + msg}
}

// decodeProblems rewrites yaml.v3's type errors ("line 3: field foo not
// found in type config.Route") into the product's words.
func decodeProblems(name string, err error) Problems {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return Problems{syntaxProblem(name, err)}
	}
	out := make(Problems, 0, len(te.Errors))
	for _, e := range te.Errors {
		p := Problem{File: name, Msg: e}
		if m := yamlLineRe.FindStringSubmatch(e); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Msg = m[2]
		}
		if m := unknownKeyRe.FindStringSubmatch(p.Msg); m != nil {
			p.Msg = fmt.Sprintf("unknown key %q in %s", m[1], typeWords(m[2]))
		} else if m := cannotDecodeR.FindStringSubmatch(p.Msg); m != nil {
			p.Msg = fmt.Sprintf("expected %s, found %s %s", goTypeWords(m[3]), yamlKindWords(m[1]), strings.Trim(m[2], "`"))
		}
		out = append(out, p)
	}
	return out
}

func typeWords(t string) string {
	switch t {
	case "Config":
		return "the top level"
	case "AuthProvider":
		return "an auth provider"
	case "JWTAuth":
		return "jwt"
	case "APIKeyAuth":
		return "api_key"
	case "HealthCheck":
		return "health_check"
	case "RateLimit":
		return "rate_limit"
	case "FilterLimits":
		return "filter limits"
	case "AggregateTarget":
		return "an aggregate target"
	case "Endpoint", "Upstream", "Outlier", "APIKey":
		return "an " + strings.ToLower(t)
	}
	return "a " + strings.ToLower(t)
}

func goTypeWords(t string) string {
	switch {
	case strings.HasPrefix(t, "map"):
		return "a mapping"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case t == "int" || t == "int64":
		return "an integer"
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	}
	return "a mapping"
}

func yamlKindWords(tag string) string {
	switch tag {
	case "seq":
		return "a list"
	case "map":
		return "a mapping"
	case "str":
		return "the string"
	case "int", "float":
		return "the number"
	case "bool":
		return "the boolean"
	}
	return tag
}
