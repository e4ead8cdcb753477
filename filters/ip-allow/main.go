// Command ip-allow admits or refuses requests by the client's address, with
// allow and deny lists of CIDR prefixes. A refused request is answered by
// the filter with a 403 JSON error and never reaches the upstream.
//
// The rule: an address in deny is refused; otherwise, when allow is not
// empty, only an address in allow passes; with an empty allow list every
// address not denied passes. An address that cannot be parsed is refused.
package main

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/sluicegw/sluice/filters/internal/httpx"
	sluice "github.com/sluicegw/sluice/sdk"
)

func main() {} // never called: a filter runs from init (see the SDK docs)

func init() { sluice.HandleNew(newIPAllow) }

// config is the filter's `config:`.
type config struct {
	// Allow lists the prefixes ("10.0.0.0/8", "2001:db8::/32") or single
	// addresses that may pass.
	Allow []string `json:"allow"`
	// Deny lists prefixes or addresses refused even when allowed.
	Deny []string `json:"deny"`
	// RequestIDHeader names the header whose value the 403 body quotes as
	// request_id.
	RequestIDHeader string `json:"request_id_header"`
}

type ipAllow struct {
	allow, deny []netip.Prefix
	idHeader    string
}

func newIPAllow() (sluice.Filter, error) {
	c := config{RequestIDHeader: "X-Request-Id"}
	if err := sluice.Config(&c); err != nil {
		return nil, err
	}
	if len(c.Allow) == 0 && len(c.Deny) == 0 {
		return nil, errors.New("config: neither allow nor deny lists a prefix")
	}
	f := &ipAllow{idHeader: c.RequestIDHeader}
	var err error
	if f.allow, err = prefixes("allow", c.Allow); err != nil {
		return nil, err
	}
	if f.deny, err = prefixes("deny", c.Deny); err != nil {
		return nil, err
	}
	if c.RequestIDHeader != "" && !httpx.ValidName(c.RequestIDHeader) {
		return nil, fmt.Errorf("config: request_id_header: %q is not a header name", c.RequestIDHeader)
	}
	return sluice.RequestFunc(f.handle), nil
}

func prefixes(key string, list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		var p netip.Prefix
		var err error
		if strings.Contains(s, "%") {
			return nil, fmt.Errorf("config: %s: %q: zones are not supported", key, s)
		}
		if strings.Contains(s, "/") {
			p, err = netip.ParsePrefix(s)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(s); err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("config: %s: %q is not an address or CIDR prefix", key, s)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 { // ::ffff:10.0.0.0/104 is 10.0.0.0/8
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// clientAddr parses "1.2.3.4:5678", "[2001:db8::1]:5678" or a bare address.
// An IPv4-mapped IPv6 address is its IPv4 address; a zone is dropped.
func clientAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

func contains(list []netip.Prefix, a netip.Addr) bool {
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// allowed applies the rule in the package documentation.
func (f *ipAllow) allowed(a netip.Addr) bool {
	if contains(f.deny, a) {
		return false
	}
	return len(f.allow) == 0 || contains(f.allow, a)
}

func (f *ipAllow) handle(req sluice.Request, resp sluice.Response) bool {
	src := req.SourceAddr()
	a, ok := clientAddr(src)
	if !ok {
		sluice.Logf(sluice.LevelWarn, "ip-allow: unparsable source address %q refused", src)
	}
	if ok && f.allowed(a) {
		return true
	}
	var id string
	if f.idHeader != "" {
		id, _ = req.Header().Get(f.idHeader)
	}
	httpx.Error(resp, 403, "forbidden: client address not allowed", id)
	return false
}
