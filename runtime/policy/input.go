package policy

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/sluicegw/sluice/runtime/auth"
)

// Input is what a policy sees of one request. Value turns it into the input
// document of docs/policies.md ("The input document"):
//
//	{"request": {"method", "path", "host", "headers", "query", "remote_addr"},
//	 "route": "...",
//	 "auth": {"method", "subject", "claims", "consumer"}}
//
// "headers" maps each lower-cased header name to its first value; "query"
// maps each parameter to all its values; "remote_addr" is the client IP
// without a port. "auth" is always an object: on a route without
// authentication its fields are empty strings and claims is {}.
type Input struct {
	Method     string
	Path       string
	Host       string
	RemoteAddr string // "ip" or "ip:port"; the port is dropped
	Route      string
	Headers    http.Header
	Query      url.Values
	// RawQuery is parsed into Query when Query is nil, and only when the
	// policy reads input.request.query: most policies never do.
	RawQuery string
	Auth     *auth.Identity
}

// Keys of the input document, built once.
var (
	kRequest    = ast.StringTerm("request")
	kRoute      = ast.StringTerm("route")
	kAuth       = ast.StringTerm("auth")
	kMethod     = ast.StringTerm("method")
	kPath       = ast.StringTerm("path")
	kHost       = ast.StringTerm("host")
	kHeaders    = ast.StringTerm("headers")
	kQuery      = ast.StringTerm("query")
	kRemoteAddr = ast.StringTerm("remote_addr")
	kSubject    = ast.StringTerm("subject")
	kClaims     = ast.StringTerm("claims")
	kConsumer   = ast.StringTerm("consumer")
)

// commonHeaders holds the lower-cased name term of frequent headers, so
// building the input does not lower-case and allocate them per request.
var commonHeaders = func() map[string]*ast.Term {
	m := map[string]*ast.Term{}
	for _, h := range []string{
		"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
		"Connection", "Content-Length", "Content-Type", "Cookie", "Forwarded", "Host",
		"If-Modified-Since", "If-None-Match", "Origin", "Referer", "User-Agent",
		"X-Api-Key", "X-Api-Version", "X-Forwarded-For", "X-Forwarded-Host",
		"X-Forwarded-Proto", "X-Real-Ip", "X-Request-Id", "X-Tenant-Id",
		"Traceparent", "Tracestate",
	} {
		m[h] = ast.StringTerm(strings.ToLower(h))
	}
	return m
}()

func headerName(k string) *ast.Term {
	if t, ok := commonHeaders[k]; ok {
		return t
	}
	return ast.StringTerm(strings.ToLower(k))
}

// Value builds the whole input document as an OPA value, with no JSON in
// between.
func (in *Input) Value() ast.Value { return in.build(everything) }

// build builds the parts of the input document that n says a policy can
// read. Its terms come from one slice, so the allocations are few: one per
// string value, a handful per object.
func (in *Input) build(n *need) ast.Value {
	size := 12
	if req := n.get("request"); req != nil {
		if req.get("headers") != nil {
			size += len(in.Headers)
		}
		if req.get("query") != nil {
			if in.Query == nil && in.RawQuery != "" {
				in.Query, _ = url.ParseQuery(in.RawQuery) // what net/http's URL.Query does with errors
			}
			size += 2*len(in.Query) + countValues(in.Query)
		}
	}
	a := arena{terms: make([]ast.Term, size)}
	items := make([][2]*ast.Term, 0, 3)

	if req := n.get("request"); req != nil {
		items = append(items, ast.Item(kRequest, a.val(in.request(&a, req))))
	}
	if n.get("route") != nil {
		items = append(items, ast.Item(kRoute, a.str(in.Route)))
	}
	if au := n.get("auth"); au != nil {
		items = append(items, ast.Item(kAuth, a.val(identity(&a, in.Auth, au))))
	}
	return ast.NewObject(items...)
}

