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

// secretKey stands for an API key in key paths.
const secretKey = ".<key>"

// located is one node of the document with its key path. Key nodes carry
// the path of the value they name.
type located struct {
	path string
	key  bool
	node *yaml.Node
}

// docIndex locates the nodes of one parsed document.
type docIndex struct {
	lines lineIndex
	// byLine lists every key and value node by line, in document order; it
	// turns yaml.v3's "line N: ..." errors back into key paths.
	byLine map[int][]located
	// complexKeys are mapping keys that are lists or mappings: they cannot
	// be decoded into a Go map, and JSON has no such keys.
	complexKeys []located
	used        map[*yaml.Node]bool
}

func indexLines(root *yaml.Node) lineIndex { return indexDoc(root).lines }

func indexDoc(root *yaml.Node) *docIndex {
	ix := &docIndex{lines: lineIndex{}, byLine: map[int][]located{}, used: map[*yaml.Node]bool{}}
	if len(root.Content) > 0 {
		ix.walk("", root.Content[0])
	}
	return ix
}

func (ix *docIndex) add(l located) {
	ix.byLine[l.node.Line] = append(ix.byLine[l.node.Line], l)
}

func (ix *docIndex) walk(path string, n *yaml.Node) {
	ix.lines[path] = n.Line
	ix.add(located{path: path, node: n})
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := k.Value
			switch {
			case strings.HasSuffix(path, ".api_key.keys"):
				// API keys are secrets: keep them out of messages and logs.
				child = path + secretKey
			case path != "":
				child = path + "." + k.Value
			}
			ix.add(located{path: child, key: true, node: k})
			if kk := resolveAlias(k); kk.Kind == yaml.MappingNode || kk.Kind == yaml.SequenceNode {
				ix.complexKeys = append(ix.complexKeys, located{path: path, key: true, node: k})
			}
			ix.walk(child, v)
			ix.lines[child] = k.Line // a problem with a value points at its key
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			ix.walk(path+"["+strconv.Itoa(i)+"]", v)
		}
	}
}

// resolveAlias follows an alias to the node it names (bounded: yaml.v3
// rejects an anchor that contains itself, but stay safe).
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; i < 100 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

// find returns the path of the first not yet claimed node on line that ok
// accepts, and claims it, so that two problems on one line (in a flow
// mapping) get two paths.
func (ix *docIndex) find(line int, ok func(located) bool) (string, bool) {
	for _, l := range ix.byLine[line] {
		if !ix.used[l.node] && ok(l) {
			ix.used[l.node] = true
			return l.path, true
		}
	}
	return "", false
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
