package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/demo"
	"github.com/sluicegw/sluice/runtime/testkit"
)

// sharedDataDir is the data dir the runtime/edge tests use too: its wazero
// compilation cache saves compiling each filter again (~18 s under -race).
var sharedDataDir = filepath.Join(os.TempDir(), "sluice-test-data")

// The binary under test, built once: these tests drive the CLI contract the
// way a user (or an outside check) does.
var sluiceBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-bin")
	if err != nil {
		panic(err)
	}
	sluiceBin = filepath.Join(dir, "sluice")
	args := []string{"build", "-o", sluiceBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build sluice: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidateListsEveryProblem(t *testing.T) {
	bad := writeFile(t, "bad.yaml", `upstreams:
  users: {endpoints: [http://127.0.0.1:9001], balance: fastest}
routes:
  - name: a
    match: {path_prefix: /a, colour: red}
    upstream: nobody
  - name: a
    match: {path: /b}
    upstream: users
`)
	out, err := exec.Command(sluiceBin, "validate", "-f", bad).CombinedOutput()
	if code := exitCode(err); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, out)
	}
	for _, want := range []string{
		"4 problem(s)",
		`bad.yaml:2: upstreams.users.balance: unknown balance "fastest"`,
		`bad.yaml:5: routes[0].match.colour: unknown key "colour"`,
		`bad.yaml:6: routes[0].upstream: unknown upstream "nobody"`,
		`bad.yaml:7: routes[1].name: duplicate route name "a"`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	good := writeFile(t, "good.yaml", "upstreams: {u: {endpoints: [http://127.0.0.1:1]}}\nroutes: [{name: r, match: {path: /}, upstream: u}]\n")
	out, err = exec.Command(sluiceBin, "validate", "-f", good).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("valid config refused: %v %s", err, out)
	}
}

func TestCommandsFailWithOneLineReason(t *testing.T) {
	for _, args := range [][]string{
		{"edge"},
		{"edge", "--config", "/does/not/exist.yaml"},
		{"validate"},
		{"no-such-command"},
		{"filter"},
		{"filter", "bogus"},
		{"policy", "tset", "x"},
	} {
		out, err := exec.Command(sluiceBin, args...).CombinedOutput()
		if exitCode(err) == 0 {
			t.Errorf("%v exited 0", args)
		}
		if first := strings.SplitN(string(out), "\n", 2)[0]; !strings.HasPrefix(first, "sluice: ") && !strings.HasPrefix(first, "Error: ") {
			t.Errorf("%v: first line %q is not a reason", args, first)
		}
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestEdgeServesAndExitsZeroOnSIGTERM(t *testing.T) {
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "upstream:"+r.URL.Path) })}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go up.Serve(ln)
	defer up.Close()
	cfg := writeFile(t, "sluice.yaml", fmt.Sprintf("upstreams: {u: {endpoints: [http://%s]}}\nroutes: [{name: r, match: {path_prefix: /api}, rewrite: {strip_prefix: /api}, upstream: u}]\n", ln.Addr()))

	listen, admin := freeAddr(t), freeAddr(t)
	cmd := exec.Command(sluiceBin, "edge", "--config", cfg, "--listen", listen, "--admin", admin)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitHTTP(t, "http://"+admin+"/readyz")
	resp, err := http.Get("http://" + listen + "/api/hello")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "upstream:/hello" {
		t.Fatalf("got %q", body)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("edge exit after SIGTERM: %v", err)
	}
	// One JSON access log line per request on stdout.
	var line map[string]any
	if err := json.Unmarshal(bytes.SplitN(stdout.Bytes(), []byte("\n"), 2)[0], &line); err != nil || line["route"] != "r" {
		t.Fatalf("access log %q: %v", stdout.String(), err)
	}
}

