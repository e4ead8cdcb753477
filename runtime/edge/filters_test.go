package edge

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// repoRoot is the repository root, where filters/*.wasm and testdata live.
func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// exampleFilter returns the path of a built example filter. `make test`
// builds them first (./wasm-build.sh); a missing one is a setup error, not
// a reason to skip.
func exampleFilter(t testing.TB, name string) string {
	p := filepath.Join(repoRoot(t), "filters", name+".wasm")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is not built: run ./wasm-build.sh (make test does): %v", p, err)
	}
	return p
}

func TestFilterChainsEndToEnd(t *testing.T) {
	up := startUpstream(t, "users", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Server", "leaky/1.0")
		json.NewEncoder(w).Encode(map[string]any{
			"id": "7", "password": "hunter2", "nested": map[string]any{"ssn": "123-45-6789"},
			"saw_env": r.Header.Get("X-Env"), "saw_debug": r.Header.Get("X-Debug"),
		})
	}))
	n := startNode(t, render(t, `
upstreams: {users: {endpoints: ["{{.Up}}"]}}
filters:
  hello: {module: "{{.Hello}}"}
  headers:
    module: "{{.Headers}}"
    config:
      request: {set: {X-Env: prod}, remove: [X-Debug]}
      response: {set: {X-Frame-Options: DENY}, remove: [Server]}
  redact:
    module: "{{.Redact}}"
    config: {fields: [password, ssn]}
routes:
  - {name: hello, match: {path: /hello}, filters: [hello]}
  - {name: users, match: {path_prefix: /users}, upstream: users, filters: [headers, redact]}
  - {name: plain, match: {path_prefix: /plain}, upstream: users, filters: [headers]}
`, map[string]string{"Up": up.url, "Hello": exampleFilter(t, "hello"), "Headers": exampleFilter(t, "headers"), "Redact": exampleFilter(t, "redact-json")}))

	t.Run("serverless route answered by a filter", func(t *testing.T) {
		resp, body := get(t, n.url+"/hello?name=ann")
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"hello, ann"`) {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Error("a filter's answer lost the X-Request-Id")
		}
	})
	t.Run("request and response filters, buffered body", func(t *testing.T) {
		resp, body := get(t, n.url+"/users/7", "X-Debug", "1")
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if got["password"] != "[REDACTED]" || got["nested"].(map[string]any)["ssn"] != "[REDACTED]" {
			t.Errorf("not redacted: %s", body)
		}
		if got["saw_env"] != "prod" || got["saw_debug"] != "" {
			t.Errorf("request headers not rewritten: %s", body)
		}
		if resp.Header.Get("Server") != "" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("response headers not rewritten: %v", resp.Header)
		}
	})
	t.Run("header-only filter streams the body untouched", func(t *testing.T) {
		resp, body := get(t, n.url+"/plain")
		if !strings.Contains(string(body), "hunter2") || resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Server") != "" {
			t.Fatalf("%v %s", resp.Header, body)
		}
	})
}

func TestFailingFiltersAreContained(t *testing.T) {
	up := startUpstream(t, "u", nil)
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.Up}}"]}}
filters:
  trap-closed: {module: "{{.Trap}}"}
  trap-open:   {module: "{{.Trap}}", on_error: fail_open}
  loop:        {module: "{{.Loop}}", limits: {timeout: 50ms}}
routes:
  - {name: closed, match: {path: /closed}, upstream: u, filters: [trap-closed]}
  - {name: open,   match: {path: /open},   upstream: u, filters: [trap-open]}
  - {name: loop,   match: {path: /loop},   upstream: u, filters: [loop]}
  - {name: ok,     match: {path: /ok},     upstream: u}
`, map[string]string{"Up": up.url, "Trap": testkit.WATFile(t, "trap_request"), "Loop": testkit.WATFile(t, "loop")}))

	resp, body := get(t, n.url+"/closed")
	if resp.StatusCode != http.StatusInternalServerError || decodeError(t, resp, body).Error != `filter "trap-closed" failed` {
		t.Fatalf("fail_closed trap: %d %s", resp.StatusCode, body)
	}
	if resp, body := get(t, n.url+"/open"); resp.StatusCode != 200 || decodeEcho(t, body).Upstream != "u" {
		t.Fatalf("fail_open trap did not pass the request on: %d %s", resp.StatusCode, body)
	}
	start := time.Now()
	resp, body = get(t, n.url+"/loop")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("looping filter: %d %s", resp.StatusCode, body)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("looping filter held the request %s", time.Since(start))
	}
	// The node keeps serving, and the logs say which filter failed and why.
	if resp, _ := get(t, n.url+"/ok"); resp.StatusCode != 200 {
		t.Fatalf("node stopped serving: %d", resp.StatusCode)
	}
	testkit.WaitFor(t, 5*time.Second, "failure logged", func() bool {
		l := n.logs.String()
		return strings.Contains(l, `"filter":"trap-closed"`) && strings.Contains(l, `"filter":"loop"`) && strings.Contains(l, "timeout")
	})
}

