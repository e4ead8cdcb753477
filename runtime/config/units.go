package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as a Go duration string ("250ms").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML parses a Go duration; a bad one is reported with its line.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeError(n, "expected a duration like 250ms or 2s")
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return typeError(n, fmt.Sprintf("invalid duration %q (use Go durations like 250ms or 2s)", n.Value))
	}
	if v < 0 {
		return typeError(n, fmt.Sprintf("negative duration %q", n.Value))
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration back in its string form.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// Size is a byte count written as a number or with a unit (KiB, MiB, GiB, KB, MB).
type Size int64

var sizeUnits = []struct {
	suffix string
	factor int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

// ParseSize parses "16MiB", "512KiB" or a plain number of bytes.
func ParseSize(s string) (Size, error) {
	s = strings.TrimSpace(s)
	factor := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, factor = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/factor {
		return 0, fmt.Errorf("invalid size")
	}
	return Size(n * factor), nil
}

// UnmarshalYAML parses a size; a bad one is reported with its line.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeError(n, "expected a size like 16MiB")
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return typeError(n, fmt.Sprintf("invalid size %q (use bytes or KiB/MiB/GiB)", n.Value))
	}
	*s = v
	return nil
}

// UnmarshalYAML accepts a bare URL string or a {url, weight} mapping.
func (e *Endpoint) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*e = Endpoint{URL: n.Value}
		return nil
	case yaml.MappingNode:
		var errs []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch k.Value {
			case "url":
				if v.Kind != yaml.ScalarNode {
					errs = append(errs, fmt.Sprintf("line %d: expected the endpoint url as a string like http://host:port", v.Line))
					continue
				}
				e.URL = v.Value
			case "weight":
				w, err := strconv.Atoi(v.Value)
				if err != nil || v.Kind != yaml.ScalarNode {
					errs = append(errs, fmt.Sprintf("line %d: invalid weight %q (want a whole number 1..1000)", v.Line, v.Value))
					continue
				}
				e.Weight = w
			default:
				errs = append(errs, fmt.Sprintf("line %d: field %s not found in type config.Endpoint", k.Line, k.Value))
			}
		}
		if len(errs) > 0 {
			return &yaml.TypeError{Errors: errs}
		}
		return nil
	}
	return typeError(n, "an endpoint is a URL or {url: URL, weight: N}")
}

// typeError reports a problem in the form yaml.v3 collects, so decoding goes
// on and every problem of a file is reported at once.
func typeError(n *yaml.Node, msg string) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, msg)}}
}
