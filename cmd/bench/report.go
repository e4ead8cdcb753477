package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// results is everything a run measured: per round, then summarised. It is
// written as JSON as is, and rendered as the markdown section.
type results struct {
	Date            string      `json:"date"`
	Command         string      `json:"command"`
	LoadAverage     string      `json:"load_average_at_start"`
	Machine         machine     `json:"machine"`
	Versions        versions    `json:"versions"`
	Rounds          int         `json:"rounds"`
	DurationSeconds int         `json:"duration_seconds"`
	WarmupSeconds   int         `json:"warmup_seconds"`
	ClockTick       int         `json:"clock_ticks_per_second"`
	NginxWorkers    int         `json:"nginx_workers"`
	TokenBytes      int         `json:"token_bytes"`
	Rows            []*row      `json:"contestants"`
	ErrorNotes      []string    `json:"errors,omitempty"`
	Ratios          []ratioLine `json:"ratios"`
}

// row is one contestant: a value per round, the medians, errors by tool.
type row struct {
	Key          string  `json:"key"`
	Label        string  `json:"label"`
	ReqPerSec    series  `json:"req_per_s"`
	P50ms        series  `json:"p50_ms"`
	P99ms        series  `json:"p99_ms"`
	CPUMicros    series  `json:"cpu_us_per_req"`
	P50OneConnMs series  `json:"p50_ms_1conn"`
	AddedP50Ms   series  `json:"added_p50_ms_1conn"` // per round, minus a's
	H2ReqPerSec  series  `json:"h2c_req_per_s,omitempty"`
	PeakRSSMiB   number  `json:"peak_rss_mib"`
	Errors       int64   `json:"errors"`
	H2Errors     int64   `json:"h2c_errors"`
	Median       medians `json:"median"`
}

type medians struct {
	ReqPerSec, P50ms, P99ms, CPUMicros, P50OneConnMs, AddedP50Ms, H2ReqPerSec number
}

type ratioLine struct {
	What  string `json:"what"`
	Value number `json:"value"`
}

// noteErrors counts a run's errors on its row (wrk and h2load apart, so each
// column's mark says where its errors came from) and lists them.
func (res *results) noteErrors(r *row, what string, round int, n int64, h2 bool) {
	if n <= 0 {
		return
	}
	if h2 {
		r.H2Errors += n
	} else {
		r.Errors += n
	}
	res.ErrorNotes = append(res.ErrorNotes, fmt.Sprintf("(%s) %s, round %d: %d errors", r.Key, what, round, n))
}

// summarize computes the medians and ratios from the rounds. Added latency at
// one connection is the per-round difference to a, then the median, so a
// round's drift cancels within the round.
func (res *results) summarize() {
	byKey := map[string]*row{}
	for _, r := range res.Rows {
		byKey[r.Key] = r
	}
	a := byKey["a"]
	for _, r := range res.Rows {
		r.Label = contestantLabel(r.Key, res.NginxWorkers)
		r.AddedP50Ms = nil
		for i := range r.P50OneConnMs {
			r.AddedP50Ms = append(r.AddedP50Ms, round4(r.P50OneConnMs[i]-a.P50OneConnMs[i]))
		}
		r.Median = medians{
			ReqPerSec: number(median(r.ReqPerSec)), P50ms: number(median(r.P50ms)), P99ms: number(median(r.P99ms)),
			CPUMicros: number(median(r.CPUMicros)), P50OneConnMs: number(median(r.P50OneConnMs)),
			AddedP50Ms: number(median(r.AddedP50Ms)), H2ReqPerSec: number(median(r.H2ReqPerSec)),
		}
	}
	m := func(key string) medians { return byKey[key].Median }
	res.Ratios = []ratioLine{
		{"Sluice / nginx (c / b): throughput, HTTP/1.1, 64 conn", number(ratio(float64(m("c").ReqPerSec), float64(m("b").ReqPerSec)))},
		{"Sluice / nginx (c / b): p99 latency, HTTP/1.1, 64 conn (lower is better)", number(ratio(float64(m("c").P99ms), float64(m("b").P99ms)))},
		{"Sluice / nginx (c / b): added p50 latency, 1 conn (lower is better)", number(ratio(float64(m("c").AddedP50Ms), float64(m("b").AddedP50Ms)))},
		{"Sluice / nginx (c / b): throughput, h2c", number(ratio(float64(m("c").H2ReqPerSec), float64(m("b").H2ReqPerSec)))},
		{"full pipeline / one route (d / c): throughput, HTTP/1.1, 64 conn (goal ≥ 0.8)", number(ratio(float64(m("d").ReqPerSec), float64(m("c").ReqPerSec)))},
		{"full pipeline / one route (d / c): throughput, h2c", number(ratio(float64(m("d").H2ReqPerSec), float64(m("c").H2ReqPerSec)))},
		{"bare fasthttp / nginx (e / b): throughput, HTTP/1.1, 64 conn", number(ratio(float64(m("e").ReqPerSec), float64(m("b").ReqPerSec)))},
		{"Sluice / nginx (c / b): CPU µs per request, HTTP/1.1, 64 conn (lower is better)", number(ratio(float64(m("c").CPUMicros), float64(m("b").CPUMicros)))},
		{"full pipeline / nginx (d / b): CPU µs per request, HTTP/1.1, 64 conn (lower is better)", number(ratio(float64(m("d").CPUMicros), float64(m("b").CPUMicros)))},
		{"bare fasthttp / nginx (e / b): CPU µs per request, HTTP/1.1, 64 conn (lower is better)", number(ratio(float64(m("e").CPUMicros), float64(m("b").CPUMicros)))},
		{"Sluice / bare fasthttp (c / e): CPU µs per request, HTTP/1.1, 64 conn (lower is better)", number(ratio(float64(m("c").CPUMicros), float64(m("e").CPUMicros)))},
	}
}