func TestBadModuleRefusedAtBuild(t *testing.T) {
	up := startUpstream(t, "u", nil)
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.}}"]}}
routes: [{name: ok, match: {path: /ok}, upstream: u}]
`, up.url))
	bad := render(t, `
upstreams: {u: {endpoints: ["{{.Up}}"]}}
filters: {broken: {module: "{{.Mod}}"}}
routes: [{name: ok, match: {path: /ok}, upstream: u, filters: [broken]}]
`, map[string]string{"Up": up.url, "Mod": testkit.WATFile(t, "no_handle_response")})
	_, err := n.Apply(mustParse(t, bad))
	if err == nil || !strings.Contains(err.Error(), "handle_response") || !strings.Contains(err.Error(), `"broken"`) {
		t.Fatalf("Apply of a module without handle_response: %v", err)
	}
	if resp, _ := get(t, n.url+"/ok"); resp.StatusCode != 200 {
		t.Fatal("the old snapshot stopped serving")
	}
}

// TestEveryExampleFilterLoads compiles and instantiates every example
// filter the way a snapshot does. `make test` runs it once without -race to
// fill the shared compilation cache before the race-enabled run.
func TestEveryExampleFilterLoads(t *testing.T) {
	mods, _ := filepath.Glob(filepath.Join(repoRoot(t), "filters", "*.wasm"))
	if len(mods) < 7 {
		t.Fatalf("%d example filters built, want at least 7: run ./wasm-build.sh", len(mods))
	}
	n := NewNode(Options{DataDir: testDataDir})
	defer n.Close()
	var cfg strings.Builder
	cfg.WriteString("upstreams: {u: {endpoints: [\"http://127.0.0.1:1\"]}}\nfilters:\n")
	var names []string
	for _, m := range mods {
		name := strings.TrimSuffix(filepath.Base(m), ".wasm")
		names = append(names, name)
		conf := "{}"
		switch name { // filters that refuse an empty config
		case "headers":
			conf = "{response: {set: {X-A: b}}}"
		case "redact-json":
			conf = "{fields: [password]}"
		case "cors":
			conf = "{allowed_origins: ['*']}"
		case "ip-allow":
			conf = "{allow: [127.0.0.0/8]}"
		case "jwt-claims":
			conf = "{claims: {sub: X-User}}"
		case "introspect":
			conf = "{upstream: u}"
		}
		cfg.WriteString("  " + name + ": {module: \"" + m + "\", config: " + conf + "}\n")
	}
	cfg.WriteString("routes: [{name: r, match: {path: /}, upstream: u, filters: [" + strings.Join(names, ", ") + "]}]\n")
	s, err := n.Apply(mustParse(t, cfg.String()))
	if err != nil {
		t.Fatal(err)
	}
	// The SDK's stateless declaration reaches the host from a real Go
	// guest: the filters that keep a request's state between phases
	// (cors: the origin; request-id: the id) stay pinned, the rest not. A
	// proxy-wasm filter is always pinned: its stream context lives in the
	// instance.
	for _, name := range names {
		want := name == "cors" || name == "request-id" || proxyWasmFilters[name]
		if got := s.modules[name].Pinned(); got != want {
			t.Errorf("%s: Pinned() = %v, want %v", name, got, want)
		}
	}
}

// An instance is held from the request phase until the upstream answered,
// so the instance cap bounds requests in flight through a filter. A slow
// upstream and more concurrent requests than cores must not turn into 503s;
// limits.instances sets the cap, and past it the answer is a 503 with
// Retry-After.
func TestFilterInstancesCoverRequestsInFlight(t *testing.T) {
	const inFlight = 24 // more than the 4×GOMAXPROCS the cap once was
	var arrived atomic.Int32
	release := make(chan struct{})
	up := startUpstream(t, "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) == inFlight {
			close(release)
		}
		select {
		case <-release:
		case <-time.After(10 * time.Second): // the test fails below, not here
		}
		io.WriteString(w, "slow answer")
	}))
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.Up}}"]}}
filters:
  noop: {module: "{{.Noop}}"}
routes:
  - {name: many, match: {path_prefix: /many}, upstream: u, filters: [noop]}
`, map[string]string{"Up": up.url, "Noop": testkit.WATFile(t, "noop")}))

	statuses := make(chan int, inFlight)
	for range inFlight {
		go func() {
			resp, err := testClient.Get(n.url + "/many/x")
			if err != nil {
				statuses <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	for range inFlight {
		if s := <-statuses; s != 200 {
			t.Errorf("a request got %d, want every one of %d concurrent requests answered 200", s, inFlight)
		}
	}

	// limits.instances: 2. Two requests held by the upstream hold both
	// instances: a third waits in line until its route's timeout (not a
	// fixed 100 ms), then gets 503; one on a route with the default timeout
	// waits until an instance is freed and is served.
	hold := make(chan struct{})
	var held atomic.Int32
	slow := startUpstream(t, "held", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		held.Add(1)
		<-hold
	}))
	n2 := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.Up}}"]}}
