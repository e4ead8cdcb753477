package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/net/http2"

	"github.com/sluicegw/sluice/runtime/config"
)

// errNotHTTP2 is an endpoint configured for h2 that did not agree to it.
var errNotHTTP2 = errors.New("endpoint did not negotiate HTTP/2 (ALPN h2)")

// alertNoApplicationProtocol is how crypto/tls reports TLS's
// no_application_protocol alert (RFC 7301 §3.2): the server supports none
// of the protocols offered.
const alertNoApplicationProtocol = "tls: no application protocol"

// newH2Transport is the pool's HTTP/2 client for `protocol: h2c` (prior
// knowledge on plain TCP) or `protocol: h2` (TLS with ALPN h2): many
// streams on one connection per endpoint, which gRPC expects. Dials are
// marked as connect failures like the HTTP/1.1 clients' (retried, counted
// for ejection).
func newH2Transport(protocol string, base *tls.Config) *h2Client {
	dial := dialMarkingFailures(&net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second})
	t := &http2.Transport{
		DisableCompression: true,
		MaxHeaderListSize:  maxResponseHeader,
		// A connection the upstream stopped answering is found by a ping
		// instead of hanging every stream on it.
		ReadIdleTimeout: 30 * time.Second,
		PingTimeout:     10 * time.Second,
	}
	if protocol == config.ProtocolH2C {
		replies := &firstReplies{}
		t.AllowHTTP = true
		t.DialTLSContext = func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return replies.watch(c, addr), nil
		}
		return &h2Client{Transport: t, replies: replies}
	}
	t.TLSClientConfig = base.Clone()
	t.DialTLSContext = func(ctx context.Context, network, addr string, cfg *tls.Config) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(c, cfg)
		hctx, cancel := context.WithTimeout(ctx, tlsHandshakeTimeout)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			c.Close()
			// A server that speaks only HTTP/1.1 may refuse the handshake
			// rather than pick http/1.1 (Go's does): the same answer. The
			// alert it sends reaches crypto/tls's client as an unexported
			// type, so only its text tells.
			if strings.Contains(err.Error(), alertNoApplicationProtocol) {
				return nil, fmt.Errorf("%w: it refused ALPN h2: %w", errNotHTTP2, err)
			}
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		if p := tc.ConnectionState().NegotiatedProtocol; p != http2.NextProtoTLS {
			c.Close()
			return nil, fmt.Errorf("%w: it chose %q", errNotHTTP2, p)
		}
		return tc, nil
	}
	return &h2Client{Transport: t}
}

// notHTTP2 reports a failure that says the endpoint speaks HTTP/1.1 where
// HTTP/2 was configured: no ALPN h2 over TLS, or an HTTP/1.1 answer to the
// h2c preface.
func notHTTP2(err error) bool {
	return errors.Is(err, errNotHTTP2) || strings.Contains(err.Error(), "looked like an HTTP/1.1 header") ||
		strings.Contains(err.Error(), "unexpected ALPN protocol")
}
