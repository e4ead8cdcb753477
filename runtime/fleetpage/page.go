// Package fleetpage is the publisher's fleet status page (/ui).
package fleetpage

import (
	_ "embed"
	"net/http"
)

//go:embed page.html
var page []byte

// Serve serves the fleet page. It carries no data: the page asks for
// the API token (or takes it from the URL fragment, #token=..., which the
// browser never sends) and polls GET /v1/fleet and GET /v1/dashboard (the
// charts) with it, so the page itself needs no authentication and leaks
// nothing.
func Serve(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
	w.Write(page)
}
