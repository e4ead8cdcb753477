// Package artifacts moves wasm modules and policy bundles by sha256: it
// collects them from a config file (FromFile), and on nodes and the
// publisher keeps a verified on-disk cache filled from the Object Store,
// materializing a document back into a config that points at it.
package artifacts

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicegw/sluice/runtime/fleet"
)

// An artifact is a wasm module (its bytes) or a policy bundle (a tar of the
// files the policy loader reads), named by its sha256 in the Object Store
// and in each node's local cache.

// MaxArtifact bounds one artifact; a Go guest is ~2 MB.
const MaxArtifact = 64 << 20

var digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// ValidDigest reports whether d has the form "sha256:HEX".
func ValidDigest(d string) bool { return digestRe.MatchString(d) }

// PackPolicy makes the bundle of the policy in dir: every .rego file except
// tests, and data.json/yaml, in a tar with sorted names and no timestamps,
// so the same policy always has the same digest.
func PackPolicy(dir string) ([]byte, error) {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && policyFile(d.Name()) {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("policy bundle %s: %w", dir, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("policy bundle %s: no .rego files", dir)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return nil, fmt.Errorf("policy bundle: %w", err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
		tw.Write(data)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func policyFile(base string) bool {
	switch {
	case strings.HasSuffix(base, "_test.rego"):
		return false
	case strings.HasSuffix(base, ".rego"), base == "data.json", base == "data.yaml", base == "data.yml":
		return true
	}
	return false
}

// unpackPolicy extracts a bundle into dir. It accepts only regular files
// with clean relative names: a bundle is data from the network.
func unpackPolicy(bundle []byte, dir string) error {
	tr := tar.NewReader(bytes.NewReader(bundle))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := h.Name
		if h.Typeflag != tar.TypeReg || name == "" || path.IsAbs(name) || path.Clean(name) != name || strings.HasPrefix(name, "../") || name == ".." || !policyFile(path.Base(name)) {
			return fmt.Errorf("bundle entry %q refused", name)
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		data, err := io.ReadAll(io.LimitReader(tr, MaxArtifact))
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err
		}
	}
}

// Cache is a node's (or the publisher's) local copy of artifacts, under one
// directory: blobs/sha256-HEX holds the verified bytes, policies/sha256-HEX
// the extracted policy bundles. It is what lets a node boot from its last
// good snapshot with NATS down.
type Cache struct {
	Dir   string
	Store jetstream.ObjectStore // nil: local only (boot without NATS)
}

func fileName(digest string) string { return strings.Replace(digest, ":", "-", 1) }

func (c *Cache) blobPath(digest string) string {
	return filepath.Join(c.Dir, "blobs", fileName(digest))
}

// Blob returns the artifact's bytes, from the local cache or else the
// Object Store, checking the digest either way.
func (c *Cache) Blob(ctx context.Context, digest string) ([]byte, error) {
	if !ValidDigest(digest) {
		return nil, fmt.Errorf("artifact %q: not a sha256 digest", digest)
	}
	p := c.blobPath(digest)
	if data, err := os.ReadFile(p); err == nil && fleet.Digest(data) == digest {
		return data, nil
	}
	if c.Store == nil {
		return nil, fmt.Errorf("artifact %s: not cached and no NATS connection", digest)
	}
	data, err := c.Store.GetBytes(ctx, digest)
	if err != nil {
		return nil, fmt.Errorf("artifact %s: fetch: %w", digest, err)
	}
	if got := fleet.Digest(data); got != digest {
		return nil, fmt.Errorf("artifact %s: stored content hashes to %s: %w", digest, got, fleet.ErrDigestMismatch)
	}
	if err := fleet.WriteAtomic(p, data); err != nil {
		return nil, fmt.Errorf("artifact %s: cache: %w", digest, err)
	}
	return data, nil
}

// WasmPath returns the path of a wasm module's bytes on local disk.
func (c *Cache) WasmPath(ctx context.Context, digest string) (string, error) {
	if _, err := c.Blob(ctx, digest); err != nil {
		return "", err
	}
	return c.blobPath(digest), nil
}

// PolicyDir returns the directory of an extracted policy bundle.
func (c *Cache) PolicyDir(ctx context.Context, digest string) (string, error) {
	data, err := c.Blob(ctx, digest)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(c.Dir, "policies", fileName(digest))
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(filepath.Join(c.Dir, "blobs"), ".extract-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := unpackPolicy(data, tmp); err != nil {
		return "", fmt.Errorf("policy bundle %s: %w", digest, err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, fs.ErrExist) {
		if _, serr := os.Stat(dir); serr != nil { // lost a race to a twin: fine
			return "", err
		}
	}
	return dir, nil
}

// Prune removes the cached artifacts (module bytes, extracted policies) that
// keep does not list, so a node's data dir holds what its running snapshot
// needs rather than every artifact it ever ran. What is removed can be
// fetched again from the Object Store (an abort back to stable, a rollback).
func (c *Cache) Prune(keep []string) error {
	wanted := make(map[string]bool, len(keep))
	for _, d := range keep {
		wanted[fileName(d)] = true
	}
	var errs []error
	for _, sub := range []string{"blobs", "policies"} {
		entries, err := os.ReadDir(filepath.Join(c.Dir, sub))
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		for _, e := range entries {
			if name := e.Name(); !strings.HasPrefix(name, ".") && !wanted[name] {
				if err := os.RemoveAll(filepath.Join(c.Dir, sub, name)); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// CacheDir is the artifact cache under a data dir, as an absolute path:
// a materialized config points its modules at files in it, and the snapshot
// build resolves relative module paths against the config's own directory
// (so a relative --data such as the default ".sluice" would be joined twice).
func CacheDir(dataDir string) string {
	dir := filepath.Join(dataDir, "artifacts")
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}
