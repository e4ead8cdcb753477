package edge

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// testCert is a certificate and key written as PEM files, generated for
// the test (never committed).
type testCert struct {
	pair CertPair
}

// writeCert is testkit.WriteCert, as the CertPair the edge takes.
func writeCert(t *testing.T, dir, base string, notAfter time.Time, names ...string) testCert {
	t.Helper()
	cert, key := testkit.WriteCert(t, dir, base, notAfter, names...)
	return testCert{pair: CertPair{Cert: cert, Key: key}}
}

var inADay = time.Now().Add(24 * time.Hour)

// servedNames does a TLS handshake with the node, sending sni ("" sends
// none), and returns the DNS names of the certificate it served.
func servedNames(t *testing.T, addr, sni string) []string {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake with SNI %q: %v", sni, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].DNSNames
}

const tlsTestConfig = `
upstreams: {users: {endpoints: ["{{.}}"]}}
routes: [{name: users, match: {path_prefix: /}, upstream: users}]
`

func startTLSNode(t *testing.T, store *CertStore) (*testNode, string) {
	t.Helper()
	up := startUpstream(t, "users", nil)
	n := startNode(t, render(t, tlsTestConfig, up.url), func(_ *Options, l *Listeners) { l.TLS = store.TLSConfig() })
	return n, strings.TrimPrefix(n.url, "https://")
}

func TestCertificatesChosenBySNI(t *testing.T) {
	dir := t.TempDir()
	def := writeCert(t, dir, "default", inADay, "default.test")
	api := writeCert(t, dir, "api", inADay, "api.example.com", "www.example.com")
	wild := writeCert(t, dir, "wild", inADay, "*.example.com")
	// A later certificate for a name already served does not take it over.
	dup := writeCert(t, dir, "dup", inADay, "api.example.com", "dup.test")
	store, err := NewCertStore(CertSource{Pairs: []CertPair{def.pair, api.pair, wild.pair, dup.pair}})
	if err != nil {
		t.Fatal(err)
	}
	n, addr := startTLSNode(t, store)

	for _, tc := range []struct{ sni, want string }{
		{"api.example.com", "api.example.com"},  // exact
		{"WWW.Example.COM.", "api.example.com"}, // exact, any case, trailing dot
		{"shop.example.com", "*.example.com"},   // wildcard
		{"a.b.example.com", "default.test"},     // a wildcard covers one label only
		{"dup.test", "api.example.com"},         // dup's own name
		{"unknown.test", "default.test"},        // no match: the first pair
		{"", "default.test"},                    // no SNI: the first pair
	} {
		got := servedNames(t, addr, tc.sni)
		if tc.sni == "dup.test" {
			if !slices.Contains(got, "dup.test") {
				t.Errorf("SNI %q: served %v, want dup's certificate", tc.sni, got)
			}
			continue
		}
		if !slices.Contains(got, tc.want) {
			t.Errorf("SNI %q: served %v, want the certificate for %s", tc.sni, got, tc.want)
		}
	}
	if got := servedNames(t, addr, "api.example.com"); slices.Contains(got, "dup.test") {
		t.Errorf("api.example.com served by the later certificate %v", got)
	}

	// Requests flow over it, HTTP/2 and HTTP/1.1, with the SNI's certificate.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(must(os.ReadFile(wild.pair.Cert)))
	for _, h2 := range []bool{true, false} {
		tr := &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: "shop.example.com"},
			ForceAttemptHTTP2: h2,
		}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(n.url + "/x")
		tr.CloseIdleConnections()
		if err != nil {
			t.Fatalf("h2=%v: verified GET with SNI shop.example.com: %v", h2, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || (resp.ProtoMajor == 2) != h2 {
			t.Fatalf("h2=%v: %s %d", h2, resp.Proto, resp.StatusCode)
		}
	}
}

func TestBadCertificatePairRefusedNamingTheFile(t *testing.T) {
	dir := t.TempDir()
	good := writeCert(t, dir, "good", inADay, "good.test")
	other := writeCert(t, dir, "other", inADay, "other.test")
	expired := writeCert(t, dir, "expired", time.Now().Add(-time.Hour), "expired.test")
	garbage := CertPair{Cert: filepath.Join(dir, "garbage.crt"), Key: good.pair.Key}
	writeTestFile(t, garbage.Cert, "not a certificate\n")

	for _, tc := range []struct {
		name string
		pair CertPair
		want []string
	}{
		{"key of another certificate", CertPair{Cert: good.pair.Cert, Key: other.pair.Key}, []string{"key " + other.pair.Key, "certificate " + good.pair.Cert, "does not match"}},
		{"expired", expired.pair, []string{"certificate " + expired.pair.Cert, "expired on"}},
		{"missing certificate", CertPair{Cert: filepath.Join(dir, "none.crt"), Key: good.pair.Key}, []string{filepath.Join(dir, "none.crt"), "no such file"}},
		{"missing key", CertPair{Cert: good.pair.Cert, Key: filepath.Join(dir, "none.key")}, []string{filepath.Join(dir, "none.key"), "no such file"}},
		{"not PEM", garbage, []string{"certificate " + garbage.Cert, "no PEM CERTIFICATE"}},
		{"key not PEM", CertPair{Cert: good.pair.Cert, Key: garbage.Cert}, []string{"key " + garbage.Cert}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Behind a good pair: one bad pair refuses the whole store.
			_, err := NewCertStore(CertSource{Pairs: []CertPair{good.pair, tc.pair}})
			if err == nil {
				t.Fatal("store made with a bad pair")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := NewCertStore(CertSource{}); err == nil {
		t.Error("store made without any certificate")
	}
}
