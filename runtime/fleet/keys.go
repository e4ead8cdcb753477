package fleet

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Files a publisher keeps in its data dir. They are created on first start,
// mode 0600, and never overwritten: losing the signing key means every edge
// node must be given a new --trust file.
const (
	TokenFile      = "token"
	SigningKeyFile = "signing.key"
	SigningPubFile = "signing.pub"
)

// Identity is what a publisher proves itself with: the bearer token its API
// demands and the key that signs every snapshot.
type Identity struct {
	Token  string
	Key    ed25519.PrivateKey
	Public ed25519.PublicKey
}

// LoadOrCreateIdentity reads the token and key pair from dir, creating any
// that are missing.
func LoadOrCreateIdentity(dir string) (*Identity, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	token, err := loadOrCreateToken(filepath.Join(dir, TokenFile))
	if err != nil {
		return nil, err
	}
	key, err := loadOrCreateKey(filepath.Join(dir, SigningKeyFile))
	if err != nil {
		return nil, err
	}
	pub := key.Public().(ed25519.PublicKey)
	pubPath := filepath.Join(dir, SigningPubFile)
	if existing, err := LoadPublicKey(pubPath); err == nil {
		if !existing.Equal(pub) {
			return nil, fmt.Errorf("%s does not match %s", pubPath, SigningKeyFile)
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, err
		}
		if err := writeNew(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); err != nil {
			return nil, err
		}
	} else {
		return nil, err
	}
	return &Identity{Token: token, Key: key, Public: pub}, nil
}

func loadOrCreateToken(path string) (string, error) {
	if data, err := os.ReadFile(path); err == nil {
		t := strings.TrimSpace(string(data))
		if t == "" {
			return "", fmt.Errorf("%s is empty", path)
		}
		return t, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	t := hex.EncodeToString(b)
	return t, writeNew(path, []byte(t+"\n"))
}

func loadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		return key, writeNew(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an ed25519 key", path)
	}
	return key, nil
}

// LoadPublicKey reads a publisher's public key (signing.pub), the file an
// edge node is given with --trust.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%s: not a PEM public key", path)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an ed25519 key", path)
	}
	return pub, nil
}

// LoadToken reads the API token from a publisher's data dir.
func LoadToken(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, TokenFile))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}

// writeNew creates path with mode 0600 and fails if it exists, so two
// publishers starting on one data dir never replace each other's key.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
