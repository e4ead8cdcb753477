package route

import "strings"

// requestHost turns a Host header into the name routes are matched against:
// the port and IPv6 brackets are stripped exactly as net/url's
// URL.Hostname does, and ASCII letters are lower-cased. It allocates only when
// the host holds an upper-case letter, which real clients rarely send.
func requestHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && isPort(h[i+1:]) {
		h = h[:i]
	}
	if len(h) >= 2 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	// "api.example.com." is the same name as "api.example.com" (a fully
	// qualified form); without this it would slip past host-specific routes
	// to host-less ones.
	h = strings.TrimSuffix(h, ".")
	return lowerASCII(h)
}

// isPort reports whether s is a (possibly empty) run of digits, the port
// syntax URL.Hostname accepts after the last colon.
func isPort(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// lowerASCII lower-cases ASCII letters only. Host names are ASCII (IDNs travel
// as punycode), and Unicode case folding would let look-alike characters such
// as the Kelvin sign reach a route written for "k".
func lowerASCII(s string) string {
	i := 0
	for i < len(s) && (s[i] < 'A' || s[i] > 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// compileHost parses match.host into its kind and the key of its bucket: the
// lower-cased host for an exact host, the suffix after "*." for a wildcard.
// A port in the pattern is refused rather than ignored, since requests are
// matched with their port stripped and such a route would silently match
// every port.
func compileHost(h string) (hostKind, string, error) {
	if h == "" {
		return hostAny, "", nil
	}
	h = lowerASCII(h)
	if suffix, ok := strings.CutPrefix(h, "*."); ok {
		if suffix == "" || strings.ContainsAny(suffix, "*:/[] ") || suffix[0] == '.' {
			return 0, "", errorf(ErrInvalidHost, "wildcard %q must be *.domain", h)
		}
		return hostWildcard, suffix, nil
	}
	if strings.ContainsAny(h, "*/ ") {
		return 0, "", errorf(ErrInvalidHost, "%q: a wildcard must be the whole first label, as in *.example.com", h)
	}
	name := requestHost(h)
	if h != name && h != "["+name+"]" {
		return 0, "", errorf(ErrInvalidHost, "%q holds a port (or is an IPv6 address without brackets)", h)
	}
	return hostExact, name, nil
}
