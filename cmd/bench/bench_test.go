package main

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/sluicegw/sluice/runtime/config"
)

// The samples under testdata/ are real output of wrk 4.1.0 and h2load
// 1.52.0 against a local nginx (captured by hand; see testdata/README).

func readSample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseWrk(t *testing.T) {
	for _, tc := range []struct {
		file string
		want wrkResult
	}{
		{"wrk-c64.txt", wrkResult{ReqPerSec: 35752.35, P50ms: 1.68, P99ms: 22.01, Errors: 0, Requests: 72666}},
		{"wrk-c1.txt", wrkResult{}}, // checked below against its own lines
		{"wrk-non2xx.txt", wrkResult{ReqPerSec: 47374.66, P50ms: 0.118, P99ms: 2.96, Errors: 52099, Requests: 52099}}, // microseconds and a non-2xx count
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := parseWrk(readSample(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == (wrkResult{}) {
				if got.ReqPerSec <= 0 || got.P50ms <= 0 || got.P99ms < got.P50ms || got.Requests <= 0 || got.Errors != 0 {
					t.Fatalf("implausible parse %+v", got)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseWrkSocketErrors(t *testing.T) {
	out := strings.Replace(readSample(t, "wrk-c64.txt"), "Requests/sec:",
		"  Socket errors: connect 0, read 12, write 1, timeout 3\nRequests/sec:", 1)
	got, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Errors != 16 {
		t.Fatalf("errors = %d, want 12+1+3", got.Errors)
	}
}

func TestParseWrkRefusesTruncatedOutput(t *testing.T) {
	full := readSample(t, "wrk-c64.txt")
	for _, drop := range []string{"Requests/sec:", "50%", "99%", "requests in"} {
		var kept []string
		for _, line := range strings.Split(full, "\n") {
			if !strings.Contains(line, drop) {
				kept = append(kept, line)
			}
		}
		if _, err := parseWrk(strings.Join(kept, "\n")); err == nil {
			t.Errorf("without the %q line: no error", drop)
		}
	}
}

func TestWrkMillis(t *testing.T) {
	for in, want := range map[string]float64{"118.00us": 0.118, "1.68ms": 1.68, "1.02s": 1020, "1.50m": 90000, "2.00h": 7.2e6} {
		got, err := wrkMillis(in)
		if err != nil || math.Abs(got-want) > 1e-9 {
			t.Errorf("wrkMillis(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := wrkMillis("3.0fortnights"); err == nil {
		t.Error("an unknown unit parsed")
	}
}

func TestParseH2load(t *testing.T) {
	for _, tc := range []struct {
		file string
		want h2loadResult
	}{
		{"h2load.txt", h2loadResult{ReqPerSec: 17719.50, Errors: 544}},  // requests cut off at the end count as failed
		{"h2load-404.txt", h2loadResult{ReqPerSec: 8000, Errors: 8068}}, // every 404 failed; errored ones are not added again
	} {
		got, err := parseH2load(readSample(t, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.file, got, tc.want)
		}
	}
	if _, err := parseH2load("starting benchmark...\n"); err == nil {
		t.Error("output without a summary parsed")
	}
}

func TestStatTimes(t *testing.T) {
	// A command name with spaces and a closing parenthesis, as a process may
	// name itself; utime 1234 and stime 56 are fields 14 and 15.
	stat := "4242 (odd) name (x) S 17 4242 4242 0 -1 4194560 10 0 0 0 1234 56 0 0 20 0 3 0 100 1000 50 18446744073709551615"
	ticks, ppid, err := statTimes(stat)
	if err != nil || ticks != 1290 || ppid != 17 {
		t.Fatalf("statTimes = %d, %d, %v; want 1290, 17", ticks, ppid, err)
	}
	if _, _, err := statTimes("4242 (truncated) S 1 2"); err == nil {
		t.Error("a truncated stat parsed")
	}
	// This process's own stat: the same parse, the parent the kernel reports.
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skip("no /proc")
	}
	if _, ppid, err := statTimes(string(b)); err != nil || ppid != os.Getppid() {
		t.Fatalf("own stat: ppid %d, %v; want %d", ppid, err, os.Getppid())
	}
}

func TestCPUMicrosPerRequest(t *testing.T) {
	// 250 ticks at 100 Hz is 2.5 s of CPU; over 50,000 requests 50 µs each.
	if got := cpuMicrosPerRequest(1000, 1250, 50000, 100); got != 50 {
		t.Fatalf("got %v, want 50", got)
	}
	// Rounded to 2 decimals: 1 tick over 3 requests is 3333.33 µs.
	if got := cpuMicrosPerRequest(0, 1, 3, 100); got != 3333.33 {
		t.Fatalf("got %v, want 3333.33", got)
	}
	if got := cpuMicrosPerRequest(0, 10, 0, 100); !math.IsNaN(got) {
		t.Fatalf("no requests: got %v, want NaN", got)
	}
}

func TestVmHWM(t *testing.T) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc")
	}
	kib, err := vmHWM(string(b))
	if err != nil || kib == 0 {
		t.Fatalf("own VmHWM = %d, %v", kib, err)
	}
	if _, err := vmHWM("Name:\tx\nVmRSS:\t10 kB\n"); err == nil {
		t.Error("a status without VmHWM parsed")
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	in := []float64{9, 1, 5}
	median(in)
	if in[0] != 9 {
		t.Error("median reordered its argument")
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median of nothing is not NaN")
	}
}

// sampleResults is two rounds of made-up but consistent numbers.
func sampleResults() *results {
	res := &results{
		Date: "2026-12-03", Command: "make bench QUICK=1", Rounds: 2, DurationSeconds: 5, WarmupSeconds: 1,
		ClockTick: 100, NginxWorkers: 2, TokenBytes: 573, Machine: machine{Cores: 2, CPU: "Test CPU", Kernel: "Linux"},
	}
	for _, key := range contestantKeys {
		r := &row{Key: key, ReqPerSec: series{1000, 3000}, P50ms: series{1, 2}, P99ms: series{5, 7},
			CPUMicros: series{40, 60}, P50OneConnMs: series{0.2, 0.4}, PeakRSSMiB: 10}
		if key == "b" || key == "c" || key == "d" {
			r.H2ReqPerSec = series{500, 700}
		}
		res.Rows = append(res.Rows, r)
	}
	c := res.Rows[2]
	c.ReqPerSec = series{1000, 2000}  // median 1500: c/b = 0.75
	c.CPUMicros = series{80, 120}     // median 100: c/b = 2.00
	c.P50OneConnMs = series{0.5, 0.4} // added: 0.3 and 0: median +0.150
	res.noteErrors(res.Rows[3], "h2load", 2, 7, true)
	return res
}

func TestRenderMarkdown(t *testing.T) {
	md := renderMarkdown(sampleResults())
	for _, want := range []string{
		"## End-to-end: 2026-12-03 (make bench QUICK=1)",
		"| a | upstream nginx, direct (1 worker) | 2000 | 1.500 | 6.000 | 50.0 | 0.300 | 0 | n/a | 10.0 |",
		"| b | nginx reverse proxy (2 workers, keepalive 64) | 2000 | 1.500 | 6.000 | 50.0 | 0.300 | +0.000 | 600 | 10.0 |",
		"| c | sluice edge, one route | 1500 | 1.500 | 6.000 | 100.0 | 0.450 | +0.150 | 600 | 10.0 |",
		"| 600 ⚠ 7 errors |",
		"| Sluice / nginx (c / b): throughput, HTTP/1.1, 64 conn | 0.75 |",
		"| Sluice / nginx (c / b): CPU µs per request, HTTP/1.1, 64 conn (lower is better) | 2.00 |",
		"| Sluice / nginx (c / b): added p50 latency, 1 conn (lower is better) | n/a |", // b adds nothing over a here
		"a 573-byte token",
		"req/s per round: a: 1000, 3000; b: 1000, 3000; c: 1000, 2000;",
		"h2c req/s per round: b: 500, 700; c: 500, 700; d: 500, 700.",
		"(d) h2load, round 2: 7 errors",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in:\n%s", want, md)
		}
	}
}

func TestResultsJSON(t *testing.T) {
	res := sampleResults()
	res.Rows[0].CPUMicros = series{math.NaN(), 40} // a round where nothing completed
	renderMarkdown(res)
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Contestants []struct {
			Key    string     `json:"key"`
			CPU    []*float64 `json:"cpu_us_per_req"`
			Median struct{ ReqPerSec float64 }
		} `json:"contestants"`
		Ratios []struct {
			What  string   `json:"what"`
			Value *float64 `json:"value"`
		} `json:"ratios"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if c := back.Contestants[0]; c.CPU[0] != nil || *c.CPU[1] != 40 {
		t.Errorf("a's CPU per round = %v, want [null 40]", c.CPU)
	}
	if got := back.Contestants[2].Median.ReqPerSec; got != 1500 {
		t.Errorf("c's median req/s = %v, want 1500", got)
	}
	if r := back.Ratios[0]; r.Value == nil || *r.Value != 0.75 {
		t.Errorf("first ratio %q = %v, want 0.75", r.What, r.Value)
	}
}

func TestConfigsRender(t *testing.T) {
	jwt := &benchJWT{Issuer: "iss", Audience: "aud"}
	data := configData{Ports: portsFrom(18000), UpstreamDir: "/t/up", ProxyDir: "/t/ngx", WebRoot: "/t/www",
		JWKSPath: jwksPath, EchoPath: echoPath, JWT: jwt}
	for name, want := range map[string][]string{
		"nginx-upstream.conf.tmpl":   {"listen 127.0.0.1:18001;", "pid /t/up/nginx.pid;", "proxy_temp_path /t/up/proxy;", "root /t/www;"},
		"nginx-proxy.conf.tmpl":      {"listen 127.0.0.1:18002;", "listen 127.0.0.1:18003 http2;", "server 127.0.0.1:18001;", "keepalive_requests 1000000;"},
		"sluice-one-route.yaml.tmpl": {`endpoints: ["http://127.0.0.1:18001"]`},
		"sluice-full.yaml.tmpl":      {`jwks_url: "http://127.0.0.1:18001/jwks.json"`, "issuer: iss", "audiences: [aud]"},
	} {
		b, err := renderConfig(name, data)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".yaml.tmpl") {
			// The same checks `sluice validate` runs before the bench starts a node.
			if _, err := config.Parse(b, name); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %q:\n%s", name, w, b)
			}
		}
	}
}

func TestOptions(t *testing.T) {
	t.Setenv("QUICK", "")
	t.Setenv("BENCH_ROUNDS", "")
	t.Setenv("BENCH_DURATION", "")
	o, err := parseOptions(nil)
	if err != nil || o.rounds != 3 || o.duration.Seconds() != 10 || o.command() != "make bench" {
		t.Fatalf("full: %+v %q %v", o, o.command(), err)
	}
	t.Setenv("QUICK", "1")
	o, _ = parseOptions(nil)
	if o.rounds != 1 || o.duration.Seconds() != 5 || o.command() != "make bench QUICK=1" {
		t.Fatalf("quick: %+v %q", o, o.command())
	}
	t.Setenv("QUICK", "no")
	t.Setenv("BENCH_ROUNDS", "5")
	o, _ = parseOptions(nil)
	if o.quick || o.rounds != 5 || o.command() != "BENCH_ROUNDS=5 make bench" {
		t.Fatalf("QUICK=no BENCH_ROUNDS=5: %+v %q", o, o.command())
	}
}

func TestTokensVerify(t *testing.T) {
	// The tokens d's JWT provider checks: signed by the key the JWKS
	// publishes, carrying the claims the config and policy look at.
	j, err := newBenchJWT(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := j.Token(time.Now(), benchRole)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := j.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	claims := verifyWithJWKS(t, tok, jwks)
	if claims["iss"] != j.Issuer || claims["aud"] != j.Audience || claims["roles"].([]any)[0] != benchRole {
		t.Fatalf("claims %v", claims)
	}
}

func verifyWithJWKS(t *testing.T, token string, jwks []byte) map[string]any {
	t.Helper()
	set, err := jwk.Parse(jwks)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := jws.Verify([]byte(token), jws.WithKeySet(set, jws.WithRequireKid(true)))
	if err != nil {
		t.Fatalf("token does not verify with the JWKS: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}
