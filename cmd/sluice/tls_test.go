package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/acmetest"
	"github.com/sluicegw/sluice/runtime/testkit"
)

// handshakeNames does a TLS handshake with addr, sending sni ("" sends
// none), and returns the DNS names of the certificate served.
func handshakeNames(t *testing.T, addr, sni string) []string {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake with SNI %q: %v", sni, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].DNSNames
}

func testEdgeConfig(t *testing.T) string {
	t.Helper()
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go up.Serve(ln)
	t.Cleanup(func() { up.Close() })
	return writeFile(t, "sluice.yaml", fmt.Sprintf("upstreams: {u: {endpoints: [http://%s]}}\nroutes: [{name: r, match: {path_prefix: /}, upstream: u}]\n", ln.Addr()))
}

// startEdge runs `sluice edge` with args and waits until it is ready; it
// returns the data listener's address.
func startEdge(t *testing.T, args ...string) string {
	t.Helper()
	listen, admin := freeAddr(t), freeAddr(t)
	cmd := exec.Command(sluiceBin, append([]string{"edge", "--listen", listen, "--admin", admin}, args...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	waitHTTP(t, "http://"+admin+"/readyz")
	return listen
}

func TestEdgeServesSeveralCertificatesBySNI(t *testing.T) {
	dir := t.TempDir()
	aCert, aKey := testkit.WriteCert(t, dir, "a", time.Now().Add(24*time.Hour), "a.test")
	bCert, bKey := testkit.WriteCert(t, dir, "b", time.Now().Add(24*time.Hour), "b.test", "*.b.test")
	addr := startEdge(t, "--config", testEdgeConfig(t), "--tls-cert", aCert, "--tls-key", aKey, "--tls-cert", bCert, "--tls-key", bKey)
	for sni, want := range map[string]string{"a.test": "a.test", "b.test": "b.test", "x.b.test": "*.b.test", "other.test": "a.test", "": "a.test"} {
		if got := handshakeNames(t, addr, sni); !slices.Contains(got, want) {
			t.Errorf("SNI %q: served %v, want the certificate for %s", sni, got, want)
		}
	}
}

func TestEdgeRefusesABadCertificatePairNamingTheFile(t *testing.T) {
	dir := t.TempDir()
	cfg := testEdgeConfig(t)
	aCert, aKey := testkit.WriteCert(t, dir, "a", time.Now().Add(24*time.Hour), "a.test")
	_, bKey := testkit.WriteCert(t, dir, "b", time.Now().Add(24*time.Hour), "b.test")
	oldCert, oldKey := testkit.WriteCert(t, dir, "old", time.Now().Add(-time.Hour), "old.test")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", aCert, "--tls-key", aKey, "--tls-cert", aCert, "--tls-key", bKey}, "key " + bKey + " (for certificate " + aCert + "): tls: private key does not match public key"},
		{[]string{"--tls-cert", aCert, "--tls-key", aKey, "--tls-cert", oldCert, "--tls-key", oldKey}, "certificate " + oldCert + ": expired on"},
		{[]string{"--tls-cert", aCert, "--tls-key", aKey, "--tls-cert", aCert}, "--tls-cert and --tls-key go in pairs: 2 certificate(s), 1 key(s)"},
		{[]string{"--tls-dir", dir}, "certificate " + oldCert + ": expired on"},
	} {
		out, err := exec.Command(sluiceBin, append([]string{"edge", "--config", cfg, "--listen", "127.0.0.1:0"}, tc.args...)...).CombinedOutput()
		if exitCode(err) != 1 {
			t.Errorf("%v: exit %d, want 1: %s", tc.args, exitCode(err), out)
		}
		if !strings.Contains(string(out), "sluice: edge: ") || !strings.Contains(string(out), tc.want) {
			t.Errorf("%v: output lacks %q:\n%s", tc.args, tc.want, out)
		}
	}
}

func TestEdgeReloadsTLSDir(t *testing.T) {
	dir := t.TempDir()
	testkit.WriteCert(t, dir, "a", time.Now().Add(24*time.Hour), "a.test")
	addr := startEdge(t, "--config", testEdgeConfig(t), "--tls-dir", dir)
	if got := handshakeNames(t, addr, "a.test"); !slices.Contains(got, "a.test") {
		t.Fatalf("a.test served %v", got)
	}
	testkit.WriteCert(t, dir, "b", time.Now().Add(24*time.Hour), "b.test")
	testkit.Eventually(t, 10*time.Second, "b.test served after its pair was written into --tls-dir", func() (bool, string) {
		got := handshakeNames(t, addr, "b.test")
		return slices.Contains(got, "b.test"), fmt.Sprintf("b.test served %v", got)
	})
}

func TestEdgeObtainsACMECertificate(t *testing.T) {
	listen, admin := freeAddr(t), freeAddr(t)
	_, port, _ := net.SplitHostPort(listen)
	tlsPort, _ := strconv.Atoi(port)
	ca := acmetest.Start(t, tlsPort, time.Hour)
	data := t.TempDir()
	cmd := exec.Command(sluiceBin, "edge", "--config", testEdgeConfig(t), "--listen", listen, "--admin", admin, "--data", data,
		"--acme-domain", "acme.test", "--acme-ca", ca.URL, "--acme-email", "ops@acme.test")
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+ca.RootFile) // trusts pebble's HTTPS
	var stderr testkit.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("edge:\n%s", stderr.String())
		}
	})
	waitHTTP(t, "http://"+admin+"/readyz")
	testkit.Eventually(t, 60*time.Second, "a certificate for acme.test from the ACME server", func() (bool, string) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", listen, &tls.Config{ServerName: "acme.test", InsecureSkipVerify: true})
		if err != nil {
			return false, err.Error()
		}
		leaf := conn.ConnectionState().PeerCertificates[0]
		conn.Close()
		return slices.Contains(leaf.DNSNames, "acme.test") && strings.Contains(leaf.Issuer.CommonName, "Pebble"),
			fmt.Sprintf("served %v issued by %q", leaf.DNSNames, leaf.Issuer.CommonName)
	})
	matches, _ := filepath.Glob(filepath.Join(data, "acme", "certificates", "*", "acme.test", "acme.test.crt"))
	if len(matches) != 1 {
		t.Errorf("certificate not stored under --data %s/acme", data)
	}
}
