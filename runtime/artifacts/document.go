package artifacts

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/fleet"
)

// FromFile reads the config at path, checks it as `sluice validate` does
// before building (strict decoding, validation), and collects the artifacts
// it names: each filter's wasm module and each policy's bundle, by digest.
// The returned document points at them by digest; artifacts maps digest to
// bytes for upload.
func FromFile(path string) (doc *fleet.Document, artifacts map[string][]byte, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, config.Problems{{File: path, Msg: "cannot read the config: " + err.Error()}}
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, nil, err
	}
	doc = &fleet.Document{Config: string(data), Source: filepath.Base(path), Filters: map[string]string{}, Policies: map[string]string{}}
	artifacts = map[string][]byte{}
	for name, f := range cfg.Filters {
		p := f.Module
		if !filepath.IsAbs(p) {
			p = filepath.Join(cfg.Dir, p)
		}
		wasm, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("filter %q: module: %w", name, err)
		}
		d := fleet.Digest(wasm)
		doc.Filters[name], artifacts[d] = d, wasm
	}
	for name, pol := range cfg.Policies {
		dir := pol.Module
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(cfg.Dir, dir)
		}
		bundle, err := PackPolicy(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("policy %q: %w", name, err)
		}
		d := fleet.Digest(bundle)
		doc.Policies[name], artifacts[d] = d, bundle
	}
	return doc, artifacts, nil
}

// Materialize turns a document back into a config a node can build: it
// parses the YAML and points every filter and policy at its artifact in the
// cache, fetching and verifying what is missing.
func (c *Cache) Materialize(ctx context.Context, doc *fleet.Document) (*config.Config, error) {
	cfg, _, err := c.MaterializeWithOrigins(ctx, doc)
	return cfg, err
}

// MaterializeWithOrigins also returns a replacer from artifact paths back to the
// module paths as written, so build errors name the user's files.
func (c *Cache) MaterializeWithOrigins(ctx context.Context, doc *fleet.Document) (*config.Config, *strings.Replacer, error) {
	cfg, err := config.Parse([]byte(doc.Config), doc.Source)
	if err != nil {
		return nil, nil, err
	}
	var origins []string
	cfg.Dir = c.Dir
	for name, f := range cfg.Filters {
		d, ok := doc.Filters[name]
		if !ok {
			return nil, nil, fmt.Errorf("filter %q: no artifact in the snapshot", name)
		}
		written := f.Module
		if f.Module, err = c.WasmPath(ctx, d); err != nil {
			return nil, nil, fmt.Errorf("filter %q: %w", name, err)
		}
		origins = append(origins, f.Module, written)
	}
	for name, p := range cfg.Policies {
		d, ok := doc.Policies[name]
		if !ok {
			return nil, nil, fmt.Errorf("policy %q: no artifact in the snapshot", name)
		}
		written := p.Module
		if p.Module, err = c.PolicyDir(ctx, d); err != nil {
			return nil, nil, fmt.Errorf("policy %q: %w", name, err)
		}
		origins = append(origins, p.Module, written)
	}
	return cfg, strings.NewReplacer(origins...), nil
}
