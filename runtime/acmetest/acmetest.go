// Package acmetest runs a local ACME server (letsencrypt/pebble) for tests:
// certificates are obtained over TLS-ALPN-01 from a listener on loopback.
package acmetest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// pebbleVersion is the ACME test server the ACME tests run against
// (github.com/letsencrypt/pebble/v2/cmd/pebble), built once into the temp
// dir from the Go module proxy.
const pebbleVersion = "v2.10.3"

func pebbleBinary(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "sluice-test-pebble-"+pebbleVersion)
	bin := filepath.Join(dir, "pebble")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	// Installed beside and renamed into place: test binaries of several
	// packages may get here at once.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(dir, "install")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "install", "github.com/letsencrypt/pebble/v2/cmd/pebble@"+pebbleVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install pebble %s: %v\n%s", pebbleVersion, err, out)
	}
	if err := os.Rename(filepath.Join(tmp, "pebble"), bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// startLoopbackDNS answers every A question with 127.0.0.1 (and nothing
// else), over TCP as pebble asks: every name is this machine.
func startLoopbackDNS(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, question := range q.Question {
			if question.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return ln.Addr().String()
}

// Pebble is an ACME server for a test.
type Pebble struct {
	URL      string         // the ACME directory
	Roots    *x509.CertPool // verifies the directory's HTTPS
	RootFile string         // the same, as a PEM file (for SSL_CERT_FILE)

	stop func()
}

// Stop ends pebble before the test does: a client that then gets a
// certificate got it from its storage.
func (p *Pebble) Stop() { p.stop() }

// Start runs pebble on loopback until the test ends: its ACME directory on
// a free port, TLS-ALPN-01 challenges sent to 127.0.0.1:tlsPort whatever the
// name (a DNS server of its own answers 127.0.0.1 for every name),
// certificates valid for validity.
func Start(t testing.TB, tlsPort int, validity time.Duration) *Pebble {
	t.Helper()
	dnsAddr := startLoopbackDNS(t)
	bin := pebbleBinary(t)
	dir := t.TempDir()
	// Pebble's own HTTPS certificate.
	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pebble"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der := must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key))
	certFile, keyFile := filepath.Join(dir, "pebble.crt"), filepath.Join(dir, "pebble.key")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(key))})))
	pool := x509.NewCertPool()
	pool.AddCert(must(x509.ParseCertificate(der)))

	ln := must(net.Listen("tcp", "127.0.0.1:0"))
	addr := ln.Addr().String()
	ln.Close()
	httpLn := must(net.Listen("tcp", "127.0.0.1:0")) // HTTP-01 is off; pebble wants a port
	httpPort := httpLn.Addr().(*net.TCPAddr).Port
	httpLn.Close()
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress": addr, "certificate": certFile, "privateKey": keyFile,
		"httpPort": httpPort, "tlsPort": tlsPort, "keyAlgorithm": "ecdsa",
		// Short-lived certificates, so the test sees one renewed.
		"profiles": map[string]any{"default": map[string]any{"validityPeriod": int(validity.Seconds())}},
	}}
	cfgFile := filepath.Join(dir, "pebble.json")
	writeFile(t, cfgFile, string(must(json.Marshal(cfg))))

	logs := &syncBuffer{}
	cmd := exec.Command(bin, "-config", cfgFile, "-dnsserver", dnsAddr)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("pebble:\n%s", logs)
		}
	})
	url := "https://" + addr + "/dir"
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble not serving %s: %v", url, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return &Pebble{URL: url, Roots: pool, RootFile: certFile, stop: stop}
}

// must is for setup steps that do not fail short of a broken machine.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
