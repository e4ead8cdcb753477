package route

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/sluicegw/sluice/runtime/config"
)

// rt builds a config route for the tables below.
func rt(name string, m config.Match) *config.Route { return &config.Route{Name: name, Match: m} }

type req struct {
	host, method, path string
	headers            map[string]string
}

func get(host, path string) req { return req{host: host, method: "GET", path: path} }

func TestMatch(t *testing.T) {
	tests := []struct {
		name   string
		routes []*config.Route
		req    req
		want   string // route name, "" for no match
		params Params
	}{
		// host
		{"exact host", []*config.Route{rt("a", config.Match{Host: "api.example.com"})}, get("api.example.com", "/"), "a", nil},
		{"exact host other host", []*config.Route{rt("a", config.Match{Host: "api.example.com"})}, get("web.example.com", "/"), "", nil},
		{"host case-insensitive", []*config.Route{rt("a", config.Match{Host: "API.example.com"})}, get("api.EXAMPLE.com", "/"), "a", nil},
		{"host trailing dot is the same name", []*config.Route{rt("a", config.Match{Host: "api.example.com"})}, get("api.example.com.:8443", "/"), "a", nil},
		{"host port stripped", []*config.Route{rt("a", config.Match{Host: "api.example.com"})}, get("api.example.com:8443", "/"), "a", nil},
		{"ipv6 host port stripped", []*config.Route{rt("a", config.Match{Host: "[::1]"})}, get("[::1]:8080", "/"), "a", nil},
		{"empty host matches any", []*config.Route{rt("a", config.Match{})}, get("whatever.test:1", "/"), "a", nil},
		{"empty host matches no host", []*config.Route{rt("a", config.Match{})}, get("", "/"), "a", nil},
		{"wildcard one label", []*config.Route{rt("w", config.Match{Host: "*.example.com"})}, get("api.example.com", "/"), "w", nil},
		{"wildcard several labels", []*config.Route{rt("w", config.Match{Host: "*.example.com"})}, get("a.b.example.com", "/"), "w", nil},
		{"wildcard not apex", []*config.Route{rt("w", config.Match{Host: "*.example.com"})}, get("example.com", "/"), "", nil},
		{"wildcard not empty label", []*config.Route{rt("w", config.Match{Host: "*.example.com"})}, get(".example.com", "/"), "", nil},
		{"wildcard not other suffix", []*config.Route{rt("w", config.Match{Host: "*.example.com"})}, get("badexample.com", "/"), "", nil},
		{"wildcard with port and case", []*config.Route{rt("w", config.Match{Host: "*.Example.com"})}, get("API.example.COM:80", "/"), "w", nil},
		{"exact host beats wildcard", []*config.Route{
			rt("w", config.Match{Host: "*.example.com"}),
			rt("e", config.Match{Host: "api.example.com"}),
		}, get("api.example.com", "/"), "e", nil},
		{"longer wildcard beats shorter", []*config.Route{
			rt("short", config.Match{Host: "*.example.com"}),
			rt("long", config.Match{Host: "*.api.example.com"}),
		}, get("v1.api.example.com", "/"), "long", nil},
		{"wildcard beats no host", []*config.Route{
			rt("any", config.Match{}),
			rt("w", config.Match{Host: "*.example.com"}),
		}, get("api.example.com", "/"), "w", nil},

		// path
		{"exact path", []*config.Route{rt("a", config.Match{Path: "/hello"})}, get("h", "/hello"), "a", nil},
		{"exact path no trailing slash", []*config.Route{rt("a", config.Match{Path: "/hello"})}, get("h", "/hello/"), "", nil},
		{"exact path not prefix", []*config.Route{rt("a", config.Match{Path: "/hello"})}, get("h", "/hello/x"), "", nil},
		{"params capture", []*config.Route{rt("a", config.Match{Path: "/users/{id}/orders/{order}"})}, get("h", "/users/7/orders/9"),
			"a", Params{{"id", "7"}, {"order", "9"}}},
		{"param needs non-empty segment", []*config.Route{rt("a", config.Match{Path: "/users/{id}"})}, get("h", "/users/"), "", nil},
		{"param is one segment", []*config.Route{rt("a", config.Match{Path: "/users/{id}"})}, get("h", "/users/7/x"), "", nil},
		{"param then literal", []*config.Route{rt("a", config.Match{Path: "/users/{id}/orders"})}, get("h", "/users/7/orders"), "a", Params{{"id", "7"}}},
		{"prefix segment", []*config.Route{rt("a", config.Match{PathPrefix: "/users"})}, get("h", "/users"), "a", nil},
		{"prefix segment slash", []*config.Route{rt("a", config.Match{PathPrefix: "/users"})}, get("h", "/users/"), "a", nil},
		{"prefix segment below", []*config.Route{rt("a", config.Match{PathPrefix: "/users"})}, get("h", "/users/7"), "a", nil},
		{"prefix not mid-segment", []*config.Route{rt("a", config.Match{PathPrefix: "/users"})}, get("h", "/usersX"), "", nil},
		{"prefix not parent", []*config.Route{rt("a", config.Match{PathPrefix: "/users"})}, get("h", "/"), "", nil},
		{"prefix with slash needs more", []*config.Route{rt("a", config.Match{PathPrefix: "/users/"})}, get("h", "/users"), "", nil},
		{"prefix with slash below", []*config.Route{rt("a", config.Match{PathPrefix: "/users/"})}, get("h", "/users/7"), "a", nil},
		{"prefix root", []*config.Route{rt("a", config.Match{PathPrefix: "/"})}, get("h", "/anything/at/all"), "a", nil},
		{"prefix root matches asterisk", []*config.Route{rt("a", config.Match{PathPrefix: "/"})}, req{"h", "OPTIONS", "*", nil}, "a", nil},
		{"no path matcher matches all", []*config.Route{rt("a", config.Match{})}, get("h", "/x/y"), "a", nil},

		// path specificity
		{"literal beats params", []*config.Route{
			rt("param", config.Match{Path: "/users/{id}"}),
			rt("lit", config.Match{Path: "/users/me"}),
		}, get("h", "/users/me"), "lit", nil},
		{"more literal segments win", []*config.Route{
			rt("one", config.Match{Path: "/{kind}/{id}/orders"}),
			rt("two", config.Match{Path: "/users/{id}/orders"}),
		}, get("h", "/users/7/orders"), "two", Params{{"id", "7"}}},
		{"more literals found in later branch", []*config.Route{
			rt("one", config.Match{Path: "/users/{a}/{b}"}),
			rt("two", config.Match{Path: "/{k}/x/y"}),
		}, get("h", "/users/x/y"), "two", Params{{"k", "users"}}},
		{"params beat prefix", []*config.Route{
			rt("prefix", config.Match{PathPrefix: "/users/7"}),
			rt("param", config.Match{Path: "/users/{id}"}),
		}, get("h", "/users/7"), "param", Params{{"id", "7"}}},
		{"longer prefix wins", []*config.Route{
			rt("short", config.Match{PathPrefix: "/users"}),
			rt("long", config.Match{PathPrefix: "/users/7"}),
		}, get("h", "/users/7/x"), "long", nil},
		{"longer prefix falls back to shorter", []*config.Route{
			rt("short", config.Match{PathPrefix: "/users"}),
			rt("long", config.Match{PathPrefix: "/users/7", Methods: []string{"POST"}}),
		}, get("h", "/users/7/x"), "short", nil},
		{"prefix slash beats prefix", []*config.Route{
			rt("bare", config.Match{PathPrefix: "/users"}),
			rt("slash", config.Match{PathPrefix: "/users/"}),
		}, get("h", "/users/7"), "slash", nil},
		{"prefix root beats no path", []*config.Route{
			rt("none", config.Match{}),
			rt("root", config.Match{PathPrefix: "/"}),
		}, get("h", "/x"), "root", nil},
		{"path beats host", []*config.Route{
			rt("host", config.Match{Host: "api.example.com", PathPrefix: "/users"}),
			rt("path", config.Match{Path: "/users/7"}),
		}, get("api.example.com", "/users/7"), "path", nil},
		{"longer prefix beats exact host", []*config.Route{
			rt("host", config.Match{Host: "api.example.com", PathPrefix: "/users"}),
			rt("path", config.Match{Host: "*.com", PathPrefix: "/users/7"}),
		}, get("api.example.com", "/users/7"), "path", nil},

		// methods
		{"method listed", []*config.Route{rt("a", config.Match{Methods: []string{"GET", "POST"}})}, req{"h", "POST", "/", nil}, "a", nil},
		{"method not listed", []*config.Route{rt("a", config.Match{Methods: []string{"GET"}})}, req{"h", "DELETE", "/", nil}, "", nil},
		{"config method upper-cased", []*config.Route{rt("a", config.Match{Methods: []string{"get"}})}, req{"h", "GET", "/", nil}, "a", nil},
		{"request method compared exactly", []*config.Route{rt("a", config.Match{Methods: []string{"GET"}})}, req{"h", "get", "/", nil}, "", nil},

		// headers
		{"header present", []*config.Route{rt("a", config.Match{Headers: map[string]string{"X-Api-Version": "2"}})},
			req{"h", "GET", "/", map[string]string{"X-Api-Version": "2"}}, "a", nil},
		{"header name any case", []*config.Route{rt("a", config.Match{Headers: map[string]string{"x-api-VERSION": "2"}})},
			req{"h", "GET", "/", map[string]string{"X-Api-Version": "2"}}, "a", nil},
		{"header other value", []*config.Route{rt("a", config.Match{Headers: map[string]string{"X-Api-Version": "2"}})},
			req{"h", "GET", "/", map[string]string{"X-Api-Version": "20"}}, "", nil},
		{"header absent", []*config.Route{rt("a", config.Match{Headers: map[string]string{"X-Api-Version": "2"}})},
			get("h", "/"), "", nil},

		// narrowing order after path
		{"host beats methods", []*config.Route{
			rt("method", config.Match{PathPrefix: "/u", Methods: []string{"GET"}, Headers: map[string]string{"X-A": "1"}}),
			rt("host", config.Match{PathPrefix: "/u", Host: "*.example.com"}),
		}, req{"api.example.com", "GET", "/u", map[string]string{"X-A": "1"}}, "host", nil},
		{"methods beat headers", []*config.Route{
			rt("headers", config.Match{Path: "/u", Headers: map[string]string{"X-A": "1", "X-B": "2"}}),
			rt("method", config.Match{Path: "/u", Methods: []string{"GET"}}),
		}, req{"h", "GET", "/u", map[string]string{"X-A": "1", "X-B": "2"}}, "method", nil},
		{"more headers win", []*config.Route{
			rt("one", config.Match{Path: "/u", Headers: map[string]string{"X-A": "1"}}),
			rt("two", config.Match{Path: "/u", Headers: map[string]string{"X-A": "1", "X-B": "2"}}),
		}, req{"h", "GET", "/u", map[string]string{"X-A": "1", "X-B": "2"}}, "two", nil},
		{"tie by file order", []*config.Route{
			rt("first", config.Match{Path: "/u/{id}"}),
			rt("second", config.Match{Path: "/u/{x}"}),
		}, get("h", "/u/1"), "first", Params{{"id", "1"}}},
		{"tie by file order across buckets", []*config.Route{
			rt("first", config.Match{Host: "*.a.example.com", PathPrefix: "/u"}),
			rt("second", config.Match{Host: "*.b.example.com", PathPrefix: "/u"}),
		}, get("x.a.example.com", "/u"), "first", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := New(tc.routes)
			if err != nil {
				t.Fatal(err)
			}
			r, params := tab.Match(tc.req.host, tc.req.method, tc.req.path, http.Header(canon(tc.req.headers)).Get)
			got := ""
			if r != nil {
				got = r.Config.Name
				if tc.routes[r.Index] != r.Config {
					t.Errorf("Index %d does not point at Config", r.Index)
				}
			}
			if got != tc.want {
				t.Fatalf("matched %q, want %q", got, tc.want)
			}
			if !slices.Equal(params, tc.params) {
				t.Fatalf("params %v, want %v", params, tc.params)
			}
			// The reference must agree on every hand-written case too.
			checkAgainstRef(t, tab, tc.routes, tc.req.host, tc.req.method, tc.req.path, headerFunc(tc.req.headers))
		})
	}
}

