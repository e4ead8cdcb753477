package edge

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// chunkedBody sends its chunks as separate writes of a chunked upload,
// each after the previous one was sent.
func chunkedBody(chunks ...[]byte) io.Reader {
	r, w := io.Pipe()
	go func() {
		for _, c := range chunks {
			if _, err := w.Write(c); err != nil {
				return
			}
		}
		w.Close()
	}()
	return r
}

// A chunked upload through the AssemblyScript guest's /upper, which
// pauses until the end of the stream and then uppercases what it held:
// the upstream gets the whole body rewritten, chunked. Its length is
// unknown when the request goes on, so no Content-Length is sent.
func TestProxyWasmStreamedRequestBodyRewrite(t *testing.T) {
	up := startUpstream(t, "sink", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
		}
		fmt.Fprintf(w, "%d %s", r.ContentLength, b)
	}))
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.Up}}"]}}
filters: {proxywasm: {module: {{.Mod}}}}
routes: [{name: r, match: {path_prefix: /}, upstream: u, filters: [proxywasm]}]
`, map[string]string{"Up": up.url, "Mod": pwGuestFile(t)}))
	chunks := [][]byte{bytes.Repeat([]byte("a"), 100<<10), bytes.Repeat([]byte("b"), 100<<10), []byte("tail")}
	resp, err := testClient.Post(n.url+"/upper", "text/plain", chunkedBody(chunks...))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := "-1 " + strings.ToUpper(string(bytes.Join(chunks, nil)))
	if resp.StatusCode != http.StatusOK || string(body) != want {
		t.Fatalf("%d, upstream got %d bytes (%.20q...), want the %d bytes uppercased, chunked", resp.StatusCode, len(body), body, len(want))
	}
	_, metrics := get(t, n.adminURL+"/metrics")
	if !strings.Contains(string(metrics), "sluice_proxywasm_pw_body_bytes_sum "+strconv.Itoa(200<<10+4)) {
		t.Errorf("the guest recorded no end-of-stream body of %d bytes (pw_body_bytes):\n%s", 200<<10+4, metrics)
	}
}

// A 1 GiB upload and download through proxy-wasm filters: one that only
// touches headers (a WAT guest without body callbacks) and the
// AssemblyScript guest, whose body callbacks continue on every chunk.
// Neither makes the node hold the body.
func TestProxyWasmLargeBodiesStream(t *testing.T) {
	up := startUpstream(t, "bulk", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Header().Set("X-Up-Seen", r.Header.Get("X-Pw-Seen"))
			io.Copy(w, &patternReader{bigBody})
			return
		}
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
		}
		fmt.Fprint(w, n)
	}))
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.Up}}"]}}
# Thousands of body calls per transfer: under -race on two shared cores one
# of them can wait longer than the default 50 ms for a CPU (a reset upload,
# seen once); the deadline is not what is tested.
filters:
  headers: {module: {{.Headers}}, limits: {timeout: 5s}}
  proxywasm: {module: {{.AS}}, limits: {timeout: 5s}}
routes:
  - {name: as, match: {path_prefix: /as}, upstream: u, filters: [proxywasm]}
  - {name: hdr, match: {path_prefix: /}, upstream: u, filters: [headers]}
`, map[string]string{"Up": up.url, "Headers": testkit.WATFile(t, "proxywasm_headers"), "AS": pwGuestFile(t)}))
	for _, path := range []string{"/up", "/as"} {
		t.Run("upload "+path, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, n.url+path, &patternReader{bigBody})
			req.Header.Set("Content-Type", "application/octet-stream")
			uploadWithinBudget(t, "upload through proxy-wasm", req)
		})
	}
	for _, path := range []string{"/down", "/as/down"} {
		t.Run("download "+path, func(t *testing.T) {
			resp := downloadWithinBudget(t, "download through proxy-wasm", n.url+path)
			if path == "/down" && (resp.Header.Get("X-Pw-Seen") != "1" || resp.Header.Get("X-Up-Seen") != "1") {
				t.Fatalf("the guest's headers did not pass: response %q, upstream saw %q", resp.Header.Get("X-Pw-Seen"), resp.Header.Get("X-Up-Seen"))
			}
			if path == "/as/down" && resp.Header.Get("X-Pw-Status") != "200" {
				t.Fatalf("the guest's on_response_headers did not run: %v", resp.Header)
			}
		})
	}
}

