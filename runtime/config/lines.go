package config

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// lineIndex maps key paths ("routes[1].match.path") to the line they are
// written on, so that validation, which works on decoded structs, can still
// say where a problem is.
type lineIndex map[string]int

func indexLines(root *yaml.Node) lineIndex {
	idx := lineIndex{}
	if len(root.Content) > 0 {
		idx.walk("", root.Content[0])
	}
	return idx
}

func (idx lineIndex) walk(path string, n *yaml.Node) {
	idx[path] = n.Line
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := k.Value
			if path != "" {
				child = path + "." + k.Value
			}
			idx.walk(child, v)
			idx[child] = k.Line // a problem with a value points at its key
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			idx.walk(path+"["+strconv.Itoa(i)+"]", v)
		}
	}
}

// lookup returns the line of path, or of its nearest written ancestor when
// the problem is a missing key.
func (idx lineIndex) lookup(path string) int {
	for {
		if l, ok := idx[path]; ok {
			return l
		}
		cut := strings.LastIndexAny(path, ".[")
		if cut < 0 {
			return idx[""]
		}
		path = path[:cut]
	}
}