filters:
  capped: {module: "{{.Noop}}", limits: {instances: 2}}
routes:
  - {name: few, match: {path_prefix: /few}, upstream: u, filters: [capped]}
  - {name: short, match: {path_prefix: /short}, upstream: u, filters: [capped], timeout: 300ms}
`, map[string]string{"Up": slow.url, "Noop": testkit.WATFile(t, "noop")}))
	done := make(chan int, 2)
	for range 2 {
		go func() {
			resp, err := testClient.Get(n2.url + "/few/x")
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				done <- resp.StatusCode
				return
			}
			done <- 0
		}()
	}
	testkit.WaitFor(t, 5*time.Second, "two requests held upstream", func() bool { return held.Load() == 2 })
	if _, metrics := get(t, n2.adminURL+"/metrics"); !strings.Contains(string(metrics), `sluice_filter_instances{filter="capped",state="busy"} 2`) {
		t.Errorf("metrics do not show both instances busy:\n%s", metrics)
	}
	queued := make(chan int, 1)
	go func() {
		resp, err := testClient.Get(n2.url + "/few/queued")
		if err != nil {
			queued <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		queued <- resp.StatusCode
	}()
	testkit.WaitFor(t, 5*time.Second, "a request waiting for an instance", func() bool {
		_, metrics := get(t, n2.adminURL+"/metrics")
		return strings.Contains(string(metrics), `sluice_filter_instances{filter="capped",state="waiting"} 1`)
	})
	start := time.Now()
	resp, body := get(t, n2.url+"/short/x")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("past limits.instances: %d %v %s, want 503 with Retry-After", resp.StatusCode, resp.Header, body)
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("answered 503 after %v, before the route's timeout of 300ms", waited)
	}
	close(hold)
	for range 2 {
		if s := <-done; s != 200 {
			t.Errorf("a held request ended with %d", s)
		}
	}
	if s := <-queued; s != 200 {
		t.Errorf("the request that waited for an instance got %d, want 200", s)
	}
}

// A response filter that replaces the body of an endless upstream stream
// (no buffering): the client gets the filter's body and the node stops
// reading the upstream, instead of draining it forever.
func TestReplacedBodyStopsReadingTheUpstream(t *testing.T) {
	stopped := make(chan struct{})
	up := startUpstream(t, "endless", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(stopped)
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for {
			if _, err := io.WriteString(w, "data: tick\n\n"); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
			select {
			case <-r.Context().Done():
				return
			default:
			}
		}
	}))
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.Up}}"]}}
filters: {replace: {module: "{{.Guest}}"}}
routes: [{name: r, match: {path_prefix: /}, upstream: u, filters: [replace]}]
`, map[string]string{"Up": up.url, "Guest": testkit.WATFile(t, "respwrite")}))
	resp, body := get(t, n.url+"/events")
	if resp.StatusCode != 200 || string(body) != "replaced" {
		t.Fatalf("got %d %q, want the filter's body", resp.StatusCode, body)
	}
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the node kept reading the endless upstream after the filter replaced its body")
	}
}

