package edge

// End-to-end tests of what each HTTP/1.1 engine must keep doing (issue 10,
// item 4): a real node (startNode) in front of a real upstream on loopback.
// Every test runs on both engines (SLUICE_TEST_ENGINE, see testEngine).

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"runtime"
	rtmetrics "runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// patternReader yields n bytes of a fixed pattern without holding them.
type patternReader struct{ n int64 }

var pattern = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}()

func (r *patternReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	n := 0
	for n < len(p) {
		n += copy(p[n:], pattern)
	}
	r.n -= int64(n)
	return n, nil
}

// heapInuse is runtime.MemStats.HeapInuse, read without stopping the world.
func heapInuse() uint64 {
	s := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	rtmetrics.Read(s)
	return s[0].Value.Uint64() + s[1].Value.Uint64()
}

// procStatus reads a field of /proc/self/status in bytes (0 where there is none).
func procStatus(field string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// memoryGrowth runs f and returns the largest growth of the heap in use
// over its level before f, sampled every few milliseconds while f runs,
// and the growth of the peak RSS (VmHWM, reset first where Linux allows).
func memoryGrowth(t *testing.T, f func()) (heap, rss uint64) {
	t.Helper()
	runtime.GC()
	base := heapInuse()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // resets VmHWM to VmRSS
	rssBase := procStatus("VmRSS")
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var max uint64
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				peak <- max
				return
			case <-tick.C:
				if h := heapInuse(); h > base && h-base > max {
					max = h - base
				}
			}
		}
	}()
	f()
	close(stop)
	heap = <-peak
	if hwm := procStatus("VmHWM"); hwm > rssBase {
		rss = hwm - rssBase
	}
	return heap, rss
}

const memoryBudget = 64 << 20

// streamsWithinBudget runs transfer, a bigBody transfer through a node,
// logs its time, CPU and memory growth, and fails the test if the heap grew
// past memoryBudget.
func streamsWithinBudget(t *testing.T, what string, transfer func()) {
	t.Helper()
	start, cpu := time.Now(), processCPU()
	heap, rss := memoryGrowth(t, transfer)
	t.Logf("%d MiB %s in %s (CPU %s): heap +%d MiB, peak RSS +%d MiB", bigBody>>20, what, time.Since(start).Round(time.Millisecond), (processCPU() - cpu).Round(time.Millisecond), heap>>20, rss>>20)
	if heap > memoryBudget {
		t.Fatalf("a %d MiB %s grew the heap by %d MiB (budget %d MiB)", bigBody>>20, what, heap>>20, memoryBudget>>20)
	}
}

// uploadWithinBudget sends req, whose body is bigBody bytes, through the
// node to an upstream that answers how many bytes it read: it must have
// read them all, and the transfer must stay within the heap budget.
func uploadWithinBudget(t *testing.T, what string, req *http.Request) {
	t.Helper()
	var got string
	var status int
	streamsWithinBudget(t, what, func() {
		resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got, status = string(b), resp.StatusCode
	})
	if status != http.StatusOK || got != strconv.Itoa(bigBody) {
		t.Fatalf("upstream answered %d %q, want 200 %d", status, got, bigBody)
	}
}

// downloadWithinBudget gets url, a bigBody-byte response, through the
// node: all of it must arrive, within the heap budget. The response is
// returned (its body read) for its headers.
func downloadWithinBudget(t *testing.T, what, url string) *http.Response {
	t.Helper()
	var got int64
	var resp *http.Response
	streamsWithinBudget(t, what, func() {
		var err error
		if resp, err = (&http.Client{Timeout: 2 * time.Minute}).Get(url); err != nil {
			t.Error(err)
			return
		}
		got, err = io.Copy(io.Discard, resp.Body)
		if err != nil {
			t.Error(err)
		}
		resp.Body.Close()
	})
	if resp == nil || resp.StatusCode != http.StatusOK || got != bigBody {
		t.Fatalf("client got %v with %d bytes, want 200 with %d", resp, got, bigBody)
	}
	return resp
}

