package route

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/sluicegw/sluice/runtime/config"
)

// Route is one compiled route of a Table.
type Route struct {
	Config *config.Route // the source
	Index  int           // position in the file

	rank    rank
	hostKey string   // bucket key: exact host or wildcard suffix
	path    string   // exact path, or the path_prefix without its trailing slash
	segs    []string // segments of path, for the tries
	slash   bool     // path_prefix ended with '/'
	params  []int    // segment positions of {name} segments, for capture
	methods []string // upper-cased; empty means any
	headers []header
	strip   string // rewrite.strip_prefix without trailing slashes
}

// header is one match.headers condition. The name is canonicalised once here
// so the caller's lookup (r.Header.Get) does not have to.
type header struct{ name, value string }

// request is what Match passes down the index; a pointer to it is cheaper
// than four arguments through the recursive trie walk.
type request struct {
	method string
	path   string
	header func(string) string
}

// errorf builds an error wrapping a sentinel with detail.
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}

// compile turns one config route into a Route, or an error saying why not.
func compile(index int, c *config.Route) (*Route, error) {
	if c == nil {
		return nil, errorf(ErrInvalidRoute, "route is empty")
	}
	r := &Route{Config: c, Index: index}
	r.rank.index = index
	m := c.Match

	kind, key, err := compileHost(m.Host)
	if err != nil {
		return nil, err
	}
	r.rank.host, r.hostKey = kind, key
	if kind == hostWildcard {
		r.rank.hostScore = len(key)
	}

	if err := r.compilePath(m.Path, m.PathPrefix); err != nil {
		return nil, err
	}

	for _, meth := range m.Methods {
		if meth == "" {
			return nil, errorf(ErrInvalidRoute, "empty method")
		}
		r.methods = append(r.methods, strings.ToUpper(meth))
	}
	r.rank.methods = len(r.methods) > 0

	for name, value := range m.Headers {
		if name == "" {
			return nil, errorf(ErrInvalidRoute, "empty header name")
		}
		r.headers = append(r.headers, header{http.CanonicalHeaderKey(name), value})
	}
	r.rank.headers = len(r.headers)

	if c.Rewrite != nil {
		if r.strip, err = compileStrip(c.Rewrite.StripPrefix); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// compilePath sets the path matcher and its rank.
func (r *Route) compilePath(path, prefix string) error {
	switch {
	case path != "" && prefix != "":
		return errorf(ErrInvalidRoute, "match sets both path and path_prefix")
	case path != "":
		return r.compileExact(path)
	case prefix != "":
		return r.compilePrefix(prefix)
	}
	r.rank.path = pathAny
	return nil
}

// compileExact compiles match.path: a literal path, or one whose segments
// written {name} capture a value. A brace anywhere else is refused, so a
// typo such as "/users/{id" fails at load rather than never matching.
func (r *Route) compileExact(path string) error {
	r.path = path
	if !strings.ContainsAny(path, "{}") {
		r.rank.path = pathExact
		return nil
	}
	if path[0] != '/' {
		return errorf(ErrInvalidPath, "path %q with parameters must start with /", path)
	}
	seen := map[string]bool{}
	literals := 0
	for i, next := 1, 0; i <= len(path); i = next {
		var seg string
		seg, next = segment(path, i)
		name, ok := paramName(seg)
		switch {
		case ok && !strings.ContainsAny(name, "{}") && !seen[name]:
			seen[name] = true
			r.params = append(r.params, len(r.segs))
		case ok && seen[name]:
			return errorf(ErrInvalidPath, "path %q repeats parameter {%s}", path, name)
		case strings.ContainsAny(seg, "{}"):
			return errorf(ErrInvalidPath, "path %q: segment %q must be a whole {name} or hold no braces", path, seg)
		default:
			literals++
		}
		r.segs = append(r.segs, seg)
	}
	r.rank.path, r.rank.pathScore = pathParams, literals
	return nil
}

// compilePrefix compiles match.path_prefix into trie segments. "/users/" is
// kept distinct from "/users" (it needs a segment after "/users"), and is the
// more specific of the two, as the longer prefix.
func (r *Route) compilePrefix(prefix string) error {
	if prefix[0] != '/' {
		return errorf(ErrInvalidPath, "path_prefix %q must start with /", prefix)
	}
	if strings.ContainsAny(prefix, "{}") {
		return errorf(ErrInvalidPath, "path_prefix %q cannot hold {parameters}; use path", prefix)
	}
	r.rank.path, r.rank.pathScore = pathPrefix, len(prefix)
	r.path, r.slash = strings.CutSuffix(prefix, "/")
	for i, next := 1, 0; i <= len(r.path); i = next {
		var seg string
		seg, next = segment(r.path, i)
		r.segs = append(r.segs, seg)
	}
	return nil
}

// accepts reports whether the request passes the route's method and header
// conditions; the path and host were matched by the index.
func (r *Route) accepts(req *request) bool {
	if len(r.methods) > 0 {
		ok := false
		for _, m := range r.methods {
			if m == req.method {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, h := range r.headers {
		v := ""
		if req.header != nil {
			v = req.header(h.name)
		}
		if v != h.value {
			return false
		}
	}
	return true
}

// first returns the first route of a most-specific-first list that accepts
// the request.
func first(routes []*Route, req *request) *Route {
	for _, r := range routes {
		if r.accepts(req) {
			return r
		}
	}
	return nil
}

// capture returns the {name} values of a matched params pattern. It is called
// once, for the winner, so losing candidates cost no allocation.
func (r *Route) capture(path string) Params {
	if len(r.params) == 0 {
		return nil
	}
	ps := make(Params, 0, len(r.params))
	k := 0
	for i, next, n := 1, 0, 0; i <= len(path) && k < len(r.params); i, n = next, n+1 {
		var seg string
		seg, next = segment(path, i)
		if n == r.params[k] {
			name, _ := paramName(r.segs[n])
			ps = append(ps, Param{Name: name, Value: seg})
			k++
		}
	}
	return ps
}
