package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Load reads, strictly decodes, validates and completes the config at path.
// Relative module paths in it are resolved against its directory. The error,
// if any, is Problems listing everything found.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, Problems{{File: path, Msg: "cannot read the config: " + err.Error()}}
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
	if len(data) > MaxBytes {
		// Refused here, where validate, the publisher and a node all pass,
		// not by NATS at publish time with a payload error.
		return nil, Problems{{File: name, Line: 1, Msg: fmt.Sprintf(
			"the config is %d bytes, over the limit of %d: a snapshot travels to every node as one NATS message (1 MiB at most, with its signature); split large route sets or move data out of filter config",
			len(data), MaxBytes)}}
	}
	if cfg, ok := decodeClean(data); ok {
		applyDefaults(cfg)
		return cfg, nil
	}
	return parseReporting(data, name)
}

// decodeClean is Parse for a config with nothing to report: one strict
// decode, the check for a second document, validation. Anything else (a
// decode error, a problem, an empty document) is false, and parseReporting,
// which reads the text twice (a node tree to locate problems, then the
// strict decode), says what. Every node parses every snapshot it applies;
// the second read was half of that (BENCHMARKS.md, "Fleet convergence").
func decodeClean(data []byte) (*Config, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	cfg := &Config{}
	if err := dec.Decode(cfg); err != nil {
		return nil, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, false
	}
	// A null document decodes to nothing; parseReporting refuses it.
	if reflect.ValueOf(*cfg).IsZero() || len(validate(cfg)) > 0 {
		return nil, false
	}
	return cfg, true
}

// parseReporting is Parse for a config with something to report: every
// problem, located.
func parseReporting(data []byte, name string) (*Config, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, Problems{syntaxProblem(name, data, nil, err)}
	}
	if len(root.Content) == 0 || isNull(root.Content[0]) {
		// Most likely a truncated write; applying it would remove every
		// route, so it must be said explicitly.
		return nil, Problems{{File: name, Line: max(root.Line, 1),
			Msg: "the config is empty; an empty snapshot would remove every route (write routes: [] to mean that)"}}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, Problems{{File: name, Line: max(extra.Line, 1), Msg: "more than one YAML document; a config file is one snapshot"}}
	case !errors.Is(err, io.EOF):
		return nil, Problems{syntaxProblem(name, data, &root, err)}
	}

	ix := indexDoc(&root)
	if len(ix.complexKeys) > 0 {
		// yaml.v3 stops decoding at the first such key, so report them all
		// here instead.
		var problems Problems
		for _, k := range ix.complexKeys {
			problems = append(problems, Problem{File: name, Line: k.node.Line, Path: k.path,
				Msg: "a key must be a plain value, not a list or mapping"})
		}
		return nil, problems
	}

	cfg := &Config{}
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	var decoded Problems
	if err := strict.Decode(cfg); err != nil {
		decoded = decodeProblems(name, data, &root, ix, err)
	}
	problems := decoded
	for _, p := range validate(cfg) {
		if shadowed(p.Path, decoded) {
			continue
		}
		p.File = name
		p.Line = max(ix.lines.lookup(p.Path), 1)
		problems = append(problems, p)
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
		return nil, problems
	}
	applyDefaults(cfg)
	return cfg, nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// shadowed reports whether a validation problem at path is a consequence of
// a decoding problem: a value that could not be decoded reads as missing, so
// checks on it, inside it or on what holds it would only add noise.
func shadowed(path string, decoded Problems) bool {
	for _, d := range decoded {
		if d.Path != "" && (related(path, d.Path) || related(d.Path, path)) {
			return true
		}
	}
	return false
}

// related reports whether a is b or one of its ancestors.
func related(a, b string) bool {
	return a == b || (strings.HasPrefix(b, a) && (b[len(a)] == '.' || b[len(a)] == '['))
}

var (
	yamlLineRe    = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownKeyRe  = regexp.MustCompile(`^field (\S+) not found in type config\.(\w+)$`)
	cannotDecodeR = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (\\S+)$")
	duplicateKeyR = regexp.MustCompile(`^mapping key "(.*)" already defined at line (\d+)$`)
	anchorRe      = regexp.MustCompile(`anchor '([^']*)'`)
)

// parserErrors are the problems yaml.v3's parser (not its scanner) reports;
// their line is counted from 0, the scanner's from 1.
var parserErrors = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// syntaxProblem turns a YAML parser error into a located problem. yaml.v3
// leaves some errors without a line (bad UTF-8, unknown anchors) or with a
// line counted from 0; find the line from the input instead.
func syntaxProblem(name string, data []byte, root *yaml.Node, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if parserErrors[msg] {
			line++
		}
	} else {
		line = guessLine(data, root, msg)
	}
	line = min(max(line, 1), lineAt(data, len(bytes.TrimRight(data, "\r\n"))))
	if (strings.Contains(msg, "cannot start any token") || strings.Contains(msg, "tab character")) && tabIndented(data, line) {
		msg += " (tabs cannot indent YAML; use spaces)"
	}
	return Problem{File: name, Line: line, Msg: "malformed YAML: " + msg}
}

