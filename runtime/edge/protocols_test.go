package edge

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func selfSignedTLS(t *testing.T) *tls.Config {
	t.Helper()
	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sluice-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der := must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key))
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func TestHTTP2OverTLSAndH2C(t *testing.T) {
	up := startUpstream(t, "users", nil)
	cfg := render(t, `
upstreams: {users: {endpoints: ["{{.}}"]}}
routes: [{name: users, match: {path_prefix: /}, upstream: users}]
`, up.url)

	t.Run("TLS with ALPN h2", func(t *testing.T) {
		n := startNode(t, cfg, func(_ *Options, l *Listeners) { l.TLS = selfSignedTLS(t) })
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(n.url + "/x")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
			t.Fatalf("proto %s status %d", resp.Proto, resp.StatusCode)
		}
		if e := decodeEcho(t, body); e.Header["X-Forwarded-Proto"][0] != "https" {
			t.Fatalf("X-Forwarded-Proto %q over TLS", e.Header["X-Forwarded-Proto"])
		}
		// HTTP/1.1 over TLS still works.
		tr1 := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
		defer tr1.CloseIdleConnections()
		resp, err = (&http.Client{Transport: tr1}).Get(n.url + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.ProtoMajor != 1 || resp.StatusCode != 200 {
			t.Fatalf("h1 over TLS: proto %s status %d", resp.Proto, resp.StatusCode)
		}
	})

	t.Run("h2c prior knowledge", func(t *testing.T) {
		n := startNode(t, cfg)
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr := &http.Transport{Protocols: &p}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(n.url + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
			t.Fatalf("proto %s status %d", resp.Proto, resp.StatusCode)
		}
	})
}

func TestStreamingBothWays(t *testing.T) {
	// The upstream answers the first line of the request body before the
	// client has sent the second: only a streaming proxy can pass this.
	up := startUpstream(t, "stream", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		rc.EnableFullDuplex()
		w.WriteHeader(200)
		rc.Flush()
		buf := make([]byte, 5)
		for {
			if _, err := io.ReadFull(r.Body, buf); err != nil {
				return
			}
			w.Write([]byte(strings.ToUpper(string(buf))))
			rc.Flush()
		}
	}))
	n := startNode(t, render(t, `
upstreams: {s: {endpoints: ["{{.}}"]}}
routes: [{name: s, match: {path: /s}, upstream: s}]
`, up.url))
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, n.url+"/s", pr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req = req.WithContext(ctx)
	respc := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			close(respc)
			return
		}
		respc <- resp
	}()
	pw.Write([]byte("hello"))
	resp := <-respc
	if resp == nil {
		t.FailNow()
	}
	defer resp.Body.Close()
	buf := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "HELLO" {
		t.Fatalf("first echo %q %v", buf, err)
	}
	pw.Write([]byte("world"))
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "WORLD" {
		t.Fatalf("second echo %q %v", buf, err)
	}
	pw.Close()
}

// startWebSocketEcho is an upstream that accepts WebSockets and answers each
// message with "echo:" and the message.
func startWebSocketEcho(t *testing.T) *upstream {
	return startUpstream(t, "ws", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(mt, append([]byte("echo:"), msg...))
		}
	}))
}

func TestWebSocketThroughNode(t *testing.T) {
	up := startWebSocketEcho(t)
	n := startNode(t, render(t, `
upstreams: {ws: {endpoints: ["{{.}}"]}}
routes: [{name: ws, match: {path: /ws}, upstream: ws}]
`, up.url))
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(n.url, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, m := range []string{"one", "two"} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.ReadMessage()
		if err != nil || string(got) != "echo:"+m {
			t.Fatalf("got %q %v", got, err)
		}
	}
}
