package edge

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// A client that never finishes its request head, or idles on a keep-alive
// connection, is disconnected by the default-on timeouts.
func TestSlowAndIdleClientsAreDisconnected(t *testing.T) {
	up := startUpstream(t, "u", nil)
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.}}"]}}
routes: [{name: r, match: {path_prefix: /}, upstream: u}]
`, up.url), func(o *Options, _ *Listeners) {
		o.ReadHeaderTimeout = 200 * time.Millisecond
		o.IdleTimeout = 200 * time.Millisecond
	})
	addr := strings.TrimPrefix(n.url, "http://")

	closedWithin := func(c net.Conn, d time.Duration) bool {
		c.SetReadDeadline(time.Now().Add(d))
		_, err := io.ReadAll(c) // returns nil error on EOF (server closed)
		return err == nil
	}

	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")) // never ends the head
	if !closedWithin(slow, 5*time.Second) {
		t.Fatal("a never-finished request head was not cut off by ReadHeaderTimeout")
	}

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	idle.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	buf := make([]byte, 4096)
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(buf); err != nil {
		t.Fatal(err)
	}
	if !closedWithin(idle, 5*time.Second) {
		t.Fatal("an idle keep-alive connection was not closed by IdleTimeout")
	}
}

func TestDefaultTimeoutsAreOn(t *testing.T) {
	o := Options{}.withDefaults()
	if o.ReadHeaderTimeout <= 0 || o.IdleTimeout <= 0 || o.MaxHeaderBytes <= 0 {
		t.Fatalf("defaults %+v", o)
	}
	srv := NewNode(o).dataServer()
	if srv.ReadHeaderTimeout != o.ReadHeaderTimeout || srv.IdleTimeout != o.IdleTimeout {
		t.Fatalf("server timeouts not wired: %v %v", srv.ReadHeaderTimeout, srv.IdleTimeout)
	}
}
