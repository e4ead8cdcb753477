// Command headers removes, sets and adds request and response headers, as
// its configuration says. In each direction it removes first, then sets,
// then adds, each in the order of the header names.
package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicegw/sluice/filters/internal/httpx"
	sluice "github.com/sluicegw/sluice/sdk"
)

func main() {} // never called: a filter runs from init (see the SDK docs)

// Stateless: both phases apply the configuration, nothing of a request is
// kept between them.
func init() {
	sluice.Stateless()
	sluice.HandleNew(newHeaders)
}

// config is the filter's `config:`.
type config struct {
	Request  rules `json:"request"`
	Response rules `json:"response"`
}

// rules are the changes to one direction's headers.
type rules struct {
	// Set replaces every value of each header with the one given.
	Set map[string]string `json:"set"`
	// Add appends a value, keeping those already there.
	Add map[string]string `json:"add"`
	// Remove deletes headers.
	Remove []string `json:"remove"`
}

type field struct{ name, value string }

// plan is rules checked and put in a fixed order.
type plan struct {
	remove   []string
	set, add []field
}

func (p plan) empty() bool { return len(p.remove)+len(p.set)+len(p.add) == 0 }

func (p plan) apply(h sluice.Header) {
	for _, n := range p.remove {
		h.Remove(n)
	}
	for _, f := range p.set {
		h.Set(f.name, f.value)
	}
	for _, f := range p.add {
		h.Add(f.name, f.value)
	}
}

type headers struct{ request, response plan }

func newHeaders() (sluice.Filter, error) {
	var c config
	if err := sluice.Config(&c); err != nil {
		return nil, err
	}
	req, err := compile("request", c.Request)
	if err != nil {
		return nil, err
	}
	resp, err := compile("response", c.Response)
	if err != nil {
		return nil, err
	}
	if req.empty() && resp.empty() {
		return nil, errors.New("config: no request or response rules")
	}
	return &headers{request: req, response: resp}, nil
}

func compile(dir string, r rules) (plan, error) {
	var p plan
	for _, n := range r.Remove {
		if !httpx.ValidName(n) {
			return p, fmt.Errorf("config: %s.remove: %q is not a header name", dir, n)
		}
		p.remove = append(p.remove, n)
	}
	for _, kind := range []struct {
		key string
		m   map[string]string
		out *[]field
	}{{"set", r.Set, &p.set}, {"add", r.Add, &p.add}} {
		for n, v := range kind.m {
			if !httpx.ValidName(n) {
				return p, fmt.Errorf("config: %s.%s: %q is not a header name", dir, kind.key, n)
			}
			if !httpx.ValidValue(v) {
				return p, fmt.Errorf("config: %s.%s.%s: the value has control characters or surrounding spaces", dir, kind.key, n)
			}
			*kind.out = append(*kind.out, field{n, v})
		}
		slices.SortFunc(*kind.out, func(a, b field) int { return strings.Compare(a.name, b.name) })
	}
	return p, nil
}

func (f *headers) HandleRequest(req sluice.Request, _ sluice.Response) bool {
	f.request.apply(req.Header())
	return true
}

// HandleResponse changes only headers, which needs no response buffering.
func (f *headers) HandleResponse(_ sluice.Request, resp sluice.Response, _ bool) {
	f.response.apply(resp.Header())
}
