package demo

import (
	"bytes"
	_ "embed"
	"text/template"
)

// configTemplate is the example config of `sluice dev`. Its endpoints are
// the addresses in Addrs.
//
//go:embed sluice.yaml
var configTemplate string

// Config renders the example config with the directories holding the built
// example filters (filters/*.wasm) and the example policies.
func Config(filtersDir, policiesDir string) ([]byte, error) {
	var b bytes.Buffer
	t, err := template.New("sluice.yaml").Parse(configTemplate)
	if err != nil {
		return nil, err
	}
	if err := t.Execute(&b, struct{ Filters, Policies string }{filtersDir, policiesDir}); err != nil {
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