// Every handle_request that returned next=1 gets its handle_response, also
// when a later filter fails the request: guests free per-request state
// there, and a pooled instance that missed one would carry it on. The
// balance guest (one instance) reports in x-open how many of its requests
// are still waiting for their response phase.
func TestEveryRequestPhaseGetsItsResponsePhase(t *testing.T) {
	up := startUpstream(t, "u", nil)
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.Up}}"]}}
filters:
  balance: {module: "{{.Balance}}", limits: {instances: 1}}
  trap: {module: "{{.Trap}}"}
routes:
  - {name: fail, match: {path_prefix: /fail}, upstream: u, filters: [balance, trap]}
  - {name: ok, match: {path_prefix: /ok}, upstream: u, filters: [balance]}
`, map[string]string{"Up": up.url, "Balance": testkit.WATFile(t, "balance"), "Trap": testkit.WATFile(t, "trap_request")}))
	for i := 0; i < 3; i++ {
		if resp, body := get(t, n.url+"/fail"); resp.StatusCode != 500 {
			t.Fatalf("a trapping filter: %d %s", resp.StatusCode, body)
		}
	}
	resp, _ := get(t, n.url+"/ok")
	if resp.StatusCode != 200 || resp.Header.Get("X-Open") != "0" {
		t.Fatalf("x-open = %q (status %d): handle_response was skipped for requests a later filter failed", resp.Header.Get("X-Open"), resp.StatusCode)
	}
}

// A fail_open filter that fails leaves the request as if it had not run:
// its header changes are undone and a body it read with buffering is
// replayed. A body it read without buffering cannot be put back, so then
// the request fails instead of reaching the upstream cut short.
func TestFailOpenUndoesAFailedFilter(t *testing.T) {
	var got struct {
		header http.Header
		body   string
	}
	var mu sync.Mutex
	up := startUpstream(t, "u", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got.header, got.body = r.Header.Clone(), string(b)
		mu.Unlock()
		io.WriteString(w, "upstream")
	}))
	guest := testkit.WATFile(t, "halfread")
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.Up}}"]}}
filters:
  buffered: {module: "{{.Guest}}", config: "b", on_error: fail_open}
  streamed: {module: "{{.Guest}}", config: "s", on_error: fail_open}
routes:
  - {name: buffered, match: {path_prefix: /buffered}, upstream: u, filters: [buffered]}
  - {name: streamed, match: {path_prefix: /streamed}, upstream: u, filters: [streamed]}
`, map[string]string{"Up": up.url, "Guest": guest}))

	post := func(path string) (*http.Response, string) {
		resp, err := testClient.Post(n.url+path, "text/plain", strings.NewReader("0123456789"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := post("/buffered")
	if resp.StatusCode != 200 || body != "upstream" {
		t.Fatalf("fail_open after a buffered read: %d %s", resp.StatusCode, body)
	}
	mu.Lock()
	if got.body != "0123456789" || got.header.Get("X-Bad") != "" {
		t.Errorf("upstream got body %q and x-bad %q: the failed filter's changes leaked", got.body, got.header.Get("X-Bad"))
	}
	mu.Unlock()
	if resp.Header.Get("X-Bad") != "" {
		t.Error("the failed filter's response header reached the client")
	}

	resp, body = post("/streamed")
	if resp.StatusCode != 500 {
		t.Fatalf("fail_open after an unbuffered read: %d %s, want 500 (the body is gone)", resp.StatusCode, body)
	}
}

// Response trailers reach the guest and the client: the upstream's (in the
// buffered response phase) and those a guest sets.
func TestFilterResponseTrailers(t *testing.T) {
	up := startUpstream(t, "u", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Upstream-Trailer")
		io.WriteString(w, "hello")
		w.Header().Set("X-Upstream-Trailer", "sent")
	}))
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.Up}}"]}}
filters: {upper: {module: "{{.Guest}}"}}
routes: [{name: r, match: {path_prefix: /}, upstream: u, filters: [upper]}]
`, map[string]string{"Up": up.url, "Guest": testkit.WATFile(t, "respbody")}))
	resp, err := testClient.Get(n.url + "/t")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "HELLO" || resp.StatusCode != 201 {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if got := resp.Trailer.Get("X-Trailer"); got != "done" {
		t.Errorf("guest trailer = %q, want done (trailers %v)", got, resp.Trailer)
	}
	if got := resp.Trailer.Get("X-Upstream-Trailer"); got != "sent" {
		t.Errorf("upstream trailer = %q, want sent (trailers %v)", got, resp.Trailer)
	}
}

// A client that sends its body too slowly for a filter reading it gets 408
// at the filter's deadline; a malformed chunked body gets 400. Neither is the
// guest's fault: its instance is kept, and the node keeps serving.
func TestFilterBodyReadFailuresAreTheClients(t *testing.T) {
	up := startUpstream(t, "u", nil)
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.Up}}"]}}
filters: {wrap: {module: "{{.Guest}}", limits: {timeout: 300ms}}}
routes: [{name: r, match: {path_prefix: /}, upstream: u, filters: [wrap]}]
`, map[string]string{"Up": up.url, "Guest": testkit.WATFile(t, "reqbody")}))
	addr := strings.TrimPrefix(n.url, "http://")
	rawStatus := func(req string) string {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("no answer to %q: %v\n%s", req, err, n.logs.String())
		}
		return strings.TrimSpace(line)
	}
	// Two bytes of ten, then nothing.
	if got := rawStatus("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab"); !strings.HasPrefix(got, "HTTP/1.1 408") {
		t.Errorf("slow body: %q, want 408", got)
	}
	if got := rawStatus("POST /bad HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 400") {
		t.Errorf("malformed chunked body: %q, want 400", got)
	}
	resp, err := testClient.Post(n.url+"/ok", "text/plain", strings.NewReader("fine"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("a good request after them: %d", resp.StatusCode)
	}
	if strings.Contains(n.logs.String(), "trap") {
		t.Errorf("a client's body failure was logged as a guest trap:\n%s", n.logs.String())
	}
}

