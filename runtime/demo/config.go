package demo

import _ "embed"

// Config is the example config of `sluice dev`. Its endpoints are the
// addresses in Addrs.
//
//go:embed sluice.yaml
var Config []byte

// Addrs are the loopback addresses the example config expects each demo
// service on.
var Addrs = map[string]string{
	"users":   "127.0.0.1:9001",
	"billing": "127.0.0.1:9002",
	"auth":    "127.0.0.1:9003",
}