func TestDevPrintsWorkingCurlLines(t *testing.T) {
	for _, a := range []string{"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003", "127.0.0.1:9004"} {
		if c, err := net.Dial("tcp", a); err == nil {
			c.Close()
			t.Skipf("%s is in use; sluice dev needs it", a)
		}
	}
	// A fresh data dir (keys, JetStream, last good snapshot) that shares
	// only the wasm compilation cache with the other tests.
	data := t.TempDir()
	if err := os.MkdirAll(filepath.Join(sharedDataDir, "wasm-cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(sharedDataDir, "wasm-cache"), filepath.Join(data, "wasm-cache")); err != nil {
		t.Fatal(err)
	}
	// A collector for --traces, as the README's would be.
	otlp := testkit.StartOTLPReceiver(t)
	cmd := exec.Command(sluiceBin, "dev", "--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--data", data,
		"--publisher-listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--filters", "../../filters", "--policies", "../../policies",
		"--traces", otlp.URL)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Read the banner up to its last line; the curl lines are the contract
	// with a new user.
	var banner strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		banner.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "Stop with") {
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	// Run the printed lines as a user would paste them, in one shell.
	var script strings.Builder
	var lines []string
	for _, l := range strings.Split(banner.String(), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "curl ") || strings.HasPrefix(l, "BOB=") || strings.HasPrefix(l, "for ") || strings.HasPrefix(l, sluiceBin+" ") {
			fmt.Fprintf(&script, "echo '### %d'\n%s\n", len(lines), l)
			lines = append(lines, l)
		}
	}
	if len(lines) < 8 {
		t.Fatalf("banner has %d runnable lines:\n%s", len(lines), banner.String())
	}
	out, err := exec.Command("bash", "-c", script.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("the printed lines failed: %v\n%s", err, out)
	}
	checkOptionalFilterLines(t, banner.String(), lines, string(out))
	// HTTPS with the local CA's certificate, over HTTP/2; gRPC through
	// the gateway over h2c and TLS, and its refusal as a gRPC status.
	if c := strings.Count(string(out), "SERVING (grpc.health.v1.Health/Check"); c != 2 {
		t.Errorf("%d gRPC health checks answered SERVING, want 2 (h2c and TLS):\n%s", c, out)
	}
	for _, want := range []string{
		`"message":"hello, tls"`,
		"(HTTP/2)",
		"grpc-health: Unauthenticated: missing credentials",
		`"message":"hello, you"`,
		"HTTP/1.1 401",
		`"email": "[REDACTED]"`,
		"HTTP/1.1 403",
		"Deprecation: @",
		`"error":"no route"`,
		"HTTP/1.1 502",
		"sluice_requests_total{",
		"Content-Encoding: zstd",
		"X-Cache: MISS",
		"X-Cache: HIT",
		"Ratelimit-Remaining: ",
		`"purged": 1`,
		"429",
		`"api_version": 2`,
		`"invoices":{"invoices":[`,
		"X-Sluice-Partial: user",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the printed lines' output lacks %q:\n%s", want, out)
		}
	}
	// The example config came through the publisher: its status shows the
	// dev node on the stable revision.
	var pubURL string
	for _, l := range strings.Split(banner.String(), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "publisher" {
			pubURL = f[1]
		}
	}
	token, _ := os.ReadFile(filepath.Join(data, "token"))
	req, _ := http.NewRequest("GET", pubURL+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("publisher status at %q: %v", pubURL, err)
	}
	var st struct {
		Nodes []struct {
			ID       string `json:"id"`
			Revision int64  `json:"revision"`
		} `json:"nodes"`
		Stable int64 `json:"stable"`
	}
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.Stable < 1 || len(st.Nodes) != 1 || st.Nodes[0].ID != "dev" || st.Nodes[0].Revision != st.Stable {
		t.Fatalf("publisher status: %+v", st)
	}
	checkDashboardLine(t, bannerField(banner.String(), "dashboard"), pubURL, strings.TrimSpace(string(token)))

	// --traces: a request's trace reaches the collector.
	const traceID = "5bf92f3577b34da6a3ce929d0e0e4737"
	req, _ = http.NewRequest("GET", bannerField(banner.String(), "gateway")+"/hello?name=traced", nil)
	req.Header.Set("Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	testkit.Eventually(t, 20*time.Second, "the /hello request's server span at the collector", func() (bool, string) {
		var names []string
		for _, s := range otlp.Trace(traceID) {
			if s.Name == "GET hello" {
				return true, ""
			}
			names = append(names, s.Name)
		}
		return false, fmt.Sprintf("spans of the trace: %v", names)
	})
	if !strings.Contains(banner.String(), "traces    "+otlp.URL) {
		t.Errorf("the banner does not say where traces go:\n%s", banner.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dev exit: %v", err)
	}
}

// A --traces value that is no collector URL stops dev before it starts
// anything, naming the flag.
func TestDevRefusesABadTracesURL(t *testing.T) {
	for _, bad := range []string{"127.0.0.1:4318", "ftp://127.0.0.1:4318", "http://"} {
		out, err := exec.Command(sluiceBin, "dev", "--data", t.TempDir(), "--filters", "../../filters", "--policies", "../../policies",
			"--traces", bad).CombinedOutput()
		if exitCode(err) != 1 || !strings.Contains(string(out), "--traces") {
			t.Errorf("--traces %q: exit %d, want 1 with a reason naming --traces:\n%s", bad, exitCode(err), out)
		}
	}
}

