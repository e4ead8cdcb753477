package edge

import (
	"crypto/tls"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// A body a filter writes in handle_request while passing the request on
// begins the response, and the upstream's body follows it (the semantics of
// http-wasm-host-go, which the TCK's get_protocol_version case relies on).
// Streamed (no buffer_response) the upstream body is not buffered for it:
// the filter's bytes go first and the framing accounts for them; buffered,
// the guest's response phase sees both. Over the HTTP/1.1 engine under test
// and over HTTP/2 with TLS.
func TestRequestPhaseBodyPrecedesUpstreamBody(t *testing.T) {
	up := startUpstream(t, "u", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/sized"):
			w.Header().Set("Content-Length", "8")
			io.WriteString(w, "upstream")
		case strings.HasSuffix(r.URL.Path, "/chunked"):
			io.WriteString(w, "up")
			http.NewResponseController(w).Flush()
			io.WriteString(w, "stream")
		case strings.HasSuffix(r.URL.Path, "/empty"):
			w.Header().Set("Content-Length", "0")
		case strings.HasSuffix(r.URL.Path, "/nocontent"):
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	cfg := render(t, `
upstreams: {u: {endpoints: ["{{.Up}}"]}}
filters:
  streamed: {module: "{{.Guest}}"}
  buffered: {module: "{{.Guest}}", config: {buffer: true}}
routes:
  - {name: streamed, match: {path_prefix: /streamed}, upstream: u, filters: [streamed]}
  - {name: buffered, match: {path_prefix: /buffered}, upstream: u, filters: [buffered]}
`, map[string]string{"Up": up.url, "Guest": testkit.WATFile(t, "reqphasebody")})
	h1 := startNode(t, cfg)
	h2 := startNode(t, cfg, func(_ *Options, l *Listeners) { l.TLS = selfSignedTLS(t) })
	h2tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	t.Cleanup(h2tr.CloseIdleConnections)
	h1tr := &http.Transport{}
	t.Cleanup(h1tr.CloseIdleConnections)

	for _, proto := range []struct {
		name   string
		url    string
		client *http.Client
		major  int
	}{
		{"HTTP/1.1", h1.url, &http.Client{Transport: h1tr}, 1},
		{"HTTP/2", h2.url, &http.Client{Transport: h2tr}, 2},
	} {
		for _, path := range []string{"/streamed", "/buffered"} {
			for _, tc := range []struct {
				upstream, want string
				status         int
			}{
				{"/sized", "before:upstream", 200},
				{"/chunked", "before:upstream", 200},
				{"/empty", "before:", 200},
				{"/nocontent", "", 204},
			} {
				t.Run(proto.name+path+tc.upstream, func(t *testing.T) {
					resp, err := proto.client.Get(proto.url + path + tc.upstream)
					if err != nil {
						t.Fatal(err)
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil {
						t.Fatalf("reading the body: %v (framing does not match the body)", err)
					}
					if resp.ProtoMajor != proto.major || resp.StatusCode != tc.status || string(body) != tc.want {
						t.Fatalf("got %s %d %q, want %d %q", resp.Proto, resp.StatusCode, body, tc.status, tc.want)
					}
					if cl := resp.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(body)) {
						t.Fatalf("Content-Length %s for a body of %d bytes", cl, len(body))
					}
				})
			}
		}
	}
}