// canon builds an http.Header as a server would, so tests use r.Header.Get
// exactly as the edge node does.
func canon(m map[string]string) map[string][]string {
	h := http.Header{}
	for k, v := range m {
		h.Set(k, v)
	}
	return h
}

func TestMatchNilHeaderFunc(t *testing.T) {
	tab, err := New([]*config.Route{
		rt("hdr", config.Match{Headers: map[string]string{"X-A": "1"}}),
		rt("any", config.Match{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := tab.Match("h", "GET", "/", nil); r == nil || r.Config.Name != "any" {
		t.Fatalf("got %v, want any", r)
	}
}

func TestParamsGet(t *testing.T) {
	p := Params{{"id", "7"}, {"order", "9"}}
	if p.Get("order") != "9" || p.Get("id") != "7" || p.Get("x") != "" {
		t.Fatalf("Get on %v", p)
	}
	if Params(nil).Get("id") != "" {
		t.Fatal("Get on nil Params")
	}
}

func TestRewrite(t *testing.T) {
	tests := []struct{ strip, path, want string }{
		{"/users", "/users/7", "/7"},
		{"/users", "/users", "/"},
		{"/users", "/users/", "/"},
		{"/users", "/usersX", "/usersX"},
		{"/users", "/other", "/other"},
		{"/users/", "/users/7", "/7"},
		{"/users", "/users/7/orders", "/7/orders"},
		{"/", "/users/7", "/users/7"},
		{"", "/users/7", "/users/7"},
		{"", "", "/"},
		{"/users", "", "/"},
	}
	for _, tc := range tests {
		c := rt("r", config.Match{})
		if tc.strip != "" {
			c.Rewrite = &config.Rewrite{StripPrefix: tc.strip}
		}
		tab, err := New([]*config.Route{c})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := tab.Match("h", "GET", "/", nil)
		if got := r.Rewrite(tc.path); got != tc.want {
			t.Errorf("strip %q from %q = %q, want %q", tc.strip, tc.path, got, tc.want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name  string
		route *config.Route
		err   error
	}{
		{"nil route", nil, ErrInvalidRoute},
		{"path and prefix", rt("x", config.Match{Path: "/a", PathPrefix: "/a"}), ErrInvalidRoute},
		{"empty method", rt("x", config.Match{Methods: []string{""}}), ErrInvalidRoute},
		{"empty header name", rt("x", config.Match{Headers: map[string]string{"": "1"}}), ErrInvalidRoute},
		{"wildcard mid host", rt("x", config.Match{Host: "api.*.com"}), ErrInvalidHost},
		{"bare wildcard", rt("x", config.Match{Host: "*"}), ErrInvalidHost},
		{"empty wildcard suffix", rt("x", config.Match{Host: "*."}), ErrInvalidHost},
		{"host with port", rt("x", config.Match{Host: "api.example.com:8080"}), ErrInvalidHost},
		{"unclosed param", rt("x", config.Match{Path: "/users/{id"}), ErrInvalidPath},
		{"partial param", rt("x", config.Match{Path: "/users/id-{id}"}), ErrInvalidPath},
		{"empty param", rt("x", config.Match{Path: "/users/{}"}), ErrInvalidPath},
		{"repeated param", rt("x", config.Match{Path: "/{id}/{id}"}), ErrInvalidPath},
		{"relative param path", rt("x", config.Match{Path: "users/{id}"}), ErrInvalidPath},
		{"relative prefix", rt("x", config.Match{PathPrefix: "users"}), ErrInvalidPath},
		{"param in prefix", rt("x", config.Match{PathPrefix: "/users/{id}"}), ErrInvalidPath},
		{"relative strip", &config.Route{Name: "x", Rewrite: &config.Rewrite{StripPrefix: "users"}}, ErrInvalidPath},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New([]*config.Route{rt("ok", config.Match{}), tc.route})
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.route != nil && !strings.Contains(err.Error(), `route "x" (#1)`) {
				t.Fatalf("error %q does not name the route", err)
			}
		})
	}
}
