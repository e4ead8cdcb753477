package proxy

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/httperr"
	"github.com/sluicegw/sluice/runtime/testkit"
)

func TestDeadUpstreamIs502(t *testing.T) {
	dead := deadURL(t)
	p, _ := newTestPool(t, upstreamCfg("", dead))

	err := p.Forward(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), ForwardOptions{})
	var he *httperr.Error
	if !errors.As(err, &he) || he.Status != http.StatusBadGateway {
		t.Fatalf("Forward to a dead endpoint: %v, want a 502 *httperr.Error", err)
	}
	if !strings.Contains(err.Error(), `upstream "svc"`) || !strings.Contains(err.Error(), dead) || !isConnectFailure(err) {
		t.Fatalf("error %q must name the upstream and the endpoint and keep the connect failure", err)
	}
	res := do(t, newClient(t), "GET", startProxy(t, p, ForwardOptions{})+"/", nil, nil)
	if res.status != http.StatusBadGateway || !strings.Contains(res.body, "upstream failed") {
		t.Fatalf("client got %d %q", res.status, res.body)
	}
}

// slowHeaders answers after d, or never if the request is canceled first.
func slowHeaders(d time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
			fmt.Fprint(w, "late")
		case <-r.Context().Done():
		}
	}
}

func TestSlowUpstreamIs504(t *testing.T) {
	slow := startUpstream(t, "slow", slowHeaders(10*time.Second))
	cfg := upstreamCfg("", slow.URL)
	cfg.Timeout = 50e6 // 50ms
	p, _ := newTestPool(t, cfg)

	start := time.Now()
	err := p.Forward(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), ForwardOptions{})
	if got := statusOf(t, err); got != http.StatusGatewayTimeout {
		t.Fatalf("status %d (%v), want 504", got, err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("504 took %v with a 50ms timeout", el)
	}
}

func TestRouteTimeoutOverridesUpstream(t *testing.T) {
	up := startUpstream(t, "up", func(w http.ResponseWriter, r *http.Request) {
		slowHeaders(map[string]time.Duration{"/slow": 10 * time.Second, "/medium": 150 * time.Millisecond}[r.URL.Path])(w, r)
	})

	long := upstreamCfg("", up.URL) // upstream timeout 5s
	p, _ := newTestPool(t, long)
	err := p.Forward(httptest.NewRecorder(), httptest.NewRequest("GET", "/slow", nil), ForwardOptions{Timeout: 50 * time.Millisecond})
	if got := statusOf(t, err); got != http.StatusGatewayTimeout {
		t.Fatalf("route timeout 50ms under upstream timeout 5s: status %d, want 504", got)
	}

	short := upstreamCfg("", up.URL)
	short.Timeout = 50e6
	p2, _ := newTestPool(t, short)
	rec := httptest.NewRecorder()
	if err := p2.Forward(rec, httptest.NewRequest("GET", "/medium", nil), ForwardOptions{Timeout: 5 * time.Second}); err != nil || rec.Body.String() != "late" {
		t.Fatalf("route timeout 5s over upstream timeout 50ms: %v %q, want the 150ms answer", err, rec.Body)
	}
}

// brokenUpstream sends response headers and part of the body, then closes
// the connection.
func brokenUpstream(t *testing.T, head string) *upstream {
	return startUpstream(t, "broken", func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString(head)
		_ = brw.Flush()
	})
}

func TestUpstreamClosingMidBodyAbortsClient(t *testing.T) {
	for name, head := range map[string]string{
		"chunked":        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
		"content-length": "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello",
	} {
		t.Run(name, func(t *testing.T) {
			up := brokenUpstream(t, head)
			p, logs := newTestPool(t, upstreamCfg("", up.URL))
			url := startProxy(t, p, ForwardOptions{})
			for _, h2 := range []bool{false, true} {
				client := newClient(t)
				if h2 {
					client = newH2CClient(t)
				}
				// The abort may come before the buffered headers left the
				// proxy (an error from Get) or after (an error reading the
				// body); a clean, short body is the one wrong outcome.
				resp, err := client.Get(url + "/")
				if err != nil {
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil {
					t.Fatalf("h2=%v: client read a clean %d-byte body %q; want an aborted response", h2, len(body), body)
				}
			}
			if !strings.Contains(logs.String(), "cut short") {
				t.Fatal("abort not logged")
			}
			testkit.WaitFor(t, 5*time.Second, "in-flight count back to 0", func() bool { return p.Endpoints()[0].InFlight == 0 })
		})
	}
}

func TestTimeoutMidBodyAbortsClient(t *testing.T) {
	up := startUpstream(t, "stall", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "first")
		_ = http.NewResponseController(w).Flush()
		<-r.Context().Done()
	})
	p, _ := newTestPool(t, upstreamCfg("", up.URL))
	url := startProxy(t, p, ForwardOptions{Timeout: 100 * time.Millisecond})
	resp, err := newClient(t).Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil || string(body) != "first" {
		t.Fatalf("read %q, %v; want the first chunk then an aborted response", body, err)
	}
}

// streamingUpstream sends first, flushes, waits for next, then sends second.
func streamingUpstream(t *testing.T, next <-chan struct{}, contentType, length string) *upstream {
	return startUpstream(t, "stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		if length != "" {
			w.Header().Set("Content-Length", length)
		}
		fmt.Fprint(w, "first\n")
		_ = http.NewResponseController(w).Flush()
		select {
		case <-next:
		case <-time.After(10 * time.Second):
		}
		fmt.Fprint(w, "second\n")
	})
}

