package devca

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServerCertificateVerifiesAgainstTheCA: a real TLS handshake on
// loopback, checked by a client that trusts only DIR/ca.crt, for each
// name the certificate covers; the CA key is 0600 and the CA is the same
// at the next start.
func TestServerCertificateVerifiesAgainstTheCA(t *testing.T) {
	dir := t.TempDir()
	cert, err := ServerCertificate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, keyFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("CA key: %v %v, want mode 0600", st.Mode(), err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, CertFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.crt holds no certificate")
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); io.WriteString(c, "ok"); c.Close() }()
		}
	}()
	for _, name := range []string{"localhost", "127.0.0.1"} {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: name})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c.Close()
	}
	if c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "example.com"}); err == nil {
		c.Close()
		t.Fatal("a name the certificate does not cover was accepted")
	}

	if _, err := ServerCertificate(dir); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(filepath.Join(dir, CertFile))
	if string(again) != string(caPEM) {
		t.Fatal("the CA changed at the second start: clients that trust it would break")
	}
}

// TestHalfACAIsAnError: a CA whose key is gone is not replaced silently.
func TestHalfACAIsAnError(t *testing.T) {
	dir := t.TempDir()
	if _, err := ServerCertificate(dir); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, keyFile))
	_, err := ServerCertificate(dir)
	if err == nil || !strings.Contains(err.Error(), CertFile) {
		t.Fatalf("got %v, want an error naming %s", err, CertFile)
	}
}
