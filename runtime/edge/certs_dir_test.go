package edge

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// keptConn is a TLS connection to the node, kept open across reloads.
type keptConn struct {
	t    *testing.T
	conn *tls.Conn
	r    *bufio.Reader
}

func dialKept(t *testing.T, addr, sni string) *keptConn {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &keptConn{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// get sends one request on the kept connection and checks it is answered.
func (k *keptConn) get() {
	k.t.Helper()
	k.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(k.conn, "GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n"); err != nil {
		k.t.Fatalf("kept connection: write: %v", err)
	}
	resp, err := http.ReadResponse(k.r, nil)
	if err != nil {
		k.t.Fatalf("kept connection: read: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		k.t.Fatalf("kept connection: status %d", resp.StatusCode)
	}
}

func TestCertDirReloadedWithoutDroppingConnections(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, "a", inADay, "a.test")
	logs := &testkit.SyncBuffer{}
	store, err := NewCertStore(CertSource{Dir: dir, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Watch(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, addr := startTLSNode(t, store)
	servedFor := func(sni string) func() []string {
		return func() []string { return servedNames(t, addr, sni) }
	}
	waitServed := func(sni, want string) {
		t.Helper()
		testkit.WaitFor(t, 10*time.Second, fmt.Sprintf("SNI %s served the certificate for %s", sni, want), func() bool {
			return slices.Contains(servedFor(sni)(), want)
		})
	}
	kept := dialKept(t, addr, "a.test")
	kept.get()
	firstLeaf := kept.conn.ConnectionState().PeerCertificates[0]

	// A new pair is picked up; the default stays a's (first by NAME).
	writeCert(t, dir, "b", inADay, "b.test")
	waitServed("b.test", "b.test")
	waitServed("other.test", "a.test")

	// A pair replaced in place: new handshakes get the new certificate, the
	// kept connection goes on with the one it had.
	writeCert(t, dir, "a", inADay, "a.test", "a2.test")
	waitServed("a2.test", "a2.test")
	kept.get()
	if got := kept.conn.ConnectionState().PeerCertificates[0]; !got.Equal(firstLeaf) {
		t.Error("kept connection's certificate changed")
	}

	// Bad pairs on reload are logged with the file named; the node keeps
	// the certificate it had for that NAME.
	refusals := func(want string) int { return strings.Count(logs.String(), want) }
	badCases := []struct {
		name   string
		change func()
		logged string
	}{
		{"key of another certificate", func() {
			other := writeCert(t, t.TempDir(), "other", inADay, "other.test")
			if err := os.Rename(other.pair.Key, filepath.Join(dir, "a.key")); err != nil {
				t.Fatal(err)
			}
		}, "key " + filepath.Join(dir, "a.key") + " (for certificate " + filepath.Join(dir, "a.crt") + "): tls: private key does not match public key"},
		{"expired", func() { writeCert(t, dir, "b", time.Now().Add(-time.Minute), "b.test", "b-expired.test") },
			"certificate " + filepath.Join(dir, "b.crt") + ": expired on"},
		{"not PEM", func() { writeTestFile(t, filepath.Join(dir, "b.crt"), "garbage\n") },
			"certificate " + filepath.Join(dir, "b.crt") + ": no PEM CERTIFICATE block"},
		{"key gone", func() { removeFile(t, filepath.Join(dir, "b.key")) },
			"key: open " + filepath.Join(dir, "b.key") + ": no such file or directory"},
	}
	for _, tc := range badCases {
		before := refusals(tc.logged)
		tc.change()
		testkit.WaitFor(t, 10*time.Second, tc.name+": refusal logged: "+tc.logged, func() bool { return refusals(tc.logged) > before })
		if got := servedFor("a2.test")(); !slices.Contains(got, "a2.test") {
			t.Errorf("%s: a2.test now served %v", tc.name, got)
		}
		if got := servedFor("b.test")(); !slices.Contains(got, "b.test") || slices.Contains(got, "b-expired.test") {
			t.Errorf("%s: b.test now served %v, want b's last good certificate", tc.name, got)
		}
	}
	kept.get()

	// A pair removed (both files) is no longer served.
	removeFile(t, filepath.Join(dir, "b.crt"))
	waitServed("b.test", "a2.test")
	kept.get()
}

func TestCertDirRefusedAtStartNamingTheFile(t *testing.T) {
	empty := t.TempDir()
	if _, err := NewCertStore(CertSource{Dir: empty}); err == nil || !strings.Contains(err.Error(), empty) {
		t.Errorf("empty --tls-dir: %v", err)
	}
	dir := t.TempDir()
	writeCert(t, dir, "a", inADay, "a.test")
	writeCert(t, dir, "old", time.Now().Add(-time.Hour), "old.test")
	writeTestFile(t, filepath.Join(dir, "lonely.crt"), "")
	_, err := NewCertStore(CertSource{Dir: dir})
	if err == nil {
		t.Fatal("store made from a directory with bad pairs")
	}
	for _, want := range []string{
		"certificate " + filepath.Join(dir, "old.crt") + ": expired on",
		filepath.Join(dir, "lonely.key"),
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// The pairs given by flag come first: they are the default.
	flagDir := t.TempDir()
	f := writeCert(t, flagDir, "f", inADay, "f.test")
	for _, name := range []string{"old.crt", "old.key", "lonely.crt"} {
		removeFile(t, filepath.Join(dir, name))
	}
	store, err := NewCertStore(CertSource{Pairs: []CertPair{f.pair}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if c := must(store.GetCertificate(&tls.ClientHelloInfo{ServerName: "x.test"})); !slices.Contains(c.Leaf.DNSNames, "f.test") {
		t.Errorf("default is %v, want the flag's pair", c.Leaf.DNSNames)
	}
	if c := must(store.GetCertificate(&tls.ClientHelloInfo{ServerName: "a.test"})); !slices.Contains(c.Leaf.DNSNames, "a.test") {
		t.Errorf("a.test served %v", c.Leaf.DNSNames)
	}
}

func removeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}