func TestStreamingFlushesEachChunk(t *testing.T) {
	for _, tc := range []struct{ name, contentType, length string }{
		{"unknown length", "application/octet-stream", ""},
		// An event stream is flushed even when its length is known.
		{"event stream", "text/event-stream; charset=utf-8", "13"},
	} {
		for _, h2 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/h2=%v", tc.name, h2), func(t *testing.T) {
				next := make(chan struct{})
				up := streamingUpstream(t, next, tc.contentType, tc.length)
				p, _ := newTestPool(t, upstreamCfg("", up.URL))
				url := startProxy(t, p, ForwardOptions{})
				client := newClient(t)
				if h2 {
					client = newH2CClient(t)
				}
				resp, err := client.Get(url + "/")
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				br := bufio.NewReader(resp.Body)
				line := make(chan string, 1)
				go func() { l, _ := br.ReadString('\n'); line <- l }()
				select {
				case l := <-line:
					if l != "first\n" {
						t.Fatalf("first line %q", l)
					}
				case <-time.After(3 * time.Second):
					close(next)
					t.Fatal("the first chunk did not reach the client before the upstream sent the second")
				}
				close(next)
				rest, err := io.ReadAll(br)
				if err != nil || string(rest) != "second\n" {
					t.Fatalf("rest %q, %v", rest, err)
				}
			})
		}
	}
}

// echoUpstream answers with what it received, as JSON, and sets hop-by-hop
// response headers and a trailer.
func echoUpstream(t *testing.T) *upstream {
	return startUpstream(t, "echo", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Connection", "X-Resp-Hop")
		h.Set("X-Resp-Hop", "1")
		h.Set("Keep-Alive", "timeout=1")
		h.Set("Proxy-Authenticate", "Basic")
		h.Set("X-Resp-Keep", "yes")
		h.Set("Via", "1.1 backend")
		h.Set("Content-Type", "application/json")
		h.Set("Trailer", "X-Checksum")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"header": r.Header, "host": r.Host, "uri": r.RequestURI, "proto": r.Proto,
		})
		h.Set("X-Checksum", "abc")
	})
}

type echoed struct {
	Header http.Header
	Host   string
	URI    string
	Proto  string
}

func TestHeadersQueryAndTrailers(t *testing.T) {
	up := echoUpstream(t)
	p, _ := newTestPool(t, upstreamCfg("", up.URL))
	proxyURL := startProxy(t, p, ForwardOptions{})

	// A raw request, so the client library cannot tidy the headers.
	conn, err := net.Dial("tcp", strings.TrimPrefix(proxyURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const uri = "/echo/a%2Fb?a=1&b=%2F&a=2&c"
	fmt.Fprint(conn, "GET "+uri+" HTTP/1.1\r\n"+
		"Host: api.example.com\r\n"+
		"Connection: keep-alive, X-Hop\r\n"+
		"X-Hop: 1\r\n"+
		"Keep-Alive: timeout=5\r\n"+
		"Proxy-Authorization: Basic eA==\r\n"+
		"Proxy-Connection: keep-alive\r\n"+
		"Te: trailers\r\n"+
		"Upgrade: foo\r\n"+ // without Connection: upgrade it is just a hop-by-hop header
		"X-Forwarded-For: 203.0.113.9\r\n"+
		"Via: 1.0 cdn\r\n"+
		"X-Keep: yes\r\n"+
		"\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got echoed
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	for _, k := range []string{"Connection", "X-Hop", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "Te", "Upgrade"} {
		if v, ok := got.Header[k]; ok {
			t.Errorf("upstream received hop-by-hop %s: %q", k, v)
		}
	}
	want := map[string]string{
		"X-Keep":            "yes",
		"X-Forwarded-For":   "203.0.113.9, 127.0.0.1",
		"X-Forwarded-Proto": "http",
		"X-Forwarded-Host":  "api.example.com",
		"Via":               "1.0 cdn,1.1 sluice",
	}
	for k, v := range want {
		if g := strings.Join(got.Header[k], ","); g != v {
			t.Errorf("upstream received %s %q, want %q", k, g, v)
		}
	}
	if ua := strings.Join(got.Header["User-Agent"], ""); ua != "" {
		t.Errorf("upstream received User-Agent %q; the client sent none", ua)
	}
	if want := strings.TrimPrefix(up.URL, "http://"); got.Host != want {
		t.Errorf("upstream received Host %q, want its own %q", got.Host, want)
	}
	if got.URI != uri || got.Proto != "HTTP/1.1" {
		t.Errorf("upstream received %s %q, want HTTP/1.1 %q", got.Proto, got.URI, uri)
	}

	for _, k := range []string{"X-Resp-Hop", "Keep-Alive", "Proxy-Authenticate"} {
		if v, ok := resp.Header[k]; ok {
			t.Errorf("client received hop-by-hop %s: %q", k, v)
		}
	}
	if resp.Header.Get("X-Resp-Keep") != "yes" || strings.Join(resp.Header["Via"], ",") != "1.1 backend,1.1 sluice" {
		t.Errorf("client response header %v", resp.Header)
	}
	if v := resp.Trailer.Get("X-Checksum"); v != "abc" {
		t.Errorf("trailer X-Checksum %q, want abc (trailers %v)", v, resp.Trailer)
	}
}

func TestNoContentTypeSniffing(t *testing.T) {
	up := startUpstream(t, "bare", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil
		fmt.Fprint(w, "<html>not sniffed</html>")
	})
	p, _ := newTestPool(t, upstreamCfg("", up.URL))
	res := do(t, newClient(t), "GET", startProxy(t, p, ForwardOptions{})+"/", nil, nil)
	if ct, ok := res.header["Content-Type"]; ok {
		t.Fatalf("client got Content-Type %q the upstream never sent", ct)
	}
}
