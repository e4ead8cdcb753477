package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicegw/sluice/runtime/config"
)

// loadUpstreamTLS makes the TLS settings every https:// endpoint of an
// upstream starts from: its tls block's roots, client certificate and
// server name, files resolved against the config's directory. Without a
// block: the system roots and no client certificate, as before.
func loadUpstreamTLS(t *config.UpstreamTLS, dir string) (*tls.Config, error) {
	cfg := &tls.Config{}
	if t == nil {
		return cfg, nil
	}
	resolve := func(p string) string {
		if p == "" || filepath.IsAbs(p) || dir == "" {
			return p
		}
		return filepath.Join(dir, p)
	}
	if t.CA != "" {
		pem, err := os.ReadFile(resolve(t.CA))
		if err != nil {
			return nil, fmt.Errorf("tls.ca: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca %s: no PEM certificate in it", resolve(t.CA))
		}
		cfg.RootCAs = roots
	}
	if t.Cert != "" {
		pair, err := tls.LoadX509KeyPair(resolve(t.Cert), resolve(t.Key))
		if err != nil {
			return nil, fmt.Errorf("tls.cert %s, tls.key %s: %w", resolve(t.Cert), resolve(t.Key), err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	cfg.ServerName = t.ServerName
	return cfg, nil
}

// endpointTLS is base for one endpoint: its host is the name checked
// unless the upstream names one.
func endpointTLS(base *tls.Config, host string) *tls.Config {
	cfg := base.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	return cfg
}
