package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sluicegw/sluice/runtime/edge"
)

// tlsFlags are the edge listener's certificates: --tls-cert/--tls-key pairs,
// repeatable, paired in order (the first pair is the default certificate),
// and the pairs of --tls-dir, reloaded on change, and the --acme-domain
// names, obtained and renewed over ACME.
type tlsFlags struct {
	certs, keys []string
	dir         string
	acmeDomains []string
	acmeCA      string
	acmeEmail   string

	config *tls.Config // what load made of them; nil: no TLS
	acme   *edge.ACME  // started by manage once the listener is open
}

func (t *tlsFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&t.certs, "tls-cert", nil, "TLS certificate file (PEM); enables TLS with h2 and http/1.1; repeatable: certificates are chosen by SNI, the first is the default")
	fl.StringArrayVar(&t.keys, "tls-key", nil, "TLS key file (PEM) of the --tls-cert in the same position")
	fl.StringVar(&t.dir, "tls-dir", "", "directory of NAME.crt/NAME.key pairs (PEM), chosen by SNI like --tls-cert, reloaded on change")
	fl.StringArrayVar(&t.acmeDomains, "acme-domain", nil, "obtain and renew a certificate for this DNS name over ACME (TLS-ALPN-01: the CA must reach NAME:443 on this listener); repeatable; stored under --data/acme")
	fl.StringVar(&t.acmeCA, "acme-ca", "", "ACME directory URL (default: Let's Encrypt)")
	fl.StringVar(&t.acmeEmail, "acme-email", "", "contact address for the ACME account")
}

// check reports flag misuse, before anything is loaded.
func (t *tlsFlags) check() error {
	if len(t.certs) != len(t.keys) {
		return fmt.Errorf("--tls-cert and --tls-key go in pairs: %d certificate(s), %d key(s)", len(t.certs), len(t.keys))
	}
	if len(t.acmeDomains) == 0 && (t.acmeCA != "" || t.acmeEmail != "") {
		return errors.New("--acme-ca and --acme-email need --acme-domain")
	}
	return nil
}

// load loads the certificates and sets the listener's TLS config (left
// nil when no TLS flag is set), and watches --tls-dir until ctx is done.
// A pair that does not load (unreadable, key not matching, expired) is an
// error naming its file.
// listen is the data listener's address (its port is where ACME challenges
// arrive), dataDir where ACME keeps its certificates and account.
func (t *tlsFlags) load(ctx context.Context, log *slog.Logger, listen, dataDir string) error {
	if err := t.check(); err != nil {
		return err
	}
	if len(t.certs) == 0 && t.dir == "" && len(t.acmeDomains) == 0 {
		return nil
	}
	src := edge.CertSource{Dir: t.dir, Logger: log}
	if len(t.acmeDomains) > 0 {
		_, p, err := net.SplitHostPort(listen)
		if err != nil {
			return fmt.Errorf("--listen: %w", err)
		}
		port, _ := strconv.Atoi(p)
		t.acme, err = edge.NewACME(edge.ACMESource{
			Domains: t.acmeDomains, CA: t.acmeCA, Email: t.acmeEmail, DataDir: dataDir, Port: port, Logs: os.Stderr,
		})
		if err != nil {
			return err
		}
		src.ACME = t.acme
	}
	for i := range t.certs {
		src.Pairs = append(src.Pairs, edge.CertPair{Cert: t.certs[i], Key: t.keys[i]})
	}
	store, err := edge.NewCertStore(src)
	if err != nil {
		return fmt.Errorf("TLS: %w", err)
	}
	if err := store.Watch(ctx); err != nil {
		return fmt.Errorf("TLS: %w", err)
	}
	log.Info("TLS certificates loaded", "names", store.Names(), "dir", t.dir)
	t.config = store.TLSConfig()
	return nil
}

// manage starts obtaining and renewing the --acme-domain certificates; call
// it once the listener is open, since the CA's challenges come to it.
func (t *tlsFlags) manage(ctx context.Context, log *slog.Logger) {
	if t.acme == nil {
		return
	}
	if err := t.acme.Manage(ctx); err != nil {
		log.Error("ACME certificates not managed", "error", err.Error())
		return
	}
	log.Info("ACME certificates managed", "domains", t.acmeDomains, "ca", t.acmeCA)
}
