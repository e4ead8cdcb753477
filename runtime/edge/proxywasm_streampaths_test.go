package edge

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// The paths of a streamed proxy-wasm body past the plain chunk: trailers,
// a guest failing or answering after the response began, and two
// streaming guests on one route. The guest (proxywasm_mark.wat) appends
// its marker, its configuration, to every chunk it is given.

// markNode serves route r through the proxywasm_mark filters named in
// chain, configured as configs gives (filter name: configuration), to the
// upstream at upURL (with protocol, if not "").
func markNode(t *testing.T, upURL, protocol string, configs map[string]string, chain ...string) *testNode {
	t.Helper()
	var filters strings.Builder
	for name, conf := range configs {
		// limits.instances 1: a request can only be served if the last
		// one gave its instance back (or the pool dropped a broken one).
		filters.WriteString("  " + name + ": {module: " + testkit.WATFile(t, "proxywasm_mark") + ", config: " + conf + ", limits: {instances: 1}}\n")
	}
	up := "{endpoints: [\"" + upURL + "\"]}"
	if protocol != "" {
		up = "{endpoints: [\"" + upURL + "\"], protocol: " + protocol + "}"
	}
	return startNode(t, "upstreams: {u: "+up+"}\nfilters:\n"+filters.String()+
		"routes: [{name: r, match: {path_prefix: /}, upstream: u, filters: ["+strings.Join(chain, ", ")+"]}]\n")
}

// readExactly reads len(want) bytes of the response body and fails unless
// they are want.
func readExactly(t *testing.T, r io.Reader, want string) {
	t.Helper()
	got := make([]byte, len(want))
	if n, err := io.ReadFull(r, got); err != nil || string(got) != want {
		t.Fatalf("read %q (%v), want %q", got[:n], err, want)
	}
}

// The upstream's trailers, from HTTP/1.1 chunked and from HTTP/2, reach a
// guest streaming the response body in proxy_on_response_trailers; the
// one it rewrites is the one the client gets.
func TestProxyWasmStreamedResponseTrailers(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Up-Trailer")
		io.WriteString(w, "body")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Up-Trailer", "v1")
	})
	h2URL, _ := h2cServer(t, h)
	for _, c := range []struct{ name, url, protocol string }{
		{"http1 chunked", startUpstream(t, "trailers", h).url, ""},
		{"h2c", h2URL, "h2c"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := markNode(t, c.url, c.protocol, map[string]string{"mark": "A"}, "mark")
			resp, body := get(t, n.url+"/")
			// The last body call has end_of_stream unset (trailers follow)
			// and is empty: the guest marks the one chunk only.
			if resp.StatusCode != http.StatusOK || string(body) != "bodyA" || resp.Trailer.Get("X-Up-Trailer") != "v1A" {
				t.Fatalf("%d %q trailers %v; want 200 \"bodyA\" with X-Up-Trailer: v1A (the upstream's v1, rewritten by the guest)",
					resp.StatusCode, body, resp.Trailer)
			}
		})
	}
}

// lockstepUpstream sends the response body's chunks one at a time, each
// once the test took the previous one from next (the client read what came
// of it), so every chunk is one read, one guest call.
func lockstepUpstream(t *testing.T, chunks map[string][]string) (url string, next chan struct{}) {
	next = make(chan struct{})
	up := startUpstream(t, "lockstep", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i, c := range chunks[r.URL.Path] {
			if i > 0 {
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
			}
			io.WriteString(w, c)
			w.(http.Flusher).Flush()
		}
	}))
	return up.url, next
}

// A guest that traps in a response body callback after the headers went
// out cuts the response: the client sees the body end in an error, not a
// clean end. The node logs it, counts the trap, and the filter's only
// instance slot serves the next request.
func TestProxyWasmStreamedResponseTrapCutsTheResponse(t *testing.T) {
	url, next := lockstepUpstream(t, map[string][]string{"/trap": {"ok ", "TRAP", "never"}, "/fine": {"fine"}})
	n := markNode(t, url, "", map[string]string{"mark": "A"}, "mark")
	resp, err := testClient.Get(n.url + "/trap")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want the upstream's 200 (sent with the first chunk)", resp.StatusCode)
	}
	readExactly(t, resp.Body, "ok A")
	next <- struct{}{}
	rest, err := io.ReadAll(resp.Body)
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) || len(rest) != 0 {
		t.Fatalf("after the trap the client read %q more and %v; want the response cut (unexpected EOF), nothing more", rest, err)
	}
	testkit.WaitFor(t, 5*time.Second, "the trap logged", func() bool {
		return strings.Contains(n.logs.String(), "filter failed on the response body; response cut")
	})
	testkit.Eventually(t, 5*time.Second, "the trap counted", func() (bool, string) {
		_, m := get(t, n.adminURL+"/metrics")
		return strings.Contains(string(m), `sluice_filter_traps_total{filter="mark",phase="response"} 1`), string(m)
	})
	// With one instance allowed, this is served only if the trapped one
	// did not stay taken, and correctly only if it was not reused.
	if resp, body := get(t, n.url+"/fine"); resp.StatusCode != http.StatusOK || string(body) != "fineAA" {
		t.Fatalf("the next request: %d %q, want 200 \"fineAA\"", resp.StatusCode, body)
	}
}

