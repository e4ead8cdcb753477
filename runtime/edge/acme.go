package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// ACMESource is what an ACME manager obtains and renews certificates for.
type ACMESource struct {
	Domains []string // DNS names, each a certificate
	CA      string   // the directory URL; empty: Let's Encrypt
	Email   string   // optional: the account's contact
	DataDir string   // the certificates, keys and account live in DataDir/acme
	// Port is the port of the TLS listener, where the CA's TLS-ALPN-01
	// challenge arrives (the CA dials DOMAIN:443; a listener on another port
	// needs port 443 forwarded to it).
	Port int
	// TrustedRoots verifies the CA's HTTPS endpoint; nil: the system's.
	TrustedRoots *x509.CertPool
	Logs         io.Writer // certmagic's JSON logs; nil: none

	// For tests: how often renewals are checked, and the part of a
	// certificate's life, from its end, in which it is renewed.
	renewCheck time.Duration
	renewRatio float64
}

// ACME obtains and renews certificates with certmagic (TLS-ALPN-01, on the
// node's own listener) and serves them by SNI, through a CertStore.
type ACME struct {
	domains []string
	cache   *certmagic.Cache
	cfg     *certmagic.Config
	stop    sync.Once
}

// NewACME prepares the manager; Manage starts it.
func NewACME(src ACMESource) (*ACME, error) {
	if len(src.Domains) == 0 {
		return nil, errors.New("ACME: no domain")
	}
	domains := make([]string, 0, len(src.Domains))
	for _, d := range src.Domains {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		if d == "" || strings.ContainsAny(d, "/: ") {
			return nil, fmt.Errorf("ACME: %q is not a DNS name", d)
		}
		domains = append(domains, d)
	}
	logger := zap.NewNop()
	if src.Logs != nil {
		enc := zap.NewProductionEncoderConfig()
		enc.EncodeTime = zapcore.RFC3339NanoTimeEncoder
		logger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(src.Logs), zap.InfoLevel))
	}
	a := &ACME{domains: domains}
	a.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return a.cfg, nil },
		RenewCheckInterval: src.renewCheck,
		Logger:             logger,
	})
	a.cfg = certmagic.New(a.cache, certmagic.Config{
		Storage:            &certmagic.FileStorage{Path: filepath.Join(src.DataDir, "acme")},
		RenewalWindowRatio: src.renewRatio,
		DisableARI:         src.renewRatio != 0, // ARI would pick its own time
		Logger:             logger,
	})
	ca := src.CA
	if ca == "" {
		ca = certmagic.LetsEncryptProductionCA
	}
	a.cfg.Issuers = []certmagic.Issuer{certmagic.NewACMEIssuer(a.cfg, certmagic.ACMEIssuer{
		CA:           ca,
		TestCA:       ca,
		Email:        src.Email,
		Agreed:       true,
		TrustedRoots: src.TrustedRoots,
		// Only TLS-ALPN-01: the node's listener answers it. Setting the
		// alternate port to the listener's makes certmagic find it taken and
		// leave the challenge to the listener instead of binding its own.
		DisableHTTPChallenge: true,
		AltTLSALPNPort:       src.Port,
		Logger:               logger,
	})}
	return a, nil
}

// Manage obtains (or loads from the data dir) the certificates in the
// background and keeps them renewed until Stop. Call it once the listener
// is open: the CA's challenge comes to it.
func (a *ACME) Manage(ctx context.Context) error {
	return a.cfg.ManageAsync(ctx, a.domains)
}

// Stop ends renewals; it may be called more than once.
func (a *ACME) Stop() { a.stop.Do(a.cache.Stop) }

// handles reports whether a handshake is for the manager: an ACME
// challenge, or one of its domains.
func (a *ACME) handles(hello *tls.ClientHelloInfo) bool {
	if slices.Contains(hello.SupportedProtos, acmez.ACMETLS1Protocol) {
		return true
	}
	return slices.Contains(a.domains, strings.ToLower(strings.TrimSuffix(hello.ServerName, ".")))
}