// A 1 GiB request body streams through the node to the upstream without
// the node holding it: the process's heap grows by far less than the body.
func TestLargeUploadStreams(t *testing.T) {
	up := startUpstream(t, "sink", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
		}
		fmt.Fprint(w, n)
	}))
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.}}"]}}
routes: [{name: up, match: {path_prefix: /}, upstream: u}]
`, up.url))
	for _, chunked := range []bool{false, true} {
		t.Run(map[bool]string{false: "content-length", true: "chunked"}[chunked], func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, n.url+"/up", io.NopCloser(&patternReader{bigBody}))
			if !chunked {
				req.ContentLength = bigBody
			}
			uploadWithinBudget(t, "upload", req)
		})
	}
}

// A 1 GiB response body streams from the upstream through the node to the
// client without the node holding it.
func TestLargeDownloadStreams(t *testing.T) {
	up := startUpstream(t, "source", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("length") == "1" {
			w.Header().Set("Content-Length", strconv.Itoa(bigBody))
		}
		io.Copy(w, &patternReader{bigBody})
	}))
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.}}"]}}
routes: [{name: down, match: {path_prefix: /}, upstream: u}]
`, up.url))
	for _, length := range []bool{true, false} {
		t.Run(map[bool]string{true: "content-length", false: "chunked"}[length], func(t *testing.T) {
			url := n.url + "/down"
			if length {
				url += "?length=1"
			}
			downloadWithinBudget(t, "download", url)
		})
	}
}

// h2cClient speaks HTTP/2 without TLS (prior knowledge).
func h2cClient(t *testing.T) *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// Trailers the upstream sends after its body reach the client: an HTTP/1.1
// client in a chunked response, an HTTP/2 client in a trailing HEADERS.
func TestUpstreamTrailersReachClient(t *testing.T) {
	up := startUpstream(t, "trailers", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum, X-Count")
		io.WriteString(w, "part one, ")
		w.(http.Flusher).Flush()
		io.WriteString(w, "part two")
		w.Header().Set("X-Checksum", "abc123")
		w.Header().Set("X-Count", "2")
	}))
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.}}"]}}
routes: [{name: t, match: {path_prefix: /}, upstream: u}]
`, up.url))
	for name, client := range map[string]*http.Client{"HTTP/1.1": testClient, "HTTP/2.0": h2cClient(t)} {
		t.Run(name, func(t *testing.T) {
			resp, err := client.Get(n.url + "/t")
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(body) != "part one, part two" {
				t.Fatalf("body %q %v", body, err)
			}
			if resp.Proto != name {
				t.Fatalf("proto %s, want %s", resp.Proto, name)
			}
			if name == "HTTP/1.1" && (len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked") {
				t.Errorf("HTTP/1.1 response with trailers not chunked: %v", resp.TransferEncoding)
			}
			if got := resp.Trailer.Get("X-Checksum"); got != "abc123" {
				t.Errorf("trailer X-Checksum = %q, want abc123 (trailers %v)", got, resp.Trailer)
			}
			if got := resp.Trailer.Get("X-Count"); got != "2" {
				t.Errorf("trailer X-Count = %q, want 2 (trailers %v)", got, resp.Trailer)
			}
		})
	}
}

// Server-sent events arrive as the upstream sends them: the client reads
// the first event while the upstream is still holding back the second.
// The route has no compression.
func TestServerSentEventsArriveLive(t *testing.T) {
	var mu sync.Mutex
	releases := map[string]chan struct{}{}
	release := func(id string) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		if releases[id] == nil {
			releases[id] = make(chan struct{})
		}
		return releases[id]
	}
	up := startUpstream(t, "sse", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release(r.URL.Query().Get("id")):
		case <-r.Context().Done():
			return
		case <-time.After(10 * time.Second):
		}
		io.WriteString(w, "data: two\n\n")
	}))
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.}}"]}}
routes: [{name: events, match: {path_prefix: /events}, upstream: u}]
`, up.url))
	for name, client := range map[string]*http.Client{"HTTP/1.1": testClient, "HTTP/2.0": h2cClient(t)} {
		t.Run(name, func(t *testing.T) {
			id := strings.ReplaceAll(name, "/", "")
			resp, err := client.Get(n.url + "/events?id=" + id)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.Proto != name || resp.Header.Get("Content-Encoding") != "" {
				t.Fatalf("proto %s, Content-Encoding %q", resp.Proto, resp.Header.Get("Content-Encoding"))
			}
			lines := make(chan string, 8)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(resp.Body)
				for sc.Scan() {
					if sc.Text() != "" {
						lines <- sc.Text()
					}
				}
			}()
			select {
			case l := <-lines:
				if l != "data: one" {
					t.Fatalf("first event %q", l)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the first event did not arrive while the upstream held back the second")
			}
			close(release(id))
			select {
			case l := <-lines:
				if l != "data: two" {
					t.Fatalf("second event %q", l)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the second event did not arrive")
			}
		})
	}
}

