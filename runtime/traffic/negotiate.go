package traffic

import (
	"fmt"
	"strings"
)

// Encoding is a content coding the compress stage can produce.
type Encoding uint8

// The encodings, in no particular order; a route's compress list gives its
// preference.
const (
	Identity Encoding = iota
	Zstd
	Brotli
	Gzip
	numEncodings
)

var encodingNames = [numEncodings]string{"identity", "zstd", "br", "gzip"}

func (e Encoding) String() string { return encodingNames[e] }

// ParseEncodings turns a route's compress list into encodings, in the
// route's order of preference.
func ParseEncodings(names []string) ([]Encoding, error) {
	out := make([]Encoding, 0, len(names))
	for _, n := range names {
		e := encodingOf(n)
		if e == Identity {
			return nil, fmt.Errorf("unknown encoding %q (want zstd, br or gzip)", n)
		}
		out = append(out, e)
	}
	return out, nil
}

func encodingOf(name string) Encoding {
	switch strings.ToLower(name) {
	case "zstd":
		return Zstd
	case "br":
		return Brotli
	case "gzip", "x-gzip":
		return Gzip
	}
	return Identity
}

// Negotiate picks the encoding to answer with from the Accept-Encoding
// header values and the route's offer (RFC 9110 12.5.3): the one with the
// highest q-value, ties going to the route's order; q=0 refuses a coding;
// "*" stands for every coding not named; a coding neither named nor covered
// by "*" is not acceptable. Identity means "do not compress". It does not
// allocate.
func Negotiate(accept []string, offer []Encoding) Encoding {
	var q [numEncodings]int // in thousandths; -1 = not named
	for i := range q {
		q[i] = -1
	}
	star := -1
	for _, v := range accept {
		for v != "" {
			var item string
			item, v, _ = strings.Cut(v, ",")
			name, params, _ := strings.Cut(item, ";")
			name = strings.TrimSpace(name)
			qv, ok := parseQ(params)
			if !ok {
				continue // a malformed element is ignored, not guessed at
			}
			if name == "*" {
				star = qv
			} else if e := encodingOf(name); e != Identity || strings.EqualFold(name, "identity") {
				q[e] = qv
			}
		}
	}
	best, bestQ := Identity, 0
	for _, e := range offer {
		qe := q[e]
		if qe < 0 {
			qe = star
		}
		if qe > bestQ {
			best, bestQ = e, qe
		}
	}
	return best
}

// parseQ reads the q parameter of one Accept-Encoding element ("" or
// ";q=0.5"), as thousandths. Without one, q is 1.
func parseQ(params string) (int, bool) {
	params = strings.TrimSpace(params)
	if params == "" {
		return 1000, true
	}
	k, v, ok := strings.Cut(params, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
		return 1000, true // another parameter: codings take none, ignore it
	}
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 5 || (v[0] != '0' && v[0] != '1') {
		return 0, false
	}
	n := int(v[0]-'0') * 1000
	if len(v) > 1 {
		if v[1] != '.' {
			return 0, false
		}
		scale := 100
		for i := 2; i < len(v); i++ {
			if v[i] < '0' || v[i] > '9' {
				return 0, false
			}
			n += int(v[i]-'0') * scale
			scale /= 10
		}
	}
	if n > 1000 {
		return 0, false
	}
	return n, true
}
