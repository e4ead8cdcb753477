package edge

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sluicegw/sluice/runtime/filter"
	"github.com/sluicegw/sluice/runtime/internal/pwguest"
	"github.com/sluicegw/sluice/runtime/testkit"
)

// pwGuestFile writes the proxy-wasm test guest (AssemblyScript, built from
// npm packages once per test binary) where a config can name it.
func pwGuestFile(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "proxywasm.wasm")
	if err := os.WriteFile(p, pwguest.Build(t), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestProxyWasmFilterEndToEnd runs an unchanged proxy-wasm guest (built
// with the AssemblyScript SDK) on a real node in front of a real upstream.
func TestProxyWasmFilterEndToEnd(t *testing.T) {
	up := startUpstream(t, "users", nil)
	called := startUpstream(t, "called", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "from "+r.URL.Path)
	}))
	mod := pwGuestFile(t)
	n := startNode(t, render(t, `
upstreams:
  users: {endpoints: [{{.Up}}]}
  side: {endpoints: [{{.Called}}]}
filters:
  proxywasm: {module: {{.Mod}}, config: side, limits: {timeout: 1s}}
routes:
  - {name: api, match: {path_prefix: /}, upstream: users, filters: [proxywasm]}
`, map[string]string{"Up": up.url, "Called": called.url, "Mod": mod}))

	t.Run("headers in and out", func(t *testing.T) {
		resp, body := get(t, n.url+"/users?x=1", "X-Pw-Remove", "1", "X-Pw-Replaced", "old")
		e := decodeEcho(t, body)
		if got := e.Header["X-Pw-Config"]; len(got) != 1 || got[0] != "side" {
			t.Errorf("upstream got X-Pw-Config %v, want the plugin configuration", got)
		}
		if e.Header["X-Pw-Replaced"][0] != "new" || e.Header["X-Pw-Remove"] != nil {
			t.Errorf("upstream headers %v", e.Header)
		}
		if resp.Header.Get("X-Pw-Status") != "200" {
			t.Errorf("client got X-Pw-Status %q, want 200", resp.Header.Get("X-Pw-Status"))
		}
		// The guest's proxy_log line, in the node's log with the filter,
		// the phase and the request id.
		found := false
		for _, line := range strings.Split(n.logs.String(), "\n") {
			found = found || strings.Contains(line, `"msg":"request GET /users?x=1"`) && strings.Contains(line, `"filter":"proxywasm"`) &&
				strings.Contains(line, `"phase":"request"`) && strings.Contains(line, `"request_id":"`+resp.Header.Get("X-Request-Id")+`"`)
		}
		if !found {
			t.Errorf("no log line of the guest's with its filter, phase and request id:\n%s", n.logs)
		}
	})
	t.Run("local response", func(t *testing.T) {
		resp, body := get(t, n.url+"/local")
		if resp.StatusCode != 418 || string(body) != "short and stout" || resp.Header.Get("X-Local") != "yes" {
			t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
		}
	})
	t.Run("request body rewrite", func(t *testing.T) {
		resp, err := testClient.Post(n.url+"/upper", "text/plain", strings.NewReader("quiet please"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if e := decodeEcho(t, body); e.BodyLen != len("QUIET PLEASE") {
			t.Fatalf("upstream got a body of %d bytes", e.BodyLen)
		}
	})
	t.Run("response body rewrite", func(t *testing.T) {
		resp, body := get(t, n.url+"/wrap")
		if !bytes.HasPrefix(body, []byte("[{")) || !bytes.HasSuffix(body, []byte("]")) || resp.ContentLength != int64(len(body)) {
			t.Fatalf("body %q (Content-Length %d), want the echo wrapped in []", body, resp.ContentLength)
		}
	})
	t.Run("properties", func(t *testing.T) {
		_, body := get(t, n.url+"/props", "X-Probe", "p2", "Host", "api.example.com")
		want := "/props|GET|api.example.com|http|proxywasm|proxywasm|kept|p2|id|source"
		if string(body) != want {
			t.Fatalf("%q, want %q", body, want)
		}
	})
	t.Run("shared data", func(t *testing.T) {
		_, first := get(t, n.url+"/shared")
		_, second := get(t, n.url+"/shared")
		if !strings.Contains(string(first), "stale=") || !strings.Contains(string(second), "stale=8") {
			t.Fatalf("first %q, second %q: a stale CAS must be refused (8)", first, second)
		}
	})
	t.Run("http call to an upstream of the snapshot", func(t *testing.T) {
		_, body := get(t, n.url+"/call")
		e := decodeEcho(t, body)
		if e.Header["X-Call-Status"][0] != "202" || e.Header["X-Call-Body"][0] != "from /called" {
			t.Fatalf("upstream got %v", e.Header)
		}
	})
	t.Run("metrics on /metrics", func(t *testing.T) {
		_, body := get(t, n.adminURL+"/metrics")
		for _, want := range []string{"sluice_proxywasm_pw_requests ", "sluice_proxywasm_pw_in_flight ", "sluice_proxywasm_pw_body_bytes_count 1"} {
			if !strings.Contains(string(body), want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
	})
	t.Run("concurrent requests share the pool", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan string, 32)
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := testClient.Get(n.url + "/users")
				if err != nil {
					errs <- err.Error()
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || resp.Header.Get("X-Pw-Status") != "200" {
					errs <- resp.Status + " " + string(body)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
	})
	t.Run("a request body over the limit is 413", func(t *testing.T) {
		resp, err := testClient.Post(n.url+"/upper", "text/plain", bytes.NewReader(make([]byte, 16<<20+1)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("trap and timeout get 500, the node keeps serving", func(t *testing.T) {
		for _, path := range []string{"/trap", "/loop"} {
			resp, body := get(t, n.url+path)
			if resp.StatusCode != http.StatusInternalServerError || decodeError(t, resp, body).Error != `filter "proxywasm" failed` {
				t.Errorf("%s: %d %s", path, resp.StatusCode, body)
			}
		}
		if resp, _ := get(t, n.url+"/local"); resp.StatusCode != 418 {
			t.Fatalf("after the failures: %d", resp.StatusCode)
		}
		logs := n.logs.String()
		if !strings.Contains(logs, "proxy_on_request_headers: trap") || !strings.Contains(logs, "proxy_on_request_headers: timeout") {
			t.Errorf("the log does not say which callback failed how:\n%s", logs)
		}
		_, metrics := get(t, n.adminURL+"/metrics")
		for _, want := range []string{
			`sluice_filter_traps_total{filter="proxywasm",phase="request"} 1`,
			`sluice_filter_timeouts_total{filter="proxywasm",phase="request"} 1`,
			`sluice_filter_call_duration_seconds_count{filter="proxywasm",phase="response"}`,
		} {
			if !strings.Contains(string(metrics), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}

// TestProxyWasmMissingImportFailsBuild: a proxy-wasm guest importing a host
// function Sluice does not provide is refused when the snapshot is built
// (by `sluice validate` and the publisher too), the import named.
func TestProxyWasmMissingImportFailsBuild(t *testing.T) {
	rt, err := filter.NewRuntime(context.Background(), filter.RuntimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	cfg := mustParse(t, render(t, `
filters:
  grpc: {module: {{.Mod}}}
routes:
  - {name: r, match: {path: /}, filters: [grpc]}
`, map[string]string{"Mod": testkit.WATFile(t, "proxywasm_grpc")}))
	_, err = Build(context.Background(), cfg, BuildEnv{Filters: rt})
	if err == nil || !strings.Contains(err.Error(), `"env"."proxy_grpc_call"`) {
		t.Fatalf("err = %v, want the missing import named", err)
	}
}

// TestProxyWasmBesideHTTPWasmAndFailOpen: a proxy-wasm filter in a chain
// with an http-wasm one, under on_error: fail_open: a trap skips it with
// its changes undone, and the chain goes on.
func TestProxyWasmBesideHTTPWasmAndFailOpen(t *testing.T) {
	up := startUpstream(t, "users", nil)
	n := startNode(t, render(t, `
upstreams:
  users: {endpoints: [{{.Up}}]}
filters:
  stamp: {module: {{.Stamp}}}
  proxywasm: {module: {{.Mod}}, on_error: fail_open}
routes:
  - {name: api, match: {path_prefix: /}, upstream: users, filters: [stamp, proxywasm]}
`, map[string]string{"Up": up.url, "Stamp": testkit.WATFile(t, "stamp"), "Mod": pwGuestFile(t)}))

	resp, body := get(t, n.url+"/users")
	e := decodeEcho(t, body)
	if e.Header["X-Stamp"] == nil || e.Header["X-Pw-Config"] == nil || resp.Header.Get("X-Stamp") != "1" || resp.Header.Get("X-Pw-Status") != "200" {
		t.Fatalf("both filters should have run: upstream saw %v, client got %v", e.Header, resp.Header)
	}
	resp, body = get(t, n.url+"/trap")
	if resp.StatusCode != 200 {
		t.Fatalf("fail_open: %d %s", resp.StatusCode, body)
	}
	e = decodeEcho(t, body)
	if e.Header["X-Stamp"] == nil || e.Header["X-Pw-Config"] != nil {
		t.Fatalf("after the trap the upstream saw %v: want stamp's header and none of the skipped filter's", e.Header)
	}
}
