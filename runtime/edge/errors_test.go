package edge

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/testkit"
)

func TestUpstreamFailuresAnswerJSON(t *testing.T) {
	slow := startUpstream(t, "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	// A port nothing listens on: take one and close it.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	n := startNode(t, render(t, `
upstreams:
  dead: {endpoints: ["{{.Dead}}"]}
  slow: {endpoints: ["{{.Slow}}"], timeout: 5s}
  sick:
    endpoints: ["{{.Dead}}"]
    health_check: {path: /healthz, interval: 100ms, timeout: 50ms, unhealthy: 1}
routes:
  - {name: dead, match: {path: /dead}, upstream: dead}
  - {name: slow, match: {path: /slow}, upstream: slow, timeout: 200ms}
  - {name: sick, match: {path: /sick}, upstream: sick}
`, map[string]string{"Dead": dead, "Slow": slow.url}))

	resp, body := get(t, n.url+"/dead")
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("dead upstream: %d %s", resp.StatusCode, body)
	}
	decodeError(t, resp, body)

	start := time.Now()
	resp, body = get(t, n.url+"/slow")
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("slow upstream: %d %s", resp.StatusCode, body)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("route timeout 200ms not applied: took %s", time.Since(start))
	}
	decodeError(t, resp, body)

	testkit.WaitFor(t, 5*time.Second, "health check to mark the endpoint down", func() bool {
		resp, _ := get(t, n.url+"/sick")
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	// The node still serves after all that.
	resp, _ = get(t, n.url+"/nothing")
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("node stopped serving: %d", resp.StatusCode)
	}
}

// rawRequest sends bytes on a new connection and reads one response.
func rawRequest(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&b)
	return resp, b.String()
}

func TestSmugglingShapesRefused(t *testing.T) {
	n := startRoutingNode(t)
	addr := strings.TrimPrefix(n.url, "http://")
	cases := map[string]string{
		"CL and TE":            "POST /users HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"duplicate CL":         "POST /users HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
		"TE after tab":         "POST /users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n",
		"obs-fold":             "GET /users HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n",
		"space in name":        "GET /users HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
		"TE in HTTP/1.0":       "POST /users HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"TE not chunked":       "POST /users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
		"bare LF":              "GET /users HTTP/1.1\nHost: x\n\n",
		"space before colon":   "POST /users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
		"PRI with headers":     "PRI * HTTP/2.0\r\nHost: x\r\n\r\n",
		"bad chunk size":       "POST /users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nx\r\n0\r\n\r\n",
		"70KB chunk extension": "POST /users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("a", 70000) + "\r\nx\r\n0\r\n\r\n",
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			resp, body := rawRequest(t, addr, raw)
			// 501 is what RFC 9112 asks for an unknown transfer coding;
			// net/http sends it before the handler runs.
			if resp.StatusCode != 400 && resp.StatusCode != 501 {
				t.Fatalf("status %d, want a 400 (or 501) refusal: %s", resp.StatusCode, body)
			}
		})
	}
	// The node keeps serving after every refusal.
	if resp, _ := get(t, n.url+"/users"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after refusals: %d", resp.StatusCode)
	}
}

func TestOversizedHeadersGet431(t *testing.T) {
	n := startRoutingNode(t)
	addr := strings.TrimPrefix(n.url, "http://")
	raw := fmt.Sprintf("GET /users HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 80<<10))
	resp, body := rawRequest(t, addr, raw)
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431: %s", resp.StatusCode, body)
	}
	if !strings.Contains(body, `"error"`) {
		t.Errorf("431 body is not the JSON error: %s", body)
	}
}
