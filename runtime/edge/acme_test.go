package edge

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/acmetest"
	"github.com/sluicegw/sluice/runtime/testkit"
)

// served does a handshake with SNI name and returns the leaf served, or nil
// if the handshake failed.
func served(addr, name string) *x509.Certificate {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{ServerName: name, InsecureSkipVerify: true})
	if err != nil {
		return nil
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

func TestACMECertificateObtainedRenewedAndStored(t *testing.T) {
	data := must(net.Listen("tcp", "127.0.0.1:0"))
	port := data.Addr().(*net.TCPAddr).Port
	// Short-lived certificates, so the test sees one renewed.
	ca := acmetest.Start(t, port, 120*time.Second)

	// A file certificate beside the ACME domain: both are served.
	files := writeCert(t, t.TempDir(), "files", inADay, "files.test")
	dataDir := t.TempDir()
	acmeLogs := &testkit.SyncBuffer{}
	acme, err := NewACME(ACMESource{
		Domains: []string{"acme.test"}, CA: ca.URL, DataDir: dataDir, Port: port, TrustedRoots: ca.Roots, Logs: acmeLogs,
		renewCheck: 500 * time.Millisecond, renewRatio: 0.9, // renewed 12 s into its 120 s
	})
	if err != nil {
		t.Fatal(err)
	}
	defer acme.Stop()
	store, err := NewCertStore(CertSource{Pairs: []CertPair{files.pair}, ACME: acme})
	if err != nil {
		t.Fatal(err)
	}
	up := startUpstream(t, "users", nil)
	// The node listens where pebble sends the challenges.
	startNode(t, render(t, tlsTestConfig, up.url), func(_ *Options, l *Listeners) {
		l.Data.Close()
		l.Data = data
		l.TLS = store.TLSConfig()
	})
	addr := data.Addr().String()
	defer func() {
		if t.Failed() {
			t.Logf("certmagic:\n%s", acmeLogs)
		}
	}()
	if err := acme.Manage(t.Context()); err != nil {
		t.Fatal(err)
	}

	fromPebble := func(c *x509.Certificate) bool {
		return c != nil && slices.Contains(c.DNSNames, "acme.test") && strings.Contains(c.Issuer.CommonName, "Pebble")
	}
	var first *x509.Certificate
	testkit.WaitFor(t, 60*time.Second, "a certificate for acme.test from pebble", func() bool {
		first = served(addr, "acme.test")
		return fromPebble(first)
	})
	if c := served(addr, "files.test"); c == nil || !slices.Contains(c.DNSNames, "files.test") {
		t.Errorf("files.test served %v beside ACME", c)
	}

	// Stored under the data dir.
	var stored []string
	filepath.WalkDir(filepath.Join(dataDir, "acme"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			stored = append(stored, filepath.Base(path))
		}
		return nil
	})
	for _, want := range []string{"acme.test.crt", "acme.test.key"} {
		if !slices.Contains(stored, want) {
			t.Errorf("%s not stored under %s: %v", want, dataDir, stored)
		}
	}

	// Renewed in the background: a new certificate from the CA, served to
	// new handshakes.
	var renewed *x509.Certificate
	testkit.WaitFor(t, 60*time.Second, "the renewed certificate served", func() bool {
		renewed = served(addr, "acme.test")
		return fromPebble(renewed) && renewed.SerialNumber.Cmp(first.SerialNumber) != 0
	})
	acme.Stop()
	ca.Stop()

	// A node started again on the same data dir serves what is stored: the
	// CA is gone.
	again, err := NewACME(ACMESource{Domains: []string{"acme.test"}, CA: ca.URL, DataDir: dataDir, Port: port, TrustedRoots: ca.Roots})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Stop()
	if err := again.Manage(t.Context()); err != nil {
		t.Fatal(err)
	}
	pipe, _ := net.Pipe() // certmagic reads the hello's connection
	defer pipe.Close()
	var c *tls.Certificate
	testkit.WaitFor(t, 10*time.Second, "the stored certificate loaded after a restart", func() bool {
		c, err = again.cfg.GetCertificate(&tls.ClientHelloInfo{ServerName: "acme.test", Conn: pipe})
		return err == nil
	})
	if leaf := must(x509.ParseCertificate(c.Certificate[0])); !fromPebble(leaf) || leaf.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Errorf("after restart: served %v from %q, want the renewed certificate from storage", leaf.DNSNames, leaf.Issuer.CommonName)
	}
}