// renderMarkdown is the dated section for BENCHMARKS.md: machine and
// versions, the table, the ratios and notes that say how each number was
// measured.
func renderMarkdown(res *results) string {
	res.summarize()
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("## End-to-end: %s (%s)\n\n", res.Date, res.Command)
	p("Machine: %d cores, %s, %s (load average at start: %s).\n", res.Machine.Cores, res.Machine.CPU, res.Machine.Kernel, res.LoadAverage)
	v := res.Versions
	p("Command: `%s` (cmd/bench). Versions: %s; %s; %s; %s; sluice %s.\n\n", res.Command, v.Nginx, v.Wrk, v.H2load, v.Go, v.Sluice)

	p("| | contestant | req/s (64 conn) | p50 ms | p99 ms | CPU µs/req (64 conn) | p50 ms (1 conn) | added p50 ms (1 conn) vs a | h2c req/s (h2load) | peak RSS MiB |\n")
	p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range res.Rows {
		added, h2 := "0", "n/a"
		if r.Key != "a" {
			added = "+" + fixed(r.Median.AddedP50Ms, 3)
		}
		if len(r.H2ReqPerSec) > 0 {
			h2 = fixed(r.Median.H2ReqPerSec, 0) + errMark(r.H2Errors)
		}
		p("| %s | %s | %s%s | %s | %s | %s | %s | %s | %s | %s |\n", r.Key, r.Label,
			fixed(r.Median.ReqPerSec, 0), errMark(r.Errors), fixed(r.Median.P50ms, 3), fixed(r.Median.P99ms, 3),
			fixed(r.Median.CPUMicros, 1), fixed(r.Median.P50OneConnMs, 3), added, h2, fixed(r.PeakRSSMiB, 1))
	}
	p("\n| ratio | |\n| --- | ---: |\n")
	for _, l := range res.Ratios {
		p("| %s | %s |\n", l.What, fixed(l.Value, 2))
	}

	byKey := map[string]*row{}
	for _, r := range res.Rows {
		byKey[r.Key] = r
	}
	perRound := func(pick func(*row) series, keys ...string) string {
		var parts []string
		for _, k := range keys {
			parts = append(parts, k+": "+joined(pick(byKey[k])))
		}
		return strings.Join(parts, "; ")
	}
	d, w := res.DurationSeconds, res.WarmupSeconds
	p("\n- Each cell is the median of %d round(s); contestants alternate a, b, c, d, e within each round. Runs of %d s\n", res.Rounds, d)
	p("  after a %d s warm-up: `wrk -t2 -c64 -d%ds --latency`, `wrk -t1 -c1 -d%ds --latency`,\n", w, d, d)
	p("  `h2load -c 64 -m 10 -D %d --warm-up-time=%d` (h2c, prior knowledge). Everything (load generators\n", d, w)
	p("  included) shares the machine's %d cores.\n", res.Machine.Cores)
	p("- Upstream: nginx, 1 worker, 1 KiB static file, keep-alive, access_log off. nginx proxy: `worker_processes auto`\n")
	p("  (%d workers, the same core budget Sluice gets from GOMAXPROCS), `keepalive 64` to the upstream,\n", res.NginxWorkers)
	p("  `proxy_http_version 1.1`, access_log off, h2c on a second port (nginx 1.22 cannot serve h1 and h2c on one\n")
	p("  plain port). Both nginx: `keepalive_requests 1000000`. Sluice: `sluice edge` as shipped, access log on,\n")
	p("  stdout to /dev/null.\n")
	p("- d: a second `sluice edge` (own port and data dir), one route with `auth` (JWT, RS256 2048-bit key made at bench\n")
	p("  time, JWKS served by the upstream nginx; iss, aud, exp, nbf checked), `policy` (OPA, an RBAC-like rule: role\n")
	p("  `bench` may GET under /) and `filters: [headers]` (filters/headers.wasm, a Go guest, sets one request and one\n")
	p("  response header). Every wrk and h2load request to d carries `Authorization: Bearer` and a %d-byte token.\n", res.TokenBytes)
	p("  Checked before the runs: 200 with the 1 KiB body and both filter headers, 401 without a token, 403 without the role.\n")
	p("- e: `cmd/bench-ceiling`, a bare fasthttp v%s reverse proxy (a fasthttp.Server whose handler forwards every\n", v.Fasthttp)
	p("  request to the upstream with one fasthttp.HostClient; no routing, no guard, no logging): a benchmark reference\n")
	p("  for the ceiling of a Go proxy on fasthttp, not a product. HTTP/1.1 only, so no h2c run.\n")
	p("- CPU µs/req: the contestant's utime + stime from /proc/PID/stat (nginx rows: master + workers summed) read just before\n")
	p("  and just after the `wrk -t2 -c64` run, over the requests wrk completed in it; the clock tick is 1/%d s. It is\n", res.ClockTick)
	p("  the proxy process alone: the upstream's and the load generator's CPU are not in b to e (a is the upstream itself).\n")
	p("- Peak RSS: VmHWM after all runs; nginx rows sum master + workers (pages shared between them are counted in each, so this overstates).\n")
	p("- req/s per round: %s. h2c req/s per round: %s.\n",
		perRound(func(r *row) series { return r.ReqPerSec }, contestantKeys...),
		perRound(func(r *row) series { return r.H2ReqPerSec }, withH2(res.Rows)...))
	p("- CPU µs/req per round: %s.\n", perRound(func(r *row) series { return r.CPUMicros }, contestantKeys...))
	p("- The added-latency ratio divides two differences of a few tens of µs; on a shared machine it swings widely.")
	if len(res.ErrorNotes) > 0 {
		p("\n- ⚠ errors during the runs (non-2xx responses, socket errors, failed streams): %s", strings.Join(res.ErrorNotes, " "))
	}
	return b.String()
}

func withH2(rows []*row) []string {
	var keys []string
	for _, r := range rows {
		if len(r.H2ReqPerSec) > 0 {
			keys = append(keys, r.Key)
		}
	}
	return keys
}

// fixed formats with a number of decimals; n/a for a value not measured.
func fixed(v number, decimals int) string {
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return "n/a"
	}
	return strconv.FormatFloat(float64(v), 'f', decimals, 64)
}

// joined lists per-round values as measured.
func joined(s series) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strings.Join(parts, ", ")
}

func errMark(n int64) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" ⚠ %d errors", n)
}

// number and series are float64s that write NaN (not measured) as JSON null.
type (
	number float64
	series []float64
)

func (n number) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(n))
}

func (s series) MarshalJSON() ([]byte, error) {
	out := make([]number, len(s))
	for i, v := range s {
		out[i] = number(v)
	}
	return json.Marshal(out)
}