// guessLine finds the line of an error yaml.v3 reports without one.
func guessLine(data []byte, root *yaml.Node, msg string) int {
	if strings.Contains(msg, "UTF-") || strings.Contains(msg, "control characters") ||
		strings.Contains(msg, "Unicode") || strings.Contains(msg, "surrogate") {
		return lineAt(data, badCharOffset(data))
	}
	if m := anchorRe.FindStringSubmatch(msg); m != nil {
		mark := "&" + m[1]
		if strings.HasPrefix(msg, "unknown anchor") {
			mark = "*" + m[1]
		}
		if i := bytes.Index(data, []byte(mark)); i >= 0 {
			return lineAt(data, i)
		}
	}
	if strings.Contains(msg, "alias") && root != nil {
		if n := firstAlias(root); n != nil {
			return n.Line
		}
	}
	return 1
}

// badCharOffset returns the offset of the first byte yaml.v3's reader refuses.
func badCharOffset(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1,
			r < 0x20 && r != '\t' && r != '\n' && r != '\r',
			r >= 0x7f && r < 0xa0 && r != 0x85,
			r >= 0xd800 && r < 0xe000, r == 0xfffe, r == 0xffff:
			return i
		}
		i += size
	}
	return len(data)
}

// lineAt returns the line of offset, counting line breaks as YAML does:
// \n, \r\n and a lone \r.
func lineAt(data []byte, offset int) int {
	line := 1
	for i := 0; i < min(offset, len(data)); i++ {
		if data[i] == '\n' || (data[i] == '\r' && (i+1 >= len(data) || data[i+1] != '\n')) {
			line++
		}
	}
	return line
}

func tabIndented(data []byte, line int) bool {
	start := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexAny(data[start:], "\r\n")
		if i < 0 {
			return false
		}
		start += i + 1
		if data[start-1] == '\r' && start < len(data) && data[start] == '\n' {
			start++
		}
	}
	rest := data[start:]
	indent := rest[:len(rest)-len(bytes.TrimLeft(rest, " \t"))]
	return bytes.IndexByte(indent, '\t') >= 0
}

func firstAlias(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		return n
	}
	for _, c := range n.Content {
		if a := firstAlias(c); a != nil {
			return a
		}
	}
	return nil
}

// decodeProblems rewrites yaml.v3's type errors ("line 3: field foo not
// found in type config.Route") into the product's words, with the key path.
func decodeProblems(name string, data []byte, root *yaml.Node, ix *docIndex, err error) Problems {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return Problems{syntaxProblem(name, data, root, err)}
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
			p.Path, _ = ix.find(p.Line, func(l located) bool { return l.key && l.node.Value == m[1] })
		} else if m := duplicateKeyR.FindStringSubmatch(p.Msg); m != nil {
			p.Msg = fmt.Sprintf("key %q is written twice (first at line %s)", m[1], m[2])
			p.Path, _ = ix.find(p.Line, func(l located) bool { return l.key && l.node.Value == m[1] })
			if strings.HasSuffix(p.Path, secretKey) {
				p.Msg = fmt.Sprintf("a key is written twice (first at line %s)", m[2])
			}
		} else if m := cannotDecodeR.FindStringSubmatch(p.Msg); m != nil {
			tag, value := m[1], m[2]
			if value != "" {
				p.Msg = fmt.Sprintf("expected %s, found %s %q", goTypeWords(m[3]), yamlKindWords(tag), value)
			} else {
				p.Msg = fmt.Sprintf("expected %s, found %s", goTypeWords(m[3]), yamlKindWords(tag))
			}
			p.Path, _ = ix.find(p.Line, func(l located) bool {
				if l.key {
					return false
				}
				switch tag {
				case "seq":
					return resolveAlias(l.node).Kind == yaml.SequenceNode
				case "map":
					return resolveAlias(l.node).Kind == yaml.MappingNode
				}
				v := l.node.Value
				return l.node.Kind == yaml.ScalarNode && (v == value || (strings.HasSuffix(value, "...") && strings.HasPrefix(v, strings.TrimSuffix(value, "..."))))
			})
		} else {
			// Our own UnmarshalYAML messages quote the bad value, or are
			// about a list or mapping where a scalar belongs.
			var ok bool
			p.Path, ok = ix.find(p.Line, func(l located) bool {
				return !l.key && l.node.Kind == yaml.ScalarNode && strings.Contains(p.Msg, strconv.Quote(l.node.Value))
			})
			if !ok {
				p.Path, _ = ix.find(p.Line, func(l located) bool {
					return !l.key && l.node.Kind != yaml.ScalarNode
				})
			}
		}
		if p.Line <= 0 {
			p.Line = max(ix.lines.lookup(p.Path), 1)
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
	case "APIKey":
		return "an api key"
	case "Retries":
		return "retries"
	case "DecisionLog":
		return "decision_log"
	case "Endpoint", "Upstream", "Outlier":
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
