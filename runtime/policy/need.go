package policy

import "github.com/open-policy-agent/opa/v1/ast"

// need is the part of the input document a compiled policy can read: a tree
// of the constant keys its input references name. A node is whole when some
// reference reads it entirely or with a key only known at evaluation time
// (input.request.headers[data.header], input, walk(input.auth)...).
//
// Leaving out what no reference can reach changes no decision and makes
// building the input per request much cheaper: the RBAC example reads three
// values, not every header, query parameter and claim. The analysis is
// conservative: any use of input it cannot follow makes the whole document
// needed.
type need struct {
	whole bool
	sub   map[string]*need
}

// everything is the need of a policy that reads the whole input.
var everything = &need{whole: true}

// get returns the need below key, nil when nothing below key is read.
func (n *need) get(key string) *need {
	if n.whole {
		return everything
	}
	return n.sub[key]
}

func (n *need) add(path ast.Ref) {
	for _, t := range path {
		if n.whole {
			return
		}
		k, ok := t.Value.(ast.String)
		if !ok {
			break
		}
		if n.sub == nil {
			n.sub = map[string]*need{}
		}
		next := n.sub[string(k)]
		if next == nil {
			next = &need{}
			n.sub[string(k)] = next
		}
		n = next
	}
	n.whole, n.sub = true, nil
}

// needsOf finds what the compiled modules read of input.
func needsOf(modules map[string]*ast.Module) *need {
	root := &need{}
	var vis *ast.GenericVisitor
	vis = ast.NewGenericVisitor(func(x any) bool {
		switch x := x.(type) {
		case ast.Ref:
			if x[0].Equal(ast.InputRootDocument) {
				root.add(x[1:])
				for _, t := range x[1:] {
					vis.Walk(t) // references inside the path, as in input.x[input.y]
				}
				return true
			}
		case ast.Var:
			if x.Equal(ast.InputRootDocument.Value) {
				root.whole = true // input outside a reference
			}
		}
		return false
	})
	for _, m := range modules {
		vis.Walk(m)
	}
	return root
}