// A streamed response's head reaches the client when the upstream sends
// it, before any of the body: an event stream or a long poll that opens
// with its headers and waits for the first event.
func TestStreamedResponseHeadArrivesBeforeBody(t *testing.T) {
	release := make(chan struct{})
	up := startUpstream(t, "sse", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", r.URL.Query().Get("type"))
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		case <-time.After(10 * time.Second):
		}
		io.WriteString(w, "data: one\n\n")
	}))
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.}}"]}}
routes: [{name: events, match: {path_prefix: /events}, upstream: u}]
`, up.url))
	defer close(release)
	for name, client := range map[string]*http.Client{"HTTP/1.1": testClient, "HTTP/2.0": h2cClient(t)} {
		for _, ct := range []string{"text/event-stream", "application/json"} {
			t.Run(name+" "+ct, func(t *testing.T) {
				type result struct {
					resp *http.Response
					err  error
				}
				got := make(chan result, 1)
				go func() {
					resp, err := client.Get(n.url + "/events?type=" + ct)
					got <- result{resp, err}
				}()
				select {
				case r := <-got:
					if r.err != nil {
						t.Fatal(r.err)
					}
					r.resp.Body.Close()
					if r.resp.StatusCode != http.StatusOK || r.resp.Proto != name {
						t.Fatalf("%s %d", r.resp.Proto, r.resp.StatusCode)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("the response head did not arrive while the upstream held back the body")
				}
			})
		}
	}
}

// A request with Expect: 100-continue gets the 100, sends its body, and the
// upstream gets all of it.
func TestExpectContinueForwardsBody(t *testing.T) {
	up := startUpstream(t, "u", nil)
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.}}"]}}
routes: [{name: r, match: {path_prefix: /}, upstream: u}]
`, up.url))
	tr := &http.Transport{ExpectContinueTimeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	const size = 256 << 10
	req, _ := http.NewRequest(http.MethodPut, n.url+"/put", io.NopCloser(&patternReader{size}))
	req.ContentLength = size
	req.Header.Set("Expect", "100-continue")
	var got100 atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got100Continue: func() { got100.Store(true) },
	}))
	start := time.Now()
	resp, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if !got100.Load() {
		t.Fatalf("no 100 Continue before the 200 (after %s)", time.Since(start))
	}
	if e := decodeEcho(t, body); e.BodyLen != size || e.Method != http.MethodPut {
		t.Fatalf("upstream got %s with %d bytes, want PUT with %d", e.Method, e.BodyLen, size)
	}
}

// A request with Expect: 100-continue that is refused from its head alone
// (no route, no credentials) gets its answer: at once, without a 100 (as
// net/http does), or after a 100 and the first of its body (fasthttp
// sends the 100 before the pipeline runs); either way a client that waits
// for the 100 or the answer before it sends the body is not left hanging.
func TestExpectContinueRefusedBeforeBody(t *testing.T) {
	up := startUpstream(t, "u", nil)
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.}}"]}}
auth:
  keys: {api_key: {header: X-API-Key, keys: {k1: {consumer: c}}}}
routes: [{name: r, match: {path_prefix: /private}, upstream: u, auth: [keys]}]
`, up.url))
	addr := strings.TrimPrefix(n.url, "http://")
	const size = 100000
	for path, want := range map[string]int{"/nothing": http.StatusNotFound, "/private": http.StatusUnauthorized} {
		t.Run(path, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", path, size)
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("neither a 100 nor an answer to the head: %v", err)
			}
			if resp.StatusCode == http.StatusContinue {
				// Asked for the body: a client sends it now.
				go io.Copy(c, &patternReader{size})
				if resp, err = http.ReadResponse(br, nil); err != nil {
					t.Fatalf("no answer after the 100 and the body: %v", err)
				}
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, want, body)
			}
			decodeError(t, resp, body)
		})
	}
}

// HEAD gets what GET gets but the body: the status, Content-Length, and a
// connection that carries the next request.
func TestHeadLikeGetWithoutBody(t *testing.T) {
	const size = 5000
	up := startUpstream(t, "u", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.Header().Set("X-Method", r.Method)
		io.CopyN(w, &patternReader{size}, size)
	}))
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.}}"]}}
routes: [{name: r, match: {path_prefix: /}, upstream: u}]
`, up.url))
	c, err := net.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	roundTrip := func(method string) (*http.Response, []byte) {
		t.Helper()
		fmt.Fprintf(c, "%s /doc HTTP/1.1\r\nHost: x\r\n\r\n", method)
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("%s on the same connection: %v", method, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s body: %v", method, err)
		}
		return resp, body
	}
	for i, method := range []string{http.MethodHead, http.MethodGet, http.MethodHead, http.MethodGet} {
		resp, body := roundTrip(method)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Method") != method {
			t.Fatalf("request %d %s: %d, upstream saw %q", i, method, resp.StatusCode, resp.Header.Get("X-Method"))
		}
		if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(size) {
			t.Errorf("request %d %s: Content-Length %q, want %d", i, method, cl, size)
		}
		if resp.Close {
			t.Fatalf("request %d %s: the node closes the connection", i, method)
		}
		want := size
		if method == http.MethodHead {
			want = 0
		}
		if len(body) != want {
			t.Fatalf("request %d %s: %d body bytes, want %d", i, method, len(body), want)
		}
	}
	// Nothing else arrives: a HEAD body would show up here.
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if b, err := br.Peek(1); len(b) > 0 {
		t.Fatalf("stray bytes after the responses: %q %v", b, err)
	}
}

