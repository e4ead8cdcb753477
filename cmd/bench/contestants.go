package main

import "fmt"

// The contestants, all on 127.0.0.1 and all in front of the same upstream
// (nginx, one worker, serving a 1 KiB static file, keep-alive on, no access
// log):
//
//	a  the upstream directly (the floor every proxy adds to)
//	b  nginx as a reverse proxy: one worker per core (the CPU budget Sluice
//	   gets from GOMAXPROCS), an upstream keep-alive pool of 64
//	c  `sluice edge` with one route and nothing else, access log on, stdout
//	   to /dev/null (logging is on, as shipped)
//	d  a second `sluice edge` (own port and data dir) whose one route runs the
//	   full pipeline: JWT auth (RS256, key made for the run, JWKS served by
//	   the upstream), an OPA policy (role bench may GET under /) and the Go
//	   wasm filter filters/headers.wasm setting one request and one response
//	   header; every request to it carries `Authorization: Bearer TOKEN`
//	e  cmd/bench-ceiling, a bare fasthttp reverse proxy: the ceiling a Go
//	   proxy on fasthttp reaches here; HTTP/1.1 only
//
// Their configs are the templates under configs/.
type contestant struct {
	Key     string   // a to e, the row's name in the table
	URL     string   // HTTP/1.1 URL of the 1 KiB file
	H2URL   string   // h2c URL of the same file; "" for no h2load run
	Headers []string // sent with every request ("Name: value")
	proc    *process
}

// The upstream's paths: the 1 KiB file every contestant serves, d's JWKS,
// and an echo of the request header d's filter sets.
const (
	filePath = "/1k.bin"
	jwksPath = "/jwks.json"
	echoPath = "/echo-x-bench-request"
	fileSize = 1024
)

// ports are BASE+1 to BASE+6.
type ports struct {
	Upstream     int // a
	NginxProxy   int // b, HTTP/1.1
	NginxProxyH2 int // b, h2c
	Sluice       int // c, HTTP/1.1 and h2c
	SluiceFull   int // d, HTTP/1.1 and h2c
	Ceiling      int // e, HTTP/1.1
}

func portsFrom(base int) ports {
	return ports{base + 1, base + 2, base + 3, base + 4, base + 5, base + 6}
}

func (p ports) all() []int {
	return []int{p.Upstream, p.NginxProxy, p.NginxProxyH2, p.Sluice, p.SluiceFull, p.Ceiling}
}

func fileURL(port int) string { return fmt.Sprintf("http://127.0.0.1:%d%s", port, filePath) }

// contestantKeys in the order runs alternate within a round.
var contestantKeys = []string{"a", "b", "c", "d", "e"}

// contestantLabel is the table's description of a row; nginxWorkers is how
// many workers b started.
func contestantLabel(key string, nginxWorkers int) string {
	switch key {
	case "a":
		return "upstream nginx, direct (1 worker)"
	case "b":
		return fmt.Sprintf("nginx reverse proxy (%d workers, keepalive 64)", nginxWorkers)
	case "c":
		return "sluice edge, one route"
	case "d":
		return "sluice, full pipeline (WASM filter, JWT, OPA)"
	case "e":
		return "bare fasthttp proxy (cmd/bench-ceiling, reference only)"
	}
	return key
}
