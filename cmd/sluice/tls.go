package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/sluicegw/sluice/runtime/edge"
)

// tlsFlags are the edge listener's certificates: --tls-cert/--tls-key pairs,
// repeatable, paired in order (the first pair is the default certificate),
// and the pairs of --tls-dir, reloaded on change.
type tlsFlags struct {
	certs, keys []string
	dir         string

	config *tls.Config // what load made of them; nil: no TLS
}

func (t *tlsFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&t.certs, "tls-cert", nil, "TLS certificate file (PEM); enables TLS with h2 and http/1.1; repeatable: certificates are chosen by SNI, the first is the default")
	fl.StringArrayVar(&t.keys, "tls-key", nil, "TLS key file (PEM) of the --tls-cert in the same position")
	fl.StringVar(&t.dir, "tls-dir", "", "directory of NAME.crt/NAME.key pairs (PEM), chosen by SNI like --tls-cert, reloaded on change")
}

// check reports flag misuse, before anything is loaded.
func (t *tlsFlags) check() error {
	if len(t.certs) != len(t.keys) {
		return fmt.Errorf("--tls-cert and --tls-key go in pairs: %d certificate(s), %d key(s)", len(t.certs), len(t.keys))
	}
	return nil
}

// load loads the certificates and sets the listener's TLS config (left
// nil when no TLS flag is set), and watches --tls-dir until ctx is done.
// A pair that does not load (unreadable, key not matching, expired) is an
// error naming its file.
func (t *tlsFlags) load(ctx context.Context, log *slog.Logger) error {
	if err := t.check(); err != nil {
		return err
	}
	if len(t.certs) == 0 && t.dir == "" {
		return nil
	}
	src := edge.CertSource{Dir: t.dir, Logger: log}
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