// bannerField is the value of a "  name   value ..." line of the banner.
func bannerField(banner, name string) string {
	for _, l := range strings.Split(banner, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == name {
			return f[1]
		}
	}
	return ""
}

// checkOptionalFilterLines: each example filter in C, AssemblyScript and on
// proxy-wasm has a banner line that shows its header on the request the
// service echoes and on the response, or, when not built (wasm-build.sh
// skipped it for a missing toolchain), a note naming it. CI builds them
// all (WASM_REQUIRE_ALL=1), and there every line must be there.
func checkOptionalFilterLines(t *testing.T, banner string, lines []string, out string) {
	t.Helper()
	// What each line printed: the output between its "### N" marker and the next.
	sections := map[int]string{}
	n := -1
	for _, l := range strings.SplitAfter(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "### "); ok {
			if i, err := strconv.Atoi(strings.TrimSpace(rest)); err == nil {
				n = i
				continue
			}
		}
		if n >= 0 {
			sections[n] += l
		}
	}
	for _, o := range demo.OptionalFilters {
		if !demo.Built("../../filters", o.Name) {
			if os.Getenv("WASM_REQUIRE_ALL") == "1" {
				t.Errorf("%s is not built but WASM_REQUIRE_ALL=1", o.Name)
			}
			if !strings.Contains(banner, o.Name+" ("+o.What+") needs "+o.Needs) {
				t.Errorf("%s is not built and the banner does not say so:\n%s", o.Name, banner)
			}
			continue
		}
		found := false
		for i, l := range lines {
			if !strings.Contains(l, o.Path+"/invoices/echo") {
				continue
			}
			found = true
			for _, want := range []string{o.Header + ": " + o.Value, `"` + o.Header + `": "` + o.Value + `"`} {
				if !strings.Contains(sections[i], want) {
					t.Errorf("%s: %q printed no %q:\n%s", o.Name, l, want, sections[i])
				}
			}
		}
		if !found {
			t.Errorf("%s is built but the banner has no line for its route %s:\n%s", o.Name, o.Path, banner)
		}
	}
}

// checkDashboardLine: the banner's dashboard link is the publisher's fleet
// page with the API token in its fragment (the browser keeps it; servers
// never see a fragment), and that token opens the dashboard's data.
func checkDashboardLine(t *testing.T, link, pubURL, token string) {
	t.Helper()
	if want := pubURL + "/ui#token=" + token; link != want {
		t.Fatalf("dashboard link %q, want %q", link, want)
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "location.hash") {
		t.Errorf("dashboard page: %s, %d bytes, reads the fragment: %v", resp.Status, len(page), strings.Contains(string(page), "location.hash"))
	}
	req, _ := http.NewRequest("GET", pubURL+"/v1/dashboard", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/v1/dashboard with the link's token: %s", resp.Status)
	}
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, url+" ready", func() (bool, string) {
		resp, err := http.Get(url)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

func TestPolicyTestAndEval(t *testing.T) {
	out, err := exec.Command(sluiceBin, "policy", "test", "../../policies/rbac").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "0 failed") {
		t.Fatalf("policy test on a passing policy: %v\n%s", err, out)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.rego"), []byte("package sluice.authz\n\ndecision := input.request.method == \"GET\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "p_test.rego"), []byte("package sluice.authz_test\n\nimport data.sluice.authz\n\ntest_post_allowed if {\n\tauthz.decision with input as {\"request\": {\"method\": \"POST\"}}\n}\n"), 0o644)
	out, err = exec.Command(sluiceBin, "policy", "test", dir).CombinedOutput()
	if exitCode(err) != 1 || !strings.Contains(string(out), "test_post_allowed") {
		t.Fatalf("a failing Rego test must exit 1 and name the test: %v\n%s", err, out)
	}
	in := writeFile(t, "in.json", `{"request": {"method": "DELETE", "path": "/users/1"}, "auth": {"claims": {"roles": ["viewer"]}}}`)
	out, err = exec.Command(sluiceBin, "policy", "eval", "../../policies/rbac", "--input", in).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"allow": false`) || !strings.Contains(string(out), `"took"`) {
		t.Fatalf("policy eval: %v\n%s", err, out)
	}
}

func TestCgroupMemoryLimit(t *testing.T) {
	for text, want := range map[string]int64{"1073741824\n": 1 << 30, "max\n": 0, "": 0, "-1": 0} {
		got, ok := cgroupMemoryLimit(writeFile(t, "memory.max", text))
		if got != want || ok != (want > 0) {
			t.Errorf("%q: %d %v, want %d", text, got, ok, want)
		}
	}
	if _, ok := cgroupMemoryLimit(filepath.Join(t.TempDir(), "missing")); ok {
		t.Error("a missing file gave a limit")
	}
}
