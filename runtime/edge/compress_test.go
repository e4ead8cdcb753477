package edge

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

const compressConfig = `
upstreams:
  svc: {endpoints: [{{.}}]}
routes:
  - name: squeezed
    match: {path_prefix: /c}
    upstream: svc
    compress: [zstd, br, gzip]
  - name: gzip-only
    match: {path_prefix: /g}
    rewrite: {strip_prefix: /g}
    upstream: svc
    compress: [gzip]
  - name: plain
    match: {path_prefix: /p}
    rewrite: {strip_prefix: /p}
    upstream: svc
`

// jsonBody is a 16 KiB JSON document, compressible as real API answers are.
func jsonBody(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"items":[`)
	for i := 0; b.Len() < size-64; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"user-%d","email":"user%d@example.com","active":%t}`, i, i, i, i%3 == 0)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// compressUpstream serves what the compress tests need, by path.
func compressUpstream(big []byte, release <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/c"), "/g") {
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Etag", `"v1"`)
			w.Write(big)
		case "/small":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"ok":true}`))
		case "/png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(big)
		case "/precompressed":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			zw.Write(big)
			zw.Close()
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
			w.Write([]byte("data: first\n\n"))
			w.(http.Flusher).Flush()
			<-release
			w.Write([]byte("data: last\n\n"))
		default:
			http.NotFound(w, r)
		}
	})
}

// rawGet sends a GET without the client's own transparent decompression.
func rawGet(t *testing.T, url, acceptEncoding string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

var rawClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

func decode(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	case "":
		return b
	default:
		t.Fatalf("unexpected encoding %q", enc)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", enc, err)
	}
	return out
}

func TestCompressNegotiation(t *testing.T) {
	big := jsonBody(16 << 10)
	up := startUpstream(t, "svc", compressUpstream(big, nil))
	tn := startNode(t, render(t, compressConfig, up.url))

	for _, c := range []struct{ path, accept, want string }{
		{"/c/json", "gzip, deflate, br, zstd", "zstd"},
		{"/c/json", "gzip, br", "br"},
		{"/c/json", "gzip", "gzip"},
		{"/c/json", "zstd;q=0, br;q=0.5, gzip;q=0.9", "gzip"},
		{"/c/json", "*", "zstd"},
		{"/c/json", "gzip;q=0, br;q=0, zstd;q=0", ""},
		{"/c/json", "", ""},
		{"/g/json", "zstd, br", ""}, // the route offers gzip only
		{"/g/json", "zstd, gzip;q=0.1", "gzip"},
		{"/p/json", "gzip", ""},  // no compress on the route
		{"/c/small", "gzip", ""}, // too small to be worth it
		{"/c/png", "gzip", ""},   // already compressed media
	} {
		resp, b := rawGet(t, tn.url+c.path, c.accept)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", c.path, resp.StatusCode)
		}
		if got := resp.Header.Get("Content-Encoding"); got != c.want {
			t.Errorf("%s with %q: Content-Encoding %q, want %q", c.path, c.accept, got, c.want)
			continue
		}
		if plain := decode(t, c.want, b); c.path != "/c/small" && !bytes.Equal(plain, big) {
			t.Errorf("%s with %q: body differs after decoding (%d bytes)", c.path, c.accept, len(plain))
		}
		if c.want != "" {
			if len(b) >= len(big)/3 {
				t.Errorf("%s: %d bytes compressed from %d", c.want, len(b), len(big))
			}
			if resp.Header.Get("Etag") != `W/"v1"` {
				t.Errorf("%s: ETag %q, want it weakened", c.want, resp.Header.Get("Etag"))
			}
		}
		vary := resp.Header.Values("Vary")
		if onRoute := !strings.HasPrefix(c.path, "/p/"); onRoute != (strings.Join(vary, ",") == "Accept-Encoding") {
			t.Errorf("%s: Vary %q", c.path, vary)
		}
	}
}

func TestCompressPassesEncodedThrough(t *testing.T) {
	big := jsonBody(16 << 10)
	up := startUpstream(t, "svc", compressUpstream(big, nil))
	tn := startNode(t, render(t, compressConfig, up.url))
	resp, b := rawGet(t, tn.url+"/c/precompressed", "zstd, gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(decode(t, "gzip", b), big) {
		t.Fatalf("an upstream's gzip was re-encoded: %v", resp.Header)
	}
}

// TestCompressStreams: a server-sent event reaches the client compressed
// before the upstream has finished its response.
func TestCompressStreams(t *testing.T) {
	release := make(chan struct{})
	up := startUpstream(t, "svc", compressUpstream(nil, release))
	tn := startNode(t, render(t, compressConfig, up.url))
	defer close(release)
	for _, enc := range []string{"gzip", "zstd", "br"} {
		req, _ := http.NewRequest("GET", tn.url+"/c/events", nil)
		req.Header.Set("Accept-Encoding", enc)
		resp, err := rawClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("Content-Encoding") != enc {
			t.Fatalf("events: Content-Encoding %q", resp.Header.Get("Content-Encoding"))
		}
		var r io.Reader
		switch enc {
		case "gzip":
			r, err = gzip.NewReader(resp.Body)
		case "zstd":
			var zr *zstd.Decoder
			zr, err = zstd.NewReader(resp.Body)
			r = zr
			defer zr.Close()
		case "br":
			r = brotli.NewReader(resp.Body)
		}
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(r).ReadString('\n')
		if err != nil || line != "data: first\n" {
			t.Fatalf("%s: first event %q, %v", enc, line, err)
		}
		resp.Body.Close()
	}
}
