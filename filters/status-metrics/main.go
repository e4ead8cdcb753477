// Command status-metrics counts a route's responses by method and status
// class on the node's /metrics, as sluice_filter_responses_total{filter,
// method, class}: the example of a filter defining its own metrics through
// Sluice's host module (so it runs on Sluice only).
package main

import (
	"strconv"

	sluice "github.com/sluicegw/sluice/sdk"
)

func main() {} // never called: a filter runs from init (see the SDK docs)

// responses is defined while the filter initialises: a bad name would stop
// it there, so Sluice refuses the filter when it loads the config.
var responses = sluice.NewCounter("responses_total", "method", "class")

// Stateless: the response phase reads the request's method and the
// response's status, nothing kept from the request phase.
func init() {
	sluice.Stateless()
	sluice.Handle(counter{})
}

type counter struct{}

func (counter) HandleRequest(sluice.Request, sluice.Response) bool { return true }

// HandleResponse counts the response. An error response (the upstream
// failed) counts under its status like any other.
func (counter) HandleResponse(req sluice.Request, resp sluice.Response, _ bool) {
	responses.Inc(method(req.Method()), class(resp.StatusCode()))
}

// method keeps the label to the standard methods, so a client sending
// made-up ones cannot add series.
func method(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE":
		return m
	}
	return "other"
}

// class is "1xx" to "5xx", or "other" outside 100-599.
func class(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status/100) + "xx"
}
