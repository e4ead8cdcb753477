package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strconv"
	"strings"
)

// key is one config key: where it sits, what it holds and what it means.
type key struct {
	Path     []step
	Type     string // as the reference shows it: string, duration, list of strings, ...
	Doc      string
	Children []*key
	Line     int // in schema.go, for error messages
}

// A step of a key's path: a mapping key, any entry of a map (named by
// the user), or any item of a list.
type step struct {
	Field string // a fixed key; "" for the two below
	Entry string // a map's entries, shown as NAME (upper case of the value type's role)
	Item  bool   // a list's items
}

// Display is the path as the reference writes it: routes[].match.path,
// upstreams.NAME.timeout.
func (k *key) Display() string { return displayPath(k.Path) }

func displayPath(p []step) string {
	var b strings.Builder
	for _, s := range p {
		switch {
		case s.Item:
			b.WriteString("[]")
		case s.Entry != "":
			b.WriteString("." + s.Entry)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.Field)
		}
	}
	return b.String()
}

// schema is the parsed schema file: its struct types by name, with docs.
type schema struct {
	fset    *token.FileSet
	structs map[string]*ast.TypeSpec
	docs    map[string]string // type name -> its doc comment
}

func parseSchema(file string, src any) (*schema, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	s := &schema{fset: fset, structs: map[string]*ast.TypeSpec{}, docs: map[string]string{}}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			doc := ts.Doc
			if doc == nil {
				doc = gd.Doc
			}
			s.docs[ts.Name.Name] = doc.Text()
			if _, ok := ts.Type.(*ast.StructType); ok {
				s.structs[ts.Name.Name] = ts
			}
		}
	}
	return s, nil
}

// keys walks the schema from the struct named root. Every field with a yaml
// tag is a key; one without a doc comment is an error.
func (s *schema) keys(root string) ([]*key, []error) {
	var errs []error
	var walk func(typeName string, prefix []step) []*key
	walk = func(typeName string, prefix []step) []*key {
		ts := s.structs[typeName]
		var out []*key
		for _, field := range ts.Type.(*ast.StructType).Fields.List {
			name := yamlName(field)
			if name == "" {
				continue
			}
			path := append(append([]step(nil), prefix...), step{Field: name})
			k := &key{Path: path, Line: s.fset.Position(field.Pos()).Line}
			k.Doc = strings.TrimSpace(strings.Join([]string{field.Doc.Text(), field.Comment.Text()}, " "))
			if k.Doc == "" {
				errs = append(errs, fmt.Errorf("schema.go:%d: key %s (field %s) has no doc comment", k.Line, k.Display(), field.Names[0].Name))
			}
			var inner string
			k.Type, inner, path = s.describe(field.Type, path)
			if inner != "" {
				k.Children = walk(inner, path)
			}
			out = append(out, k)
		}
		return out
	}
	return walk(root, nil), errs
}

// describe names a field's type for the reader, and returns the struct
// whose keys sit below it (if any) and the path those keys hang from.
func (s *schema) describe(expr ast.Expr, path []step) (shown, inner string, below []step) {
	switch t := expr.(type) {
	case *ast.StarExpr:
		return s.describe(t.X, path)
	case *ast.ArrayType:
		elem, inner, below := s.describe(t.Elt, append(path, step{Item: true}))
		return "list of " + plural(elem), inner, below
	case *ast.MapType:
		entry := strings.ToUpper(entryName(t.Value))
		elem, inner, below := s.describe(t.Value, append(path, step{Entry: entry}))
		return "map of " + entry + " to " + elem, inner, below
	case *ast.Ident:
		switch t.Name {
		case "string":
			return "string", "", path
		case "int":
			return "integer", "", path
		case "float64":
			return "number", "", path
		case "bool":
			return "boolean", "", path
		case "any":
			return "any YAML value", "", path
		case "Duration":
			return "duration", "", path
		case "Size":
			return "size", "", path
		case "HashOn", "RateKey":
			return "string", "", path // parsed from a string, written as one
		}
		if _, ok := s.structs[t.Name]; ok {
			return "mapping", t.Name, path
		}
	}
	return fmt.Sprintf("%T", expr), "", path
}

// entryName is how a map's entries are called in paths: NAME for named
// things (upstreams.NAME), the value for string maps (headers.HEADER).
func entryName(value ast.Expr) string {
	if id, ok := value.(*ast.Ident); ok && id.Name == "string" {
		return "key"
	}
	if id, ok := value.(*ast.Ident); ok && id.Name == "APIKey" {
		return "key"
	}
	return "name"
}

func plural(t string) string {
	switch t {
	case "mapping":
		return "mappings"
	case "string", "integer", "number", "duration", "size":
		return t + "s"
	}
	return t
}

// yamlName is the field's key in YAML; "" for fields that are not keys.
func yamlName(f *ast.Field) string {
	if f.Tag == nil || len(f.Names) == 0 {
		return ""
	}
	tag, err := strconv.Unquote(f.Tag.Value)
	if err != nil {
		return ""
	}
	name, _, _ := strings.Cut(reflect.StructTag(tag).Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}
