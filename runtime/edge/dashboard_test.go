package edge

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// dashboardQueries returns every PromQL expression of a Grafana dashboard
// (panel targets, rows' panels included) and the metrics its template
// variables read (label_values(METRIC, LABEL)).
func dashboardQueries(t *testing.T, path string) (exprs, variableMetrics []string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string  `json:"title"`
		Panels  []panel `json:"panels"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	}
	var d struct {
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q has a target without an expression", p.Title)
				}
				exprs = append(exprs, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	labelValues := regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if json.Unmarshal(v.Query, &q) != nil { // older dashboards: a plain string
			_ = json.Unmarshal(v.Query, &q.Query)
		}
		m := labelValues.FindStringSubmatch(q.Query)
		if m == nil {
			t.Errorf("template variable query %q is not label_values(METRIC, LABEL)", q.Query)
			continue
		}
		variableMetrics = append(variableMetrics, m[1])
	}
	return exprs, variableMetrics
}

// promqlKeywords are PromQL words that are neither metrics nor functions.
var promqlKeywords = []string{"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless"}

// metricNames returns the metric names a PromQL expression selects:
// identifiers outside strings, label matchers ({...}), ranges ([...]) and
// Grafana variables ($x), that are not a function call, a keyword, or a
// label list after by/without/on/ignoring; an aggregation's name is
// followed by "(" or by its grouping.
func metricNames(expr string) []string {
	var names []string
	isIdent := func(c byte, first bool) bool {
		return c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
	}
	skipTo := func(i int, close byte) int {
		for i++; i < len(expr) && expr[i] != close; i++ {
			if expr[i] == '\\' {
				i++
			}
		}
		return i + 1
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipTo(i, c)
		case c == '{':
			i = skipTo(i, '}')
		case c == '[':
			i = skipTo(i, ']')
		case c == '$':
			for i++; i < len(expr) && isIdent(expr[i], false); i++ {
			}
		case '0' <= c && c <= '9' || c == '.':
			for i++; i < len(expr) && (isIdent(expr[i], false) || expr[i] == '.'); i++ { // 0.99, 1e3, 5m
			}
		case isIdent(c, true):
			j := i
			for i++; i < len(expr) && isIdent(expr[i], false); i++ {
			}
			word := expr[j:i]
			k := i
			for k < len(expr) && expr[k] == ' ' {
				k++
			}
			call := k < len(expr) && expr[k] == '('
			// An aggregation may put its grouping first: sum by (x) (...).
			rest := expr[k:]
			grouped := strings.HasPrefix(rest, "by ") || strings.HasPrefix(rest, "by(") ||
				strings.HasPrefix(rest, "without ") || strings.HasPrefix(rest, "without(")
			switch {
			case slices.Contains(promqlKeywords, word):
				if call { // by (route, code): label names
					i = skipTo(k, ')')
				}
			case call || grouped: // a function or an aggregation
			default:
				names = append(names, word)
			}
		default:
			i++
		}
	}
	return names
}

func TestMetricNamesOfPromQL(t *testing.T) {
	got := metricNames(`histogram_quantile(0.99, sum by (le, route) (rate(sluice_request_duration_seconds_bucket{route=~"$route",code!="a{b"}[$__rate_interval]))) / on (x) group_left go_goroutines offset 5m`)
	if want := []string{"sluice_request_duration_seconds_bucket", "go_goroutines"}; !slices.Equal(got, want) {
		t.Errorf("metricNames = %q, want %q", got, want)
	}
}

// scrapeFamilies reads a node's /metrics.
func scrapeFamilies(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := testClient.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// exposed reports whether name is a series of fams: a family of its own,
// or the _bucket, _sum or _count series of a histogram (_sum and _count of
// a summary).
func exposed(fams map[string]*dto.MetricFamily, name string) bool {
	if f, ok := fams[name]; ok && len(f.Metric) > 0 {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		f := fams[base]
		if f == nil || len(f.Metric) == 0 {
			return false
		}
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			return true
		case dto.MetricType_SUMMARY:
			return suffix != "_bucket"
		}
	}
	return false
}

// TestDashboardMetricsExist: every metric the Grafana dashboard in
// docs/grafana queries is on the /metrics of a node serving a route with
// each feature the dashboard shows (upstream, cache, policy, rate limit, a
// filter defining its own metric), after requests went through it.
func TestDashboardMetricsExist(t *testing.T) {
	exprs, varMetrics := dashboardQueries(t, filepath.Join(repoRoot(t), "docs", "grafana", "sluice-dashboard.json"))
	if len(exprs) < 10 {
		t.Fatalf("only %d expressions found in the dashboard", len(exprs))
	}
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "open.rego"), "package sluice.authz\n\ndecision := true\n")
	up := startUpstream(t, "svc", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte("ok"))
	}))
	n := startNode(t, render(t, `
upstreams: {svc: {endpoints: ["{{.Up}}"]}}
policies: {open: {module: "{{.Policy}}"}}
filters: {status-metrics: {module: "{{.Filter}}"}}
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: svc
    policy: open
    filters: [status-metrics]
    cache: {ttl: 1m}
    rate_limit: {requests: 3, per: 1m}
`, map[string]string{"Up": up.url, "Policy": dir, "Filter": exampleFilter(t, "status-metrics")}))
	var limited bool
	for range 5 {
		resp, _ := get(t, n.url+"/api/x")
		limited = limited || resp.StatusCode == http.StatusTooManyRequests
	}
	if !limited {
		t.Fatal("the rate limit never answered 429")
	}
	fams := scrapeFamilies(t, n.adminURL+"/metrics")
	seen := map[string]bool{}
	for _, e := range exprs {
		names := metricNames(e)
		if len(names) == 0 {
			t.Errorf("no metric in expression %q", e)
		}
		for _, name := range names {
			seen[name] = true
		}
	}
	for _, name := range varMetrics {
		seen[name] = true
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range seen {
			if !yield(k) {
				return
			}
		}
	}) {
		if !exposed(fams, name) {
			t.Errorf("the dashboard queries %s, which the node does not expose", name)
		}
	}
	t.Logf("%d expressions over %d metric names", len(exprs), len(seen))
}
