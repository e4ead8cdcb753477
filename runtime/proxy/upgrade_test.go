package proxy

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sluicegw/sluice/runtime/testkit"
)

func TestWebSocketEcho(t *testing.T) {
	up := startUpstream(t, "ws", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/refuse" {
			http.Error(w, "no websockets here", http.StatusForbidden)
			return
		}
		var upgrader websocket.Upgrader
		c, err := upgrader.Upgrade(w, r, http.Header{"X-Ws-Upstream": {"yes"}})
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, append([]byte("echo:"), msg...)); err != nil {
				return
			}
		}
	})
	// The short timeout bounds the handshake only, not the session.
	cfg := upstreamCfg("", up.URL)
	cfg.Timeout = 100e6
	p, _ := newTestPool(t, cfg)
	wsURL := "ws" + strings.TrimPrefix(startProxy(t, p, ForwardOptions{}), "http")

	c, resp, err := websocket.DefaultDialer.Dial(wsURL+"/chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("X-Ws-Upstream") != "yes" || !strings.Contains(strings.Join(resp.Header["Via"], ","), "1.1 sluice") {
		t.Fatalf("101 headers %v", resp.Header)
	}
	for i, msg := range []string{"one", "two", "three"} {
		if i == 2 {
			time.Sleep(150 * time.Millisecond) // outlive the 100ms timeout: it must not cut the session
		}
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, got, err := c.ReadMessage()
		if err != nil || string(got) != "echo:"+msg {
			t.Fatalf("read %q, %v; want echo:%s", got, err, msg)
		}
	}
	if n := p.Endpoints()[0].InFlight; n != 1 {
		t.Fatalf("an open WebSocket counts %d in flight, want 1", n)
	}
	c.Close()
	testkit.WaitFor(t, 5*time.Second, "the proxied session to end after the client closed", func() bool {
		return p.Endpoints()[0].InFlight == 0
	})

	// An upstream that refuses the upgrade answers like any response.
	_, resp, err = websocket.DefaultDialer.Dial(wsURL+"/refuse", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("refused upgrade: %v, %v; want the upstream's 403", err, resp)
	}
}
