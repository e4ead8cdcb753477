// Command stamp stamps each request and response with X-Stamp: on (the
// header and value are configurable) and answers TRACE with 405 itself: what
// `sluice filter new NAME` writes, and the same header work as stamp-c and
// stamp-as, for BENCHMARKS.md.
package main

import sluice "github.com/sluicegw/sluice/sdk"

func main() {} // required by Go, never called: the filter registers in init

// It keeps nothing between the phases: one instance per core will do.
func init() {
	sluice.Stateless()
	sluice.HandleNew(newFilter)
}

// config is the filter's `config:` block, handed over as JSON. Unknown keys
// are errors, so a typo in the gateway config fails when it is loaded.
type config struct {
	Header string `json:"header"`
	Value  string `json:"value"`
}

type filter struct{ cfg config }

// newFilter runs once per instance, when the gateway loads the filter.
func newFilter() (sluice.Filter, error) {
	c := config{Header: "X-Stamp", Value: "on"}
	if err := sluice.Config(&c); err != nil {
		return nil, err
	}
	return &filter{cfg: c}, nil
}

// HandleRequest runs before the upstream. Return true to pass the request
// on, false when the filter answered it itself.
func (f *filter) HandleRequest(req sluice.Request, resp sluice.Response) bool {
	if req.Method() == "TRACE" {
		resp.SetStatusCode(405)
		resp.Header().Set("Content-Type", "application/json")
		resp.Body().WriteString(`{"error":"TRACE is not allowed"}` + "\n")
		return false
	}
	req.Header().Set(f.cfg.Header, f.cfg.Value)
	return true
}

// HandleResponse runs after the upstream answered, in reverse filter order.
func (f *filter) HandleResponse(req sluice.Request, resp sluice.Response, isError bool) {
	if !isError {
		resp.Header().Set(f.cfg.Header, f.cfg.Value)
	}
}
