package route

// paramNode is a node of the trie of `path` patterns holding {name} segments.
// Each level is one path segment; a request walks the literal child and the
// param child, so the cost is bounded by the request's segments and the
// patterns that share its shape, not by the number of routes.
type paramNode struct {
	literal map[string]*paramNode
	param   *paramNode // child for a {name} segment, whatever the name
	routes  []*Route   // patterns ending here, most specific first
}

func (n *paramNode) insert(segs []string, r *Route) {
	for _, s := range segs {
		if _, ok := paramName(s); ok {
			if n.param == nil {
				n.param = &paramNode{}
			}
			n = n.param
			continue
		}
		if n.literal == nil {
			n.literal = map[string]*paramNode{}
		}
		c := n.literal[s]
		if c == nil {
			c = &paramNode{}
			n.literal[s] = c
		}
		n = c
	}
	n.routes = append(n.routes, r)
}

// match returns the most specific route among best and the patterns under n
// that match the path from byte i on. Several patterns may match one path
// ("/users/{id}" and "/{kind}/7"), and the one with more literal segments need
// not be found first, so both branches are walked and ranks compared.
func (n *paramNode) match(req *request, i int, best *Route) *Route {
	if i > len(req.path) {
		return better(best, first(n.routes, req))
	}
	seg, next := segment(req.path, i)
	if c := n.literal[seg]; c != nil {
		best = c.match(req, next, best)
	}
	if n.param != nil && seg != "" {
		best = n.param.match(req, next, best)
	}
	return best
}

// prefixNode is a node of the trie of path_prefix values, one level per
// segment. Parent links let Match walk down once to the deepest node the path
// reaches and then back up, longest prefix first, without a stack.
type prefixNode struct {
	parent   *prefixNode
	children map[string]*prefixNode
	// here holds prefixes ending at this node without a trailing slash
	// ("/users"): they match the node's path and everything below it.
	here []*Route
	// slash holds prefixes ending at this node with a trailing slash
	// ("/users/"): they need at least one more segment, so they match
	// "/users/" and "/users/7" but not "/users". The prefix "/" is the root's
	// slash list.
	slash []*Route
}

// insert adds a path_prefix. The prefix has been split into its segments
// (without a trailing slash) and slash says whether it had one.
func (n *prefixNode) insert(segs []string, slash bool, r *Route) {
	for _, s := range segs {
		if n.children == nil {
			n.children = map[string]*prefixNode{}
		}
		c := n.children[s]
		if c == nil {
			c = &prefixNode{parent: n}
			n.children[s] = c
		}
		n = c
	}
	if slash {
		n.slash = append(n.slash, r)
	} else {
		n.here = append(n.here, r)
	}
}

// match returns the route with the longest prefix of the path that passes its
// method and header conditions. Routes in one list share a prefix, so the
// first that passes is the most specific of its list.
func (root *prefixNode) match(req *request) *Route {
	p := req.path
	if p == "" || p[0] != '/' {
		// Only "/" matches a path that is not absolute ("*", or a CONNECT's
		// empty path): the contract says it matches everything.
		return first(root.slash, req)
	}
	n, i := root, 1
	for i <= len(p) {
		seg, next := segment(p, i)
		c := n.children[seg]
		if c == nil {
			break
		}
		n, i = c, next
	}
	for more := i <= len(p); n != nil; n, more = n.parent, true {
		if more {
			if r := first(n.slash, req); r != nil {
				return r
			}
		}
		if r := first(n.here, req); r != nil {
			return r
		}
	}
	return nil
}