// A WebSocket through a route with filters: the response phase runs at the
// 101 (a header the guest sets reaches the client), the instances are
// released while the session goes on, and a guest that buffers responses
// does not break the upgrade.
func TestWebSocketThroughFilters(t *testing.T) {
	up := startWebSocketEcho(t)
	n := startNode(t, render(t, `
upstreams: {ws: {endpoints: ["{{.Up}}"]}}
filters:
  headers: {module: "{{.Headers}}", limits: {instances: 1}}
  buffered: {module: "{{.Buffered}}", limits: {instances: 1}}
routes:
  - {name: ws, match: {path: /ws}, upstream: ws, filters: [headers]}
  - {name: wsb, match: {path: /wsb}, upstream: ws, filters: [buffered]}
`, map[string]string{"Up": up.url, "Headers": testkit.WATFile(t, "headers"), "Buffered": testkit.WATFile(t, "bufresp")}))
	dial := func(path string) (*websocket.Conn, *http.Response) {
		t.Helper()
		c, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(n.url, "http")+path, nil)
		if err != nil {
			t.Fatalf("%s: %v (%v)", path, err, resp)
		}
		t.Cleanup(func() { c.Close() })
		return c, resp
	}
	echo := func(c *websocket.Conn, m string) {
		t.Helper()
		if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := c.ReadMessage(); err != nil || string(got) != "echo:"+m {
			t.Fatalf("got %q %v", got, err)
		}
	}
	c1, resp := dial("/ws")
	if resp.Header.Get("X-Ctx") != "42" {
		t.Errorf("101 headers %v: the response phase did not run at the upgrade", resp.Header)
	}
	echo(c1, "one")
	// One instance per filter, and the first session is still open: a
	// second session gets it only if the first released it at the 101.
	c2, _ := dial("/ws")
	echo(c2, "two")
	c3, _ := dial("/wsb")
	echo(c3, "three")
}