// proxy_send_local_response from a response body callback fails the
// response (RATIONALE: Envoy resets the stream): once the headers went out
// the client's response is cut; while the guest still holds them the
// failure is the answer, the filter's 500, not the guest's 403.
func TestProxyWasmStreamedResponseLocalAnswerFails(t *testing.T) {
	url, next := lockstepUpstream(t, map[string][]string{"/sent": {"ok ", "Late", "never"}, "/held": {"Late", "never"}, "/fine": {"fine"}})
	t.Run("headers sent", func(t *testing.T) {
		n := markNode(t, url, "", map[string]string{"mark": "A"}, "mark")
		resp, err := testClient.Get(n.url + "/sent")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		readExactly(t, resp.Body, "ok A")
		next <- struct{}{}
		rest, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !errors.Is(err, io.ErrUnexpectedEOF) || len(rest) != 0 {
			t.Fatalf("%d, then %q and %v; want the 200 cut after \"ok A\" (unexpected EOF)", resp.StatusCode, rest, err)
		}
		testkit.WaitFor(t, 5*time.Second, "the failure logged", func() bool {
			return strings.Contains(n.logs.String(), "after its response began")
		})
		// Not a trap: the instance is healthy and serves the next one.
		if resp, body := get(t, n.url+"/fine"); resp.StatusCode != http.StatusOK || string(body) != "fineAA" {
			t.Fatalf("the next request: %d %q, want 200 \"fineAA\"", resp.StatusCode, body)
		}
	})
	t.Run("headers held", func(t *testing.T) {
		n := markNode(t, url, "", map[string]string{"mark": "AH"}, "mark")
		resp, body := get(t, n.url+"/held")
		e := decodeError(t, resp, body)
		if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(e.Error, `filter "mark" failed`) {
			t.Fatalf("%d %q; want the filter's 500, not the guest's 403", resp.StatusCode, body)
		}
	})
}

// Two streaming guests on one route both see every chunk, in order: the
// request's chunks go through the first filter, then the second; the
// response's through the last filter first. Each appends its marker, so
// the bodies show the order exactly.
func TestProxyWasmTwoStreamingFiltersChain(t *testing.T) {
	send := make(chan string) // the request's chunks, one at a time
	got := make(chan string, 1)
	next := make(chan struct{})
	up := startUpstream(t, "chain", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read each chunk as it came out of the chain before the client
		// sends the next: one client chunk is one guest call.
		var seen strings.Builder
		for _, want := range []string{"oneAB", "twoAB"} {
			b := make([]byte, len(want))
			if _, err := io.ReadFull(r.Body, b); err != nil {
				got <- seen.String() + "<" + err.Error() + ">"
				return
			}
			seen.Write(b)
			select {
			case send <- "":
			case <-r.Context().Done():
				return
			}
		}
		rest, _ := io.ReadAll(r.Body)
		seen.Write(rest)
		got <- seen.String()
		io.WriteString(w, "uno")
		w.(http.Flusher).Flush()
		select {
		case <-next:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "dos")
	}))
	n := markNode(t, up.url, "", map[string]string{"a": "A", "b": "B"}, "a", "b")
	pr, pw := io.Pipe()
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for _, c := range []string{"one", "two"} {
			pw.Write([]byte(c))
			select {
			case <-send:
			case <-stop:
				pw.CloseWithError(errors.New("test over"))
				return
			}
		}
		pw.Close() // the end of the body, a call of its own
	}()
	resp, err := testClient.Post(n.url+"/", "text/plain", pr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The last call (empty, end_of_stream) is marked too: "A", then "AB".
	if s := <-got; s != "oneABtwoABAB" {
		t.Fatalf("the upstream got %q, want \"oneABtwoABAB\" (a before b on every chunk)", s)
	}
	readExactly(t, resp.Body, "unoBA")
	next <- struct{}{}
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "dosBABA" {
		t.Fatalf("then %q (%v), want \"dosBABA\" (b before a on every chunk)", rest, err)
	}
}
