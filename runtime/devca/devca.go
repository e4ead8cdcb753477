// Package devca is the local certificate authority of `sluice dev`: a CA
// made once in the data dir, and a server certificate for localhost,
// 127.0.0.1 and ::1 signed by it at every start, so HTTPS to the dev
// gateway is checked (curl --cacert DIR/ca.crt) instead of skipped (-k).
// The CA key is written 0600 and never leaves the dir; the server key
// lives in memory only.
package devca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// File names in the data dir.
const (
	CertFile = "ca.crt" // the CA certificate: what clients trust
	keyFile  = "ca.key" // the CA key, 0600
)

// Validity of what the CA signs: the CA itself, and a server certificate
// (made again at every start, so it never needs renewing).
const (
	caValidity     = 10 * 365 * 24 * time.Hour
	serverValidity = 365 * 24 * time.Hour
)

// ServerCertificate returns a server certificate for localhost, 127.0.0.1
// and ::1, signed by the CA in dir, which it makes on first use.
func ServerCertificate(dir string) (tls.Certificate, error) {
	ca, caKey, err := loadOrMake(dir)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(serverValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("dev CA: sign the server certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: key}, nil
}

// loadOrMake reads the CA from dir, or makes one when neither file exists.
// Half a CA, or an expired one, is an error naming the files: a CA that
// clients may already trust is never replaced silently.
func loadOrMake(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, keyFile)
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	switch {
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		return makeCA(certPath, keyPath)
	case certErr != nil:
		return nil, nil, fmt.Errorf("dev CA: %w (remove %s too to make a new CA)", certErr, keyPath)
	case keyErr != nil:
		return nil, nil, fmt.Errorf("dev CA: %w (remove %s too to make a new CA)", keyErr, certPath)
	}
	ca, err := parseCert(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("dev CA: %s: %w", certPath, err)
	}
	if time.Now().After(ca.NotAfter) {
		return nil, nil, fmt.Errorf("dev CA: %s expired on %s (remove it and %s to make a new CA)", certPath, ca.NotAfter.Format(time.DateOnly), keyPath)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("dev CA: %s: %w", keyPath, err)
	}
	if !key.PublicKey.Equal(ca.PublicKey) {
		return nil, nil, fmt.Errorf("dev CA: %s does not match %s", keyPath, certPath)
	}
	return ca, key, nil
}

func makeCA(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	host, _ := os.Hostname()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Sluice dev CA (" + host + ")"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	// The key first, created exclusively: a CA is never half-written over
	// another's key.
	if err := writeNew(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, nil, err
	}
	if err := writeNew(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	return ca, key, err
}

func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("dev CA: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("dev CA: %w", err)
	}
	return f.Close()
}

func parseCert(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(blk.Bytes)
}

func parseKey(b []byte) (*ecdsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "EC PRIVATE KEY" {
		return nil, errors.New("no PEM EC private key")
	}
	return x509.ParseECPrivateKey(blk.Bytes)
}

// serial is a random 128-bit serial number (RFC 5280 asks for unique ones).
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}
