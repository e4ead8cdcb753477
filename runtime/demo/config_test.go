package demo

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicegw/sluice/runtime/config"
)

// The example config is valid with and without the optional filters built
// (wasm-build.sh skips them without clang or npm): each one's route is
// there exactly when its .wasm is, and --traces adds the tracing key.
func TestConfigWithAndWithoutOptionalFilters(t *testing.T) {
	routeFilters := func(c *config.Config) map[string][]string {
		m := map[string][]string{}
		for _, r := range c.Routes {
			m[r.Name] = r.Filters
		}
		return m
	}
	want := map[string]string{"stamp-c": "stamp-c", "stamp-as": "stamp-as", "pw-headers": "proxy-wasm"} // filter: route

	bare := t.TempDir()
	text, err := Config(Options{Filters: bare, Policies: "/policies"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse(text, "sluice.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	routes := routeFilters(c)
	for _, o := range OptionalFilters {
		if _, ok := c.Filters[o.Name]; ok {
			t.Errorf("filter %s is in the config but not built", o.Name)
		}
		if _, ok := routes[want[o.Name]]; ok {
			t.Errorf("route %s is in the config but its filter is not built", want[o.Name])
		}
	}
	if c.Tracing != nil {
		t.Errorf("tracing without --traces: %+v", c.Tracing)
	}

	full := t.TempDir()
	for _, o := range OptionalFilters {
		if err := os.WriteFile(filepath.Join(full, o.Name+".wasm"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text, err = Config(Options{Filters: full, Policies: "/policies", Traces: "http://127.0.0.1:4318"})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = config.Parse(text, "sluice.yaml"); err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	routes = routeFilters(c)
	for _, o := range OptionalFilters {
		if _, ok := c.Filters[o.Name]; !ok {
			t.Errorf("filter %s is built but not in the config", o.Name)
		}
		if f := routes[want[o.Name]]; len(f) != 1 || f[0] != o.Name {
			t.Errorf("route %s: filters %v, want [%s]", want[o.Name], f, o.Name)
		}
	}
	if c.Tracing == nil || c.Tracing.OTLP != "http://127.0.0.1:4318" || c.Tracing.Sample == nil || *c.Tracing.Sample != 1 {
		t.Errorf("tracing with --traces: %+v", c.Tracing)
	}
}
