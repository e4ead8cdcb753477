package demo

import (
	"bytes"
	_ "embed"
	"os"
	"path/filepath"
	"text/template"
)

// configTemplate is the example config of `sluice dev`. Its endpoints are
// the addresses in Addrs.
//
//go:embed sluice.yaml
var configTemplate string

// Options are what the example config is rendered with.
type Options struct {
	Filters  string // the directory of the built example filters (filters/*.wasm)
	Policies string // the directory of the example policies
	Traces   string // an OTLP/HTTP collector's base URL; empty: no tracing
}

// OptionalFilter is an example filter that is not in Go: wasm-build.sh
// skips it where its toolchain is missing, and a machine with only Go must
// still run `sluice dev`, so its route is left out of the config then.
type OptionalFilter struct {
	Name  string // the filter's name in the config and its file, Name.wasm
	What  string // what it shows, for the banner
	Needs string // what building it takes
	// Path is its route's path prefix in sluice.yaml, in front of the
	// billing service; the filter sets Header to Value (for pw-headers,
	// its config in sluice.yaml).
	Path, Header, Value string
}

// OptionalFilters are the example filters in C, AssemblyScript and on the
// proxy-wasm ABI.
var OptionalFilters = []OptionalFilter{
	{Name: "stamp-c", What: "a C filter", Needs: "clang, lld and wasi-libc", Path: "/c", Header: "X-Stamp", Value: "on"},
	{Name: "stamp-as", What: "an AssemblyScript filter", Needs: "npm", Path: "/as", Header: "X-Stamp", Value: "on"},
	{Name: "pw-headers", What: "a proxy-wasm filter", Needs: "npm", Path: "/proxy-wasm", Header: "X-Proxy-Wasm", Value: "sluice-dev"},
}

// Built reports whether the example filter name is built in filtersDir.
func Built(filtersDir, name string) bool {
	_, err := os.Stat(filepath.Join(filtersDir, name+".wasm"))
	return err == nil
}

// Config renders the example config.
func Config(o Options) ([]byte, error) {
	var b bytes.Buffer
	t, err := template.New("sluice.yaml").Funcs(template.FuncMap{
		"built": func(name string) bool { return Built(o.Filters, name) },
	}).Parse(configTemplate)
	if err != nil {
		return nil, err
	}
	if err := t.Execute(&b, o); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Addrs are the loopback addresses the example config expects each demo
// service on.
var Addrs = map[string]string{
	"users":   "127.0.0.1:9001",
	"billing": "127.0.0.1:9002",
	"auth":    "127.0.0.1:9003",
	"grpc":    "127.0.0.1:9004", // StartGRPC
}
