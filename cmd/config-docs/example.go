package main

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sluicegw/sluice/runtime/config"
)

// example.yaml is a complete config: every key of the schema is set
// somewhere in it. It gives each key its example, and, with the key taken
// out, its default.
//
//go:embed example.yaml
var exampleYAML []byte

// occurrence is where a key is first set in the example: its value node, the
// mapping holding it (to take it out), and the concrete path to it (map
// entries by name, list items by index) for reading the decoded Config.
type occurrence struct {
	value, parent *yaml.Node
	index         int // of the key node in parent.Content
	concrete      []string
}

func parseExample(data []byte) (*yaml.Node, error) {
	if _, err := config.Parse(data, "example.yaml"); err != nil {
		return nil, fmt.Errorf("example.yaml is not a valid config: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	return root.Content[0], nil
}

// find returns the first place the example sets the key at path.
func find(n *yaml.Node, path []step, concrete []string) *occurrence {
	if len(path) == 0 {
		return nil
	}
	s, rest := path[0], path[1:]
	switch {
	case s.Item:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for i, item := range n.Content {
			if o := find(item, rest, append(slices.Clone(concrete), strconv.Itoa(i))); o != nil {
				return o
			}
		}
	case s.Entry != "":
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if o := find(n.Content[i+1], rest, append(slices.Clone(concrete), n.Content[i].Value)); o != nil {
				return o
			}
		}
	default:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value != s.Field {
				continue
			}
			concrete := append(slices.Clone(concrete), s.Field)
			if len(rest) == 0 {
				return &occurrence{value: n.Content[i+1], parent: n, index: i, concrete: concrete}
			}
			return find(n.Content[i+1], rest, concrete)
		}
	}
	return nil
}

// exampleText is the occurrence's value as one line of YAML.
func exampleText(o *occurrence) (string, error) {
	n := flowCopy(o.value)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

func flowCopy(n *yaml.Node) *yaml.Node {
	c := *n
	c.HeadComment, c.LineComment, c.FootComment = "", "", ""
	if c.Kind == yaml.MappingNode || c.Kind == yaml.SequenceNode {
		c.Style = yaml.FlowStyle
	}
	c.Content = nil
	for _, child := range n.Content {
		c.Content = append(c.Content, flowCopy(child))
	}
	return &c
}

// errRequired: the example is no longer a valid config without the key.
var errRequired = errors.New("required")

// defaultOf takes the key out of the example, parses what is left as a node
// would, and reads what the decoded config holds in its place: the default
// that config.Parse fills in. "" when it stays empty.
func defaultOf(root *yaml.Node, o *occurrence) (string, error) {
	saved := slices.Clone(o.parent.Content)
	o.parent.Content = slices.Delete(o.parent.Content, o.index, o.index+2)
	data, err := yaml.Marshal(root)
	o.parent.Content = saved
	if err != nil {
		return "", err
	}
	cfg, err := config.Parse(data, "example.yaml")
	if err != nil {
		return "", errRequired
	}
	v, ok := lookup(reflect.ValueOf(cfg), o.concrete)
	if !ok {
		return "", nil
	}
	if v.IsZero() {
		// A number left out is 0, and that is its meaning (no retries);
		// an empty string or block means "not set".
		if k := v.Kind(); k == reflect.Int || k == reflect.Float64 {
			return "0", nil
		}
		return "", nil
	}
	return format(v), nil
}

// lookup follows a concrete path through the decoded Config by yaml tags.
func lookup(v reflect.Value, path []string) (reflect.Value, bool) {
	for _, p := range path {
		for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
			if v.IsNil() {
				return v, false
			}
			v = v.Elem()
		}
		switch v.Kind() {
		case reflect.Struct:
			f, ok := fieldByTag(v, p)
			if !ok {
				return v, false
			}
			v = f
		case reflect.Map:
			v = v.MapIndex(reflect.ValueOf(p))
			if !v.IsValid() {
				return v, false
			}
		case reflect.Slice:
			i, err := strconv.Atoi(p)
			if err != nil || i >= v.Len() {
				return v, false
			}
			v = v.Index(i)
		default:
			return v, false
		}
	}
	return v, true
}

func fieldByTag(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag == name {
			return v.Field(i), true
		}
	}
	return v, false
}

var (
	durationType = reflect.TypeFor[config.Duration]()
	sizeType     = reflect.TypeFor[config.Size]()
)

// format writes a decoded value the way a config would: durations and sizes
// with units, lists and mappings in flow style.
func format(v reflect.Value) string {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	switch {
	case v.Type() == durationType:
		return time.Duration(v.Int()).String()
	case v.Type() == sizeType:
		return formatSize(v.Int())
	}
	if s, ok := v.Interface().(fmt.Stringer); ok {
		return s.String() // a value parsed from a string: hash_on, a rate limit key
	}
	switch v.Kind() {
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = format(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Struct:
		var parts []string
		for i := range v.NumField() {
			tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" || v.Field(i).IsZero() {
				continue
			}
			parts = append(parts, tag+": "+format(v.Field(i)))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	}
	return fmt.Sprint(v.Interface())
}

func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.name)
		}
	}
	return strconv.FormatInt(n, 10)
}
