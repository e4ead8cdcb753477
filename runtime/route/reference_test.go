package route

import (
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicegw/sluice/runtime/config"
)

// refMatch is the contract written as plainly as possible: scan every route,
// keep those that match, pick the highest rank. It shares no code with the
// package, so the property test and the fuzzer compare two independent
// readings of docs/architecture.md ("Route matching"). It returns the
// winner's index, or -1.
func refMatch(routes []*config.Route, host, method, path string, header func(string) string) (int, Params) {
	h := strings.TrimSuffix(refLower((&url.URL{Host: host}).Hostname()), ".")
	best, bestRank := -1, []int(nil)
	var bestParams Params
	for i, c := range routes {
		m := c.Match
		hostKind, hostScore, ok := refHost(refLower(m.Host), h)
		if !ok {
			continue
		}
		pathKind, pathScore, params, ok := refPath(m.Path, m.PathPrefix, path)
		if !ok {
			continue
		}
		if len(m.Methods) > 0 && !slices.ContainsFunc(m.Methods, func(x string) bool { return strings.ToUpper(x) == method }) {
			continue
		}
		okHeaders := true
		for name, value := range m.Headers {
			got := ""
			if header != nil {
				got = header(name)
			}
			if got != value {
				okHeaders = false
			}
		}
		if !okHeaders {
			continue
		}
		methods := 0
		if len(m.Methods) > 0 {
			methods = 1
		}
		rank := []int{pathKind, pathScore, hostKind, hostScore, methods, len(m.Headers), -i}
		if best < 0 || slices.Compare(rank, bestRank) > 0 {
			best, bestRank, bestParams = i, rank, params
		}
	}
	return best, bestParams
}

func refLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// refHost returns the host kind (2 exact, 1 wildcard, 0 none) and score.
func refHost(pattern, host string) (int, int, bool) {
	switch {
	case pattern == "":
		return 0, 0, true
	case strings.HasPrefix(pattern, "*."):
		suffix := pattern[1:]
		return 1, len(suffix) - 1, strings.HasSuffix(host, suffix) && len(host) > len(suffix)
	default:
		return 2, 0, host == (&url.URL{Host: pattern}).Hostname()
	}
}

// refPath returns the path kind (3 literal, 2 params, 1 prefix, 0 none), its
// score and the captured params.
func refPath(exact, prefix, path string) (int, int, Params, bool) {
	switch {
	case exact != "" && !strings.Contains(exact, "{"):
		return 3, 0, nil, path == exact
	case exact != "":
		want, got := strings.Split(exact, "/"), strings.Split(path, "/")
		if len(want) != len(got) {
			return 0, 0, nil, false
		}
		literals := 0
		var params Params
		for i := range want {
			if strings.HasPrefix(want[i], "{") {
				if got[i] == "" {
					return 0, 0, nil, false
				}
				params = append(params, Param{strings.Trim(want[i], "{}"), got[i]})
				continue
			}
			if i > 0 {
				literals++
			}
			if want[i] != got[i] {
				return 0, 0, nil, false
			}
		}
		return 2, literals, params, true
	case prefix == "/":
		return 1, 1, nil, true
	case prefix != "":
		ok := path == prefix || strings.HasPrefix(path, prefix) &&
			(strings.HasSuffix(prefix, "/") || path[len(prefix)] == '/')
		return 1, len(prefix), nil, ok
	default:
		return 0, 0, nil, true
	}
}

// Vocabulary of the random tests: small, so that random routes collide and
// random requests hit them.
var (
	segWords     = []string{"a", "b", "users", "7", ""}
	cfgHosts     = []string{"", "", "api.example.com", "API.Example.com", "*.example.com", "*.api.example.com", "*.com", "other.org"}
	reqHosts     = []string{"api.example.com", "API.Example.COM:8443", "x.api.example.com", "example.com", "a.b.example.com", "other.org:80", "", "[::1]:80", ".example.com", "x.com"}
	cfgMethods   = []string{"get", "POST", "Put"}
	reqMethods   = []string{"GET", "POST", "PUT", "DELETE", "get"}
	headerNames  = []string{"X-A", "x-b"}
	headerValues = []string{"1", "2"}
)

