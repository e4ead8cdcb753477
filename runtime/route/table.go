// Package route compiles the routes of a config snapshot into an immutable
// Table and matches requests against it: the most specific route wins, as
// docs/architecture.md ("Route matching") defines.
//
// The Table is an index, not a list: routes are grouped by host (exact,
// wildcard suffix, any) and, within a host, by kind of path matcher, with
// segment tries for parameters and prefixes. A request looks at a handful of
// buckets whatever the number of routes, and Match does not allocate unless
// it captures parameters.
package route

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicegw/sluice/runtime/config"
)

// Table is an immutable, compiled set of routes. It is safe for concurrent use.
type Table struct {
	exact    map[string]*bucket // by lower-cased host
	wildcard map[string]*bucket // by the suffix after "*."
	any      *bucket            // routes without a host
}

// bucket holds the routes of one host matcher, by kind of path matcher. Every
// route in a bucket shares its host rank, so within a bucket path specificity
// decides, and each list is sorted most specific first.
type bucket struct {
	exact  map[string][]*Route // literal paths
	params paramNode           // paths with {name}
	prefix prefixNode          // path_prefix
	all    []*Route            // no path matcher
}

// New compiles routes (already validated by the config package) into an
// immutable Table. It returns an error naming the route for anything it
// cannot compile.
func New(routes []*config.Route) (*Table, error) {
	t := &Table{exact: map[string]*bucket{}, wildcard: map[string]*bucket{}}
	for i, c := range routes {
		r, err := compile(i, c)
		if err != nil {
			name := ""
			if c != nil {
				name = c.Name
			}
			return nil, fmt.Errorf("route %q (#%d): %w", name, i, err)
		}
		t.bucketFor(r).add(r)
	}
	for _, b := range t.buckets() {
		b.sort()
	}
	return t, nil
}

// bucketFor returns the bucket of a route's host matcher, creating it.
func (t *Table) bucketFor(r *Route) *bucket {
	var m map[string]*bucket
	switch r.rank.host {
	case hostAny:
		if t.any == nil {
			t.any = newBucket()
		}
		return t.any
	case hostWildcard:
		m = t.wildcard
	default:
		m = t.exact
	}
	b := m[r.hostKey]
	if b == nil {
		b = newBucket()
		m[r.hostKey] = b
	}
	return b
}

func (t *Table) buckets() []*bucket {
	var bs []*bucket
	for _, b := range t.exact {
		bs = append(bs, b)
	}
	for _, b := range t.wildcard {
		bs = append(bs, b)
	}
	if t.any != nil {
		bs = append(bs, t.any)
	}
	return bs
}

// Match returns the most specific route for a request, or nil. host may
// include a port (it is stripped) and is case-insensitive; path is the URL
// path (already decoded, as net/http's URL.Path); header looks up a request
// header value by canonical name (pass r.Header.Get; nil means no headers).
//
// A header condition with an empty value also matches an absent header,
// since header lookups cannot tell the two apart.
func (t *Table) Match(host, method, path string, header func(string) string) (*Route, Params) {
	req := request{method: method, path: path, header: header}
	h := requestHost(host)
	var best *Route
	if b := t.exact[h]; b != nil {
		best = b.match(&req)
	}
	if len(t.wildcard) > 0 {
		// Each '.' after a non-empty first label starts a suffix that a
		// wildcard may name: "a.b.example.com" looks up "b.example.com",
		// "example.com" and "com", never "a.b.example.com" itself.
		for i := 1; i < len(h); i++ {
			if h[i] == '.' {
				if b := t.wildcard[h[i+1:]]; b != nil {
					best = better(best, b.match(&req))
				}
			}
		}
	}
	if t.any != nil {
		best = better(best, t.any.match(&req))
	}
	if best == nil {
		return nil, nil
	}
	return best, best.capture(path)
}

func newBucket() *bucket { return &bucket{exact: map[string][]*Route{}} }

func (b *bucket) add(r *Route) {
	switch r.rank.path {
	case pathExact:
		b.exact[r.path] = append(b.exact[r.path], r)
	case pathParams:
		b.params.insert(r.segs, r)
	case pathPrefix:
		b.prefix.insert(r.segs, r.slash, r)
	default:
		b.all = append(b.all, r)
	}
}

// match returns the bucket's most specific route for the request. The kinds
// of path matcher are tried in order of precedence and the first hit wins,
// since every route of a bucket has the same host rank.
func (b *bucket) match(req *request) *Route {
	if r := first(b.exact[req.path], req); r != nil {
		return r
	}
	if strings.HasPrefix(req.path, "/") {
		if r := b.params.match(req, 1, nil); r != nil {
			return r
		}
	}
	if r := b.prefix.match(req); r != nil {
		return r
	}
	return first(b.all, req)
}

// sort orders every list of the bucket most specific first, so the matcher
// can stop at the first route whose conditions pass.
func (b *bucket) sort() {
	for _, rs := range b.exact {
		sortRoutes(rs)
	}
	sortRoutes(b.all)
	var walkParams func(n *paramNode)
	walkParams = func(n *paramNode) {
		sortRoutes(n.routes)
		for _, c := range n.literal {
			walkParams(c)
		}
		if n.param != nil {
			walkParams(n.param)
		}
	}
	walkParams(&b.params)
	var walkPrefix func(n *prefixNode)
	walkPrefix = func(n *prefixNode) {
		sortRoutes(n.here)
		sortRoutes(n.slash)
		for _, c := range n.children {
			walkPrefix(c)
		}
	}
	walkPrefix(&b.prefix)
}

func sortRoutes(rs []*Route) {
	slices.SortFunc(rs, func(a, b *Route) int {
		if a == b {
			return 0
		}
		if a.rank.beats(b.rank) {
			return -1
		}
		return 1
	})
}
