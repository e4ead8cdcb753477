package route

import (
	"math/rand/v2"
	"testing"

	"github.com/sluicegw/sluice/runtime/config"
)

// fuzzRoutes is a fixed route set for the fuzzer: random routes from the
// property test's vocabulary plus hand-written ones with every kind of matcher.
func fuzzRoutes() []*config.Route {
	routes := []*config.Route{
		{Name: "catchall"},
		{Name: "root", Match: config.Match{PathPrefix: "/"}},
		{Name: "users", Match: config.Match{Host: "api.example.com", PathPrefix: "/users", Methods: []string{"GET"}}},
		{Name: "user", Match: config.Match{Host: "*.example.com", Path: "/users/{id}"}},
		{Name: "orders", Match: config.Match{Path: "/users/{id}/orders/{order}"}},
		{Name: "star", Match: config.Match{Path: "*"}},
		{Name: "hdr", Match: config.Match{PathPrefix: "/a/", Headers: map[string]string{"X-A": "1"}}},
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for i := len(routes); i < 120; i++ {
		routes = append(routes, randRoute(rng, i))
	}
	return routes
}

// FuzzMatch feeds arbitrary hosts, methods and paths: Match must not panic and
// must agree with the reference linear scan.
func FuzzMatch(f *testing.F) {
	f.Add("api.example.com", "GET", "/users/7")
	f.Add("API.EXAMPLE.COM:8080", "POST", "/users/")
	f.Add("a.b.example.com", "GET", "/users/7/orders/9")
	f.Add("[::1]:80", "OPTIONS", "*")
	f.Add("", "CONNECT", "")
	f.Add(".example.com", "get", "//a//")
	f.Add("x.api.example.com:", "PUT", "/a/b/")
	f.Add("\xff.example.com", "GET", "/users/\xff")
	routes := fuzzRoutes()
	tab, err := New(routes)
	if err != nil {
		f.Fatal(err)
	}
	header := headerFunc(map[string]string{"x-a": "1", "X-B": "2"})
	f.Fuzz(func(t *testing.T, host, method, path string) {
		checkAgainstRef(t, tab, routes, host, method, path, header)
		if r, _ := tab.Match(host, method, path, header); r != nil {
			if p := r.Rewrite(path); p == "" {
				t.Fatalf("Rewrite(%q) is empty", path)
			}
		}
	})
}