func randSegs(rng *rand.Rand, params bool) string {
	var b strings.Builder
	n := rng.IntN(4)
	for i := range n {
		b.WriteByte('/')
		if params && rng.IntN(3) == 0 {
			b.WriteString("{p" + strconv.Itoa(i) + "}")
			continue
		}
		b.WriteString(segWords[rng.IntN(len(segWords))])
	}
	if n == 0 || rng.IntN(5) == 0 {
		b.WriteByte('/')
	}
	return b.String()
}

func randRoute(rng *rand.Rand, i int) *config.Route {
	c := &config.Route{Name: "r" + strconv.Itoa(i)}
	c.Match.Host = cfgHosts[rng.IntN(len(cfgHosts))]
	switch rng.IntN(4) {
	case 0:
		c.Match.Path = randSegs(rng, false)
	case 1:
		c.Match.Path = randSegs(rng, true)
	case 2:
		c.Match.PathPrefix = randSegs(rng, false)
	}
	for _, m := range cfgMethods {
		if rng.IntN(4) == 0 {
			c.Match.Methods = append(c.Match.Methods, m)
		}
	}
	for j, name := range headerNames {
		if rng.IntN(4) == 0 {
			if c.Match.Headers == nil {
				c.Match.Headers = map[string]string{}
			}
			c.Match.Headers[name] = headerValues[(i+j)%len(headerValues)]
		}
	}
	return c
}

// headerFunc looks names up case-insensitively, as http.Header.Get does for
// the canonical names the package passes.
func headerFunc(h map[string]string) func(string) string {
	return func(name string) string {
		for k, v := range h {
			if strings.EqualFold(k, name) {
				return v
			}
		}
		return ""
	}
}

func randHeaders(rng *rand.Rand) map[string]string {
	h := map[string]string{}
	for _, name := range headerNames {
		if rng.IntN(2) == 0 {
			h[strings.ToLower(name)] = headerValues[rng.IntN(len(headerValues))]
		}
	}
	return h
}

// checkAgainstRef fails the test if the table and the reference disagree.
func checkAgainstRef(t *testing.T, tab *Table, routes []*config.Route, host, method, path string, header func(string) string) {
	t.Helper()
	got, gotParams := tab.Match(host, method, path, header)
	want, wantParams := refMatch(routes, host, method, path, header)
	gotIndex := -1
	if got != nil {
		gotIndex = got.Index
	}
	if gotIndex != want {
		t.Fatalf("Match(%q, %q, %q) = route #%d, reference says #%d\nroutes: %s", host, method, path, gotIndex, want, dumpRoutes(routes))
	}
	if !slices.Equal(gotParams, wantParams) {
		t.Fatalf("Match(%q, %q, %q) params = %v, reference says %v", host, method, path, gotParams, wantParams)
	}
}

func dumpRoutes(routes []*config.Route) string {
	var b strings.Builder
	for i, c := range routes {
		b.WriteString("\n  #" + strconv.Itoa(i) + " ")
		m := c.Match
		b.WriteString(strings.Join([]string{"host=" + m.Host, "path=" + m.Path, "prefix=" + m.PathPrefix,
			"methods=" + strings.Join(m.Methods, ","), "headers=" + strconv.Itoa(len(m.Headers))}, " "))
	}
	return b.String()
}

// TestMatchAgreesWithReference is the main guard: random route sets and
// random requests, the indexed Table against the linear scan.
func TestMatchAgreesWithReference(t *testing.T) {
	for seed := range uint64(400) {
		rng := rand.New(rand.NewPCG(seed, 1))
		routes := make([]*config.Route, 1+rng.IntN(40))
		for i := range routes {
			routes[i] = randRoute(rng, i)
		}
		tab, err := New(routes)
		if err != nil {
			t.Fatalf("seed %d: New: %v", seed, err)
		}
		for range 300 {
			host := reqHosts[rng.IntN(len(reqHosts))]
			method := reqMethods[rng.IntN(len(reqMethods))]
			path := randSegs(rng, false)
			if rng.IntN(20) == 0 {
				path = []string{"", "*", "users"}[rng.IntN(3)]
			}
			checkAgainstRef(t, tab, routes, host, method, path, headerFunc(randHeaders(rng)))
		}
	}
}
