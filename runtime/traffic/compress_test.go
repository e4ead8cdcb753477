package traffic

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
)

// discardWriter is a ResponseWriter that counts and drops the body.
type discardWriter struct {
	h http.Header
	n int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }

func benchJSON(size int) []byte {
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

func TestCompressible(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json; charset=utf-8": true,
		"text/html":                       true,
		"application/problem+json":        true,
		"image/svg+xml":                   true,
		"image/png":                       false,
		"application/zip":                 false,
		"video/mp4":                       false,
		"":                                false,
	} {
		if compressible(ct) != want {
			t.Errorf("compressible(%q) = %v", ct, !want)
		}
	}
}

// BenchmarkCompress16KiBJSON is one 16 KiB JSON response through the
// compress stage, per encoding (pooled encoders, as in the node).
func BenchmarkCompress16KiBJSON(b *testing.B) {
	body := benchJSON(16 << 10)
	for _, name := range []string{"zstd", "br", "gzip"} {
		b.Run(name, func(b *testing.B) {
			c, err := NewCompressor([]string{name})
			if err != nil {
				b.Fatal(err)
			}
			r, _ := http.NewRequest("GET", "/", nil)
			r.Header.Set("Accept-Encoding", name)
			w := &discardWriter{h: http.Header{}}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.h.Set("Content-Type", "application/json")
				w.n = 0
				cw := c.Wrap(w, r)
				cw.Write(body)
				cw.Close()
			}
			b.ReportMetric(float64(w.n), "out-bytes")
		})
	}
}

func TestCompressSkips(t *testing.T) {
	c, _ := NewCompressor([]string{"gzip"})
	big := benchJSON(4096)
	for _, tc := range []struct {
		name   string
		method string
		status int
		hdr    http.Header
		want   string
	}{
		{"json", "GET", 200, http.Header{"Content-Type": {"application/json"}}, "gzip"},
		{"head", "HEAD", 200, http.Header{"Content-Type": {"application/json"}}, ""},
		{"204", "GET", 204, http.Header{"Content-Type": {"application/json"}}, ""},
		{"304", "GET", 304, http.Header{"Content-Type": {"application/json"}}, ""},
		{"no-transform", "GET", 200, http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-transform"}}, ""},
		{"small", "GET", 200, http.Header{"Content-Type": {"application/json"}, "Content-Length": {"100"}}, ""},
		{"no type", "GET", 200, http.Header{}, ""},
		{"error page", "GET", 500, http.Header{"Content-Type": {"text/html"}}, "gzip"},
	} {
		r, _ := http.NewRequest(tc.method, "/", nil)
		r.Header.Set("Accept-Encoding", "gzip")
		w := &discardWriter{h: tc.hdr}
		cw := c.Wrap(w, r)
		cw.WriteHeader(tc.status)
		cw.Write(big)
		cw.Close()
		if got := w.h.Get("Content-Encoding"); got != tc.want {
			t.Errorf("%s: Content-Encoding %q, want %q", tc.name, got, tc.want)
		}
		if w.h.Get("Vary") != "Accept-Encoding" {
			t.Errorf("%s: Vary %q", tc.name, w.h.Get("Vary"))
		}
	}
}