// The response body streams through the AssemblyScript guest: a chunk it
// lets through reaches the client while the upstream still waits to send
// the next one; on /wrap it holds the chunks and wraps the whole body at
// its end.
func TestProxyWasmStreamedResponseBody(t *testing.T) {
	var timedOut atomic.Bool
	read := make(chan struct{}, 1)
	up := startUpstream(t, "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first ")
		w.(http.Flusher).Flush()
		if r.URL.Path != "/wrap" {
			select { // the client must see the first chunk before the second exists
			case <-read:
			case <-time.After(10 * time.Second):
				timedOut.Store(true)
			}
		}
		io.WriteString(w, "second")
	}))
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.Up}}"]}}
filters: {proxywasm: {module: {{.Mod}}}}
routes: [{name: r, match: {path_prefix: /}, upstream: u, filters: [proxywasm]}]
`, map[string]string{"Up": up.url, "Mod": pwGuestFile(t)}))
	resp, err := testClient.Get(n.url + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, len("first "))
	_, err = io.ReadFull(resp.Body, first)
	read <- struct{}{}
	rest, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(first)+string(rest) != "first second" || timedOut.Load() || resp.Header.Get("X-Pw-Status") != "200" {
		t.Fatalf("read %q then %q (%v), upstream timed out waiting: %v, X-Pw-Status %q", first, rest, err, timedOut.Load(), resp.Header.Get("X-Pw-Status"))
	}
	resp, body := get(t, n.url+"/wrap")
	if resp.StatusCode != http.StatusOK || string(body) != "[first second]" {
		t.Fatalf("/wrap: %d %q, want the chunks held and wrapped whole", resp.StatusCode, body)
	}
}

// A guest that holds the response at its headers and pauses its body
// until the end: the headers wait for it (still writable: it adds
// X-Pw-Held at the end) and the body, known whole, gets its length.
func TestProxyWasmResponseHeadersHeldUntilBodyEnds(t *testing.T) {
	up := startUpstream(t, "chunks", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Write(make([]byte, 16<<20+1))
			return
		}
		for _, c := range []string{"one ", "two ", "three"} {
			io.WriteString(w, c)
			w.(http.Flusher).Flush()
		}
	}))
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.Up}}"]}}
filters: {held: {module: {{.Mod}}}}
routes: [{name: r, match: {path_prefix: /}, upstream: u, filters: [held]}]
`, map[string]string{"Up": up.url, "Mod": testkit.WATFile(t, "proxywasm_respheld")}))
	resp, body := get(t, n.url+"/")
	if resp.StatusCode != http.StatusOK || string(body) != "one two three" || resp.Header.Get("X-Pw-Held") != "1" || resp.ContentLength != int64(len(body)) {
		t.Fatalf("%d %q X-Pw-Held=%q Content-Length %d; want the body whole, the header the guest added at its end and the length",
			resp.StatusCode, body, resp.Header.Get("X-Pw-Held"), resp.ContentLength)
	}
	// Held past the body limit, before anything was sent: 502, as for a
	// response too large for a buffering filter.
	if resp, body := get(t, n.url+"/big"); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("a held response over 16 MiB: %d %.100q, want 502", resp.StatusCode, body)
	}
}

// A body callback that runs after the request went on (the transport
// pulls the body through it) still decides the answer: its local response
// replaces the upstream's, and its trap is the filter's 500, not the
// client's 400.
func TestProxyWasmStreamedRequestBodyAnswersAndFails(t *testing.T) {
	up := startUpstream(t, "reader", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return // the node gave up on the body
		}
		io.WriteString(w, "upstream")
	}))
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.Up}}"]}}
filters: {act: {module: {{.Mod}}}}
routes: [{name: r, match: {path_prefix: /}, upstream: u, filters: [act]}]
`, map[string]string{"Up": up.url, "Mod": testkit.WATFile(t, "proxywasm_bodyact")}))
	for _, c := range []struct {
		first  string
		status int
		body   string
	}{{"ok", 200, "upstream"}, {"L", 403, "denied by body"}, {"T", 500, ""}} {
		resp, err := testClient.Post(n.url+"/", "text/plain", chunkedBody([]byte(c.first), []byte("rest")))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || c.body != "" && string(body) != c.body {
			t.Errorf("body starting %q: %d %q, want %d %q", c.first, resp.StatusCode, body, c.status, c.body)
		}
	}
}

// A response without a body (HEAD, 204, 304) keeps its headers as the
// upstream sent them, Content-Length included, through a guest with body
// callbacks: no body will stream through it.
func TestProxyWasmBodilessResponseKeepsItsLength(t *testing.T) {
	up := startUpstream(t, "head", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1234")
		if r.Method != http.MethodHead {
			w.Write(make([]byte, 1234))
		}
	}))
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.Up}}"]}}
filters: {proxywasm: {module: {{.Mod}}}}
routes: [{name: r, match: {path_prefix: /}, upstream: u, filters: [proxywasm]}]
`, map[string]string{"Up": up.url, "Mod": pwGuestFile(t)}))
	resp, err := testClient.Head(n.url + "/doc")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength != 1234 || resp.Header.Get("X-Pw-Status") != "200" {
		t.Fatalf("HEAD: %d, Content-Length %d, X-Pw-Status %q; want 200 with the upstream's length 1234", resp.StatusCode, resp.ContentLength, resp.Header.Get("X-Pw-Status"))
	}
}
