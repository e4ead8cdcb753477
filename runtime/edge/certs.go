package edge

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mholt/acmez/v3"
)

// CertPair names a certificate file (PEM, leaf first, then its chain) and
// the file of its private key (PEM).
type CertPair struct {
	Cert, Key string
}

// LoadCertPair reads and checks one pair: both files readable, the key
// matching the certificate, the certificate not expired at now. Every error
// names the file at fault.
func LoadCertPair(p CertPair, now time.Time) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(p.Cert)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(p.Key)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	leaf, err := parseLeaf(certPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", p.Cert, err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// The certificate parsed above, so what failed is the key: not PEM,
		// not a key, or not the key of this certificate.
		return nil, fmt.Errorf("key %s (for certificate %s): %w", p.Key, p.Cert, err)
	}
	if now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("certificate %s: expired on %s", p.Cert, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	pair.Leaf = leaf
	return &pair, nil
}

// parseLeaf parses the first CERTIFICATE block of a PEM file.
func parseLeaf(certPEM []byte) (*x509.Certificate, error) {
	for rest := certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("no PEM CERTIFICATE block")
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}

// CertStore holds the certificates of a TLS listener and picks one per
// handshake by SNI (GetCertificate): an exact name first, then a wildcard
// (*.example.com for a.example.com), then the default certificate: the
// first pair given, or the first of the directory's pairs by NAME.
//
// The index is immutable and swapped whole, so handshakes never lock: a
// reload of the directory (certs_dir.go) builds a new one and swaps it in.
type CertStore struct {
	log    *slog.Logger
	static []*tls.Certificate
	dir    string
	acme   *ACME
	now    func() time.Time
	index  atomic.Pointer[certIndex]

	mu      sync.Mutex                  // serialises reloads
	fromDir map[string]*tls.Certificate // by NAME: what the directory last loaded well
}

// CertSource is what a CertStore loads.
type CertSource struct {
	Pairs  []CertPair   // in order: the first is the default certificate
	Dir    string       // optional: every NAME.crt with NAME.key in it, after Pairs
	ACME   *ACME        // optional: its domains, and its challenges, go to it
	Logger *slog.Logger // optional
}

// NewCertStore loads every pair, in order, then the directory's. Any pair
// that fails refuses the store, naming its file: a node does not start with
// a certificate it cannot serve. A store without any certificate, or a
// directory without any pair, is an error too.
func NewCertStore(src CertSource) (*CertStore, error) {
	log := src.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &CertStore{log: log, dir: src.Dir, acme: src.ACME, now: time.Now}
	for _, p := range src.Pairs {
		c, err := LoadCertPair(p, s.now())
		if err != nil {
			return nil, err
		}
		s.static = append(s.static, c)
	}
	if s.dir != "" {
		if err := s.loadDir(); err != nil {
			return nil, err
		}
	}
	if len(s.static) == 0 && len(s.fromDir) == 0 && s.acme == nil {
		return nil, errors.New("no TLS certificate")
	}
	s.index.Store(s.build(s.fromDir))
	return s, nil
}

// TLSConfig is a server config that takes its certificates from s.
func (s *CertStore) TLSConfig() *tls.Config {
	cfg := &tls.Config{GetCertificate: s.GetCertificate, MinVersion: tls.VersionTLS12}
	if s.acme != nil {
		cfg.NextProtos = []string{"h2", "http/1.1", acmez.ACMETLS1Protocol}
	}
	return cfg
}

// GetCertificate picks the certificate for a handshake; see CertStore. The
// ACME manager's domains get its certificate, or the files' choice while
// it has none yet.
func (s *CertStore) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if s.acme != nil && s.acme.handles(hello) {
		c, err := s.acme.cfg.GetCertificate(hello)
		if err == nil || slices.Contains(hello.SupportedProtos, acmez.ACMETLS1Protocol) {
			return c, err
		}
	}
	if c := s.index.Load().pick(hello.ServerName); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("no certificate for %q", hello.ServerName)
}

// Names lists the DNS names the store serves (wildcards included), sorted;
// for logs and tests.
func (s *CertStore) Names() []string {
	idx := s.index.Load()
	names := make([]string, 0, len(idx.exact)+len(idx.wildcard))
	for n := range idx.exact {
		names = append(names, n)
	}
	for n := range idx.wildcard {
		names = append(names, "*."+n)
	}
	sort.Strings(names)
	return names
}

// certIndex is one immutable set of certificates, swapped whole on reload.
type certIndex struct {
	exact    map[string]*tls.Certificate // lower-case DNS name
	wildcard map[string]*tls.Certificate // "example.com" for *.example.com
	def      *tls.Certificate
}

func (idx *certIndex) pick(sni string) *tls.Certificate {
	name := strings.ToLower(strings.TrimSuffix(sni, "."))
	if name != "" {
		if c, ok := idx.exact[name]; ok {
			return c
		}
		if _, parent, ok := strings.Cut(name, "."); ok {
			if c, ok := idx.wildcard[parent]; ok {
				return c
			}
		}
	}
	return idx.def
}

// build indexes the flags' pairs, in order, then the directory's, by NAME:
// when two certificates cover one name, the first wins.
func (s *CertStore) build(fromDir map[string]*tls.Certificate) *certIndex {
	idx := &certIndex{exact: map[string]*tls.Certificate{}, wildcard: map[string]*tls.Certificate{}}
	all := append([]*tls.Certificate(nil), s.static...)
	for _, name := range sortedKeys(fromDir) {
		all = append(all, fromDir[name])
	}
	for _, c := range all {
		if idx.def == nil {
			idx.def = c
		}
		names := c.Leaf.DNSNames
		if len(names) == 0 && c.Leaf.Subject.CommonName != "" {
			names = []string{c.Leaf.Subject.CommonName}
		}
		for _, n := range names {
			n = strings.ToLower(n)
			if parent, ok := strings.CutPrefix(n, "*."); ok {
				if _, dup := idx.wildcard[parent]; !dup {
					idx.wildcard[parent] = c
				}
			} else if _, dup := idx.exact[n]; !dup {
				idx.exact[n] = c
			}
		}
	}
	return idx
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
