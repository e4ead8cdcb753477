package edge

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/policy"
)

// loadPolicies compiles and prepares every policy of cfg once per snapshot.
// Module directories are relative to the config file's directory.
func loadPolicies(ctx context.Context, cfg *config.Config) (map[string]*policy.Policy, []error) {
	out := make(map[string]*policy.Policy, len(cfg.Policies))
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(cfg.Policies)) { // sorted: errors in a stable order
		p := cfg.Policies[name]
		dir := p.Module
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(cfg.Dir, dir)
		}
		pol, err := policy.Load(ctx, name, dir, p.Query)
		if err != nil {
			errs = append(errs, fmt.Errorf("policy %q: %w", name, err))
			continue
		}
		out[name] = pol
	}
	return out, errs
}
