package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// newH2CClient speaks HTTP/2 without TLS (prior knowledge), like a gRPC-style
// client in front of the edge.
func newH2CClient(t testing.TB) *http.Client {
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &protos, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestHTTP2Client(t *testing.T) {
	up := startUpstream(t, "up", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			b, _ := io.ReadAll(r.Body) // an HTTP/1 handler cannot echo while reading
			_, _ = w.Write(b)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"header": r.Header, "proto": r.Proto, "uri": r.RequestURI})
	})
	p, _ := newTestPool(t, upstreamCfg("", up.URL))
	url := startProxy(t, p, ForwardOptions{})
	client := newH2CClient(t)

	resp, err := client.Get(url + "/x?q=1")
	if err != nil {
		t.Fatal(err)
	}
	var got echoed
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 || got.Proto != "HTTP/1.1" || got.URI != "/x?q=1" {
		t.Fatalf("client %s, upstream %s %q; want HTTP/2 in, HTTP/1.1 out", resp.Proto, got.Proto, got.URI)
	}
	if via := strings.Join(got.Header["Via"], ","); via != "2 sluice" {
		t.Fatalf("Via %q, want the received protocol 2", via)
	}

	// A request body of unknown length streams through.
	pr, pw := io.Pipe()
	go func() {
		for range 100 {
			_, _ = pw.Write([]byte(strings.Repeat("x", 1000)))
		}
		pw.Close()
	}()
	resp, err = client.Post(url+"/", "application/octet-stream", pr)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || len(body) != 100_000 || resp.ProtoMajor != 2 {
		t.Fatalf("echoed %d bytes over %s, %v; want 100000 over HTTP/2", len(body), resp.Proto, err)
	}
}
