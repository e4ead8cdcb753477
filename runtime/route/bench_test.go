package route

import (
	"fmt"
	"testing"

	"github.com/sluicegw/sluice/runtime/config"
)

// benchRoutes generates n routes shaped like a real gateway's: many services
// on their own hosts, some tenant wildcards, some host-less routes, each with
// a mix of prefixes, literal paths and paths with params, methods and headers.
func benchRoutes(n int) []*config.Route {
	hosts := max(n/40, 1)
	routes := make([]*config.Route, 0, n)
	for i := range n {
		var host string
		switch i % 10 {
		case 0:
			host = ""
		case 1, 2:
			host = fmt.Sprintf("*.tenant%d.example.net", i%hosts)
		default:
			host = fmt.Sprintf("svc%d.example.com", i%hosts)
		}
		res := fmt.Sprintf("/api/v%d/res%d", 1+i%2, i)
		m := config.Match{Host: host}
		switch i % 4 {
		case 0:
			m.PathPrefix = res
		case 1:
			m.Path = res + "/{id}"
			m.Methods = []string{"GET", "PUT"}
		case 2:
			m.Path = res + "/{id}/items/{item}"
		case 3:
			m.Path = res + "/status"
			m.Headers = map[string]string{"X-Api-Version": "2"}
		}
		routes = append(routes, &config.Route{Name: fmt.Sprintf("r%d", i), Match: m})
	}
	return routes
}

// benchRequests returns requests without params that hit routes of the set:
// literal paths and paths under a prefix, on exact, wildcard and any hosts.
func benchRequests(routes []*config.Route) [][2]string {
	var reqs [][2]string
	for i := 0; i < len(routes) && len(reqs) < 64; i += max(len(routes)/64, 1) {
		m := routes[i].Match
		host := m.Host
		switch {
		case host == "":
			host = "anything.example.org:443"
		case host[0] == '*':
			host = "acme" + host[1:]
		}
		switch {
		case m.PathPrefix != "":
			reqs = append(reqs, [2]string{host, m.PathPrefix + "/deep/path/here"})
		case m.Headers != nil:
			reqs = append(reqs, [2]string{host, m.Path})
		}
	}
	return reqs
}

func BenchmarkMatch(b *testing.B) {
	header := func(string) string { return "2" }
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			routes := benchRoutes(n)
			tab, err := New(routes)
			if err != nil {
				b.Fatal(err)
			}
			reqs := benchRequests(routes)
			for _, r := range reqs {
				if m, p := tab.Match(r[0], "GET", r[1], header); m == nil || p != nil {
					b.Fatalf("bench request %v does not match as intended: %v %v", r, m, p)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				r := reqs[i%len(reqs)]
				tab.Match(r[0], "GET", r[1], header)
			}
		})
	}
}

// BenchmarkMatchParams measures a match that captures two params, the one
// case allowed to allocate (the Params slice).
func BenchmarkMatchParams(b *testing.B) {
	tab, err := New(benchRoutes(10000))
	if err != nil {
		b.Fatal(err)
	}
	if m, p := tab.Match("svc6.example.com", "GET", "/api/v1/res2006/7/items/9", nil); m == nil || len(p) != 2 {
		b.Fatalf("bench request does not match as intended: %v %v", m, p)
	}
	b.ReportAllocs()
	for b.Loop() {
		tab.Match("svc6.example.com", "GET", "/api/v1/res2006/7/items/9", nil)
	}
}

// TestMatchDoesNotAllocate holds the zero-allocation promise for matches
// without params, including through wildcard and host-less buckets.
func TestMatchDoesNotAllocate(t *testing.T) {
	routes := benchRoutes(1000)
	tab, err := New(routes)
	if err != nil {
		t.Fatal(err)
	}
	header := func(string) string { return "2" }
	reqs := benchRequests(routes)
	reqs = append(reqs, [2]string{"nowhere.example.com:80", "/nothing/here"})
	for _, r := range reqs {
		if n := testing.AllocsPerRun(50, func() { tab.Match(r[0], "GET", r[1], header) }); n != 0 {
			t.Errorf("Match(%q, %q) allocates %v times", r[0], r[1], n)
		}
	}
}