// When the client leaves while the upstream is still working, the upstream
// request is canceled and the access log says 499.
func TestClientGoneIs499AndCancelsUpstream(t *testing.T) {
	started := make(chan string, 4)
	canceled := make(chan string, 4)
	up := startUpstream(t, "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		id := r.Header.Get("X-Request-Id")
		started <- id
		select {
		case <-r.Context().Done():
			canceled <- id
		case <-time.After(15 * time.Second):
		}
	}))
	cfg := render(t, `
upstreams: {u: {endpoints: ["{{.}}"], timeout: 30s}}
routes: [{name: slow, match: {path_prefix: /}, upstream: u}]
`, up.url)
	plain := startNode(t, cfg)
	overTLS := startNode(t, cfg, func(_ *Options, l *Listeners) { l.TLS = selfSignedTLS(t) })
	for _, conn := range []struct {
		name string
		n    *testNode
		dial func(addr string) (net.Conn, error)
	}{
		{"", plain, func(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }},
		{"TLS ", overTLS, func(addr string) (net.Conn, error) {
			return tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
		}},
	} {
		for _, tc := range []struct{ name, head, body string }{
			{"GET", "GET /slow HTTP/1.1\r\nHost: x\r\n", ""},
			{"POST", "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n", "hello"},
			{"chunked", "POST /slow HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"},
		} {
			t.Run(conn.name+tc.name, func(t *testing.T) {
				n := conn.n
				id := "gone-" + strings.ReplaceAll(conn.name, " ", "-") + tc.name
				c, err := conn.dial(strings.TrimPrefix(strings.TrimPrefix(n.url, "http://"), "https://"))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				io.WriteString(c, tc.head+"X-Request-Id: "+id+"\r\n\r\n"+tc.body)
				select {
				case got := <-started:
					if got != id {
						t.Fatalf("upstream started %q, want %q", got, id)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("the request never reached the upstream")
				}
				c.Close()
				select {
				case got := <-canceled:
					if got != id {
						t.Fatalf("upstream canceled %q, want %q", got, id)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("the upstream request was not canceled when the client left")
				}
				testkit.WaitFor(t, 5*time.Second, "a 499 in the access log", func() bool {
					for _, line := range strings.Split(n.logs.String(), "\n") {
						if strings.Contains(line, `"request_id":"`+id+`"`) && strings.Contains(line, `"status":499`) {
							return true
						}
					}
					return false
				})
			})
		}
	}
}

// A request pipelined behind one that takes a while is answered too. The
// fasthttp engine reads the connection while the first one runs, to see
// the client leave (fastwatch.go): the byte it read is not lost.
func TestPipelinedBehindSlowRequest(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	up := startUpstream(t, "u", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started <- struct{}{}
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
		}
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, b)
	}))
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.}}"]}}
routes: [{name: r, match: {path_prefix: /}, upstream: u}]
`, up.url))
	c, err := net.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	watching, held := clientWatches.started.Load(), clientWatches.held.Load()
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the first request never reached the upstream")
	}
	if testEngine == EngineFast {
		testkit.WaitFor(t, 5*time.Second, "the engine to watch the connection", func() bool {
			return clientWatches.started.Load() > watching
		})
	}
	io.WriteString(c, "POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
	if testEngine == EngineFast {
		testkit.WaitFor(t, 5*time.Second, "the watch to read the second request's first byte", func() bool {
			return clientWatches.held.Load() > held
		})
	}
	close(release)
	br := bufio.NewReader(c)
	for _, want := range []string{"GET /slow ", "POST /second abc"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response for %s: %v", want, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(body) != want {
			t.Fatalf("response for %s: %d %q", want, resp.StatusCode, body)
		}
	}
}

// Sequential requests through a node reuse one upstream connection, whatever
// the shape of their responses and requests.
func TestUpstreamKeepAliveReuse(t *testing.T) {
	var newConns atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			switch r.URL.Path {
			case "/chunked":
				io.WriteString(w, "part")
				w.(http.Flusher).Flush()
				io.WriteString(w, "part")
			case "/empty":
				w.WriteHeader(http.StatusNoContent)
			default:
				io.CopyN(w, &patternReader{100 << 10}, 100<<10)
			}
		}),
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				newConns.Add(1)
			}
		},
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["http://{{.}}"]}}
routes: [{name: r, match: {path_prefix: /}, upstream: u}]
`, ln.Addr().String()))
	paths := []string{"/big", "/chunked", "/empty"}
	for i := range 30 {
		var resp *http.Response
		var err error
		if i%4 == 3 {
			resp, err = testClient.Post(n.url+paths[i%3], "text/plain", strings.NewReader("a request body"))
		} else {
			resp, err = testClient.Get(n.url + paths[i%3])
		}
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	if got := newConns.Load(); got != 1 {
		t.Fatalf("30 sequential requests opened %d upstream connections, want 1", got)
	}
}