func (in *Input) request(a *arena, n *need) ast.Value {
	var items [6][2]*ast.Term
	i := 0
	add := func(k *ast.Term, v func() *ast.Term) {
		if n.get(string(k.Value.(ast.String))) != nil {
			items[i] = ast.Item(k, v())
			i++
		}
	}
	add(kMethod, func() *ast.Term { return a.str(in.Method) })
	add(kPath, func() *ast.Term { return a.str(in.Path) })
	add(kHost, func() *ast.Term { return a.str(in.Host) })
	add(kHeaders, func() *ast.Term { return a.val(headers(a, in.Headers, n.get("headers"))) })
	add(kQuery, func() *ast.Term { return a.val(query(a, in.Query, n.get("query"))) })
	add(kRemoteAddr, func() *ast.Term { return a.str(clientIP(in.RemoteAddr)) })
	return ast.NewObject(items[:i]...)
}

func headers(a *arena, h http.Header, n *need) ast.Value {
	items := make([][2]*ast.Term, 0, len(h))
	for k, vs := range h {
		if len(vs) == 0 {
			continue
		}
		name := headerName(k)
		if n.get(string(name.Value.(ast.String))) == nil {
			continue
		}
		items = append(items, ast.Item(name, a.str(vs[0])))
	}
	return ast.NewObject(items...)
}

func query(a *arena, q url.Values, n *need) ast.Value {
	items := make([][2]*ast.Term, 0, len(q))
	for k, vs := range q {
		if n.get(k) == nil {
			continue
		}
		vals := make([]*ast.Term, len(vs))
		for i, v := range vs {
			vals[i] = a.str(v)
		}
		items = append(items, ast.Item(a.str(k), a.val(ast.NewArray(vals...))))
	}
	return ast.NewObject(items...)
}

func identity(a *arena, id *auth.Identity, n *need) ast.Value {
	if id == nil {
		id = &noIdentity
	}
	var items [4][2]*ast.Term
	i := 0
	if n.get("method") != nil {
		items[i] = ast.Item(kMethod, a.str(id.Method))
		i++
	}
	if n.get("subject") != nil {
		items[i] = ast.Item(kSubject, a.str(id.Subject))
		i++
	}
	if c := n.get("claims"); c != nil {
		items[i] = ast.Item(kClaims, a.val(claims(id.Claims, c)))
		i++
	}
	if n.get("consumer") != nil {
		items[i] = ast.Item(kConsumer, a.str(id.Consumer))
		i++
	}
	return ast.NewObject(items[:i]...)
}

// claims converts the claims n asks for. Verified claims are decoded JSON
// and always convert; a hand-made value that does not is left out.
func claims(c map[string]any, n *need) ast.Value {
	if n.whole {
		if v, err := ast.InterfaceToValue(c); err == nil && c != nil {
			return v
		}
	}
	items := make([][2]*ast.Term, 0, len(n.sub))
	for k := range n.sub {
		raw, ok := c[k]
		if !ok {
			continue
		}
		if v, err := ast.InterfaceToValue(raw); err == nil {
			items = append(items, ast.Item(ast.StringTerm(k), ast.NewTerm(v)))
		}
	}
	return ast.NewObject(items...)
}

func countValues(q url.Values) int {
	n := 0
	for _, vs := range q {
		n += len(vs)
	}
	return n
}

var noIdentity auth.Identity

// arena hands out terms from one pre-sized slice.
type arena struct {
	terms []ast.Term
	next  int
}

func (a *arena) val(v ast.Value) *ast.Term {
	if a.next == len(a.terms) {
		return ast.NewTerm(v) // sized exactly; kept for safety
	}
	t := &a.terms[a.next]
	a.next++
	t.Value = v
	return t
}

func (a *arena) str(s string) *ast.Term {
	if s == "" {
		return emptyString
	}
	return a.val(ast.String(s))
}

var emptyString = ast.StringTerm("")

// clientIP drops the port of "ip:port" and the brackets of "[v6]:port".
func clientIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