// A request that fails on one endpoint is retried on another: a 503 for
// an idempotent request, a refused connection for any.
func TestRetriesThroughNode(t *testing.T) {
	sick := startUpstream(t, "sick", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	well := startUpstream(t, "well", nil)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	n := startNode(t, render(t, `
upstreams:
  u: {endpoints: ["{{.Sick}}", "{{.Well}}", "{{.Dead}}"], balance: round_robin, retries: {attempts: 2, on: [connect-failure, "503"]}}
routes: [{name: r, match: {path_prefix: /}, upstream: u}]
`, map[string]string{"Sick": sick.url, "Well": well.url, "Dead": dead}))
	for i := range 6 {
		resp, body := get(t, n.url+"/r")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %d: %d %s, want 200 from the healthy endpoint after retries", i, resp.StatusCode, body)
		}
		if e := decodeEcho(t, body); e.Upstream != "well" {
			t.Fatalf("GET %d answered by %q", i, e.Upstream)
		}
	}
}

// BenchmarkClientWatchFastRequest is what watching for the client leaving
// costs a request that ends within the grace: arming the timer and
// stopping it.
func BenchmarkClientWatchFastRequest(b *testing.B) {
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	fc := newFastConn(c1)
	b.ReportAllocs()
	// The machine may be shared: CPU time per request says more than the
	// wall clock.
	cpu0 := processCPU()
	for b.Loop() {
		fc.beginWatch(true)
		fc.stopWatch()
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is the user and system time the process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The access log line of a streamed response counts the whole body and
// the time it took to send it, whatever its framing.
func TestAccessLogCountsStreamedBody(t *testing.T) {
	up := startUpstream(t, "u", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/length" {
			w.Header().Set("Content-Length", "10")
		}
		io.WriteString(w, "hello")
		w.(http.Flusher).Flush()
		time.Sleep(200 * time.Millisecond) // a deliberate upstream delay
		io.WriteString(w, "world")
	}))
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.}}"]}}
routes: [{name: r, match: {path_prefix: /}, upstream: u}]
`, up.url))
	for _, path := range []string{"/length", "/chunked"} {
		t.Run(path, func(t *testing.T) {
			id := "streamed" + strings.ReplaceAll(path, "/", "-")
			resp, body := get(t, n.url+path, "X-Request-Id", id)
			if resp.StatusCode != http.StatusOK || string(body) != "helloworld" {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
			var line struct {
				Status     int     `json:"status"`
				Bytes      int64   `json:"bytes"`
				DurationMS float64 `json:"duration_ms"`
			}
			testkit.WaitFor(t, 5*time.Second, "the access log line", func() bool {
				for _, l := range strings.Split(n.logs.String(), "\n") {
					if strings.Contains(l, `"msg":"request"`) && strings.Contains(l, `"request_id":"`+id+`"`) {
						return json.Unmarshal([]byte(l), &line) == nil
					}
				}
				return false
			})
			if line.Status != 200 || line.Bytes != 10 {
				t.Errorf("logged status %d, %d bytes; want 200, 10", line.Status, line.Bytes)
			}
			if line.DurationMS < 200 {
				t.Errorf("logged %.1f ms for a response that took 200 ms to send", line.DurationMS)
			}
		})
	}
}
