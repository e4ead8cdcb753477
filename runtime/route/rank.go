package route

// Kinds of path matcher, from least to most specific. The order of the
// constants is the order of precedence.
type pathKind uint8

const (
	pathAny    pathKind = iota // neither path nor path_prefix
	pathPrefix                 // path_prefix
	pathParams                 // path with {name} segments
	pathExact                  // path without params
)

// Kinds of host matcher, from least to most specific.
type hostKind uint8

const (
	hostAny      hostKind = iota // no host
	hostWildcard                 // *.suffix
	hostExact                    // exact host
)

// rank is how specific a route is. It is computed once by New, so Match
// compares candidates from different host buckets without re-deriving it.
//
// The fields are compared in declaration order, which is the contract's order:
// path first, then host, then methods, then headers, then file order.
type rank struct {
	path      pathKind
	pathScore int // literal segments for pathParams; prefix length for pathPrefix
	host      hostKind
	hostScore int // suffix length for hostWildcard
	methods   bool
	headers   int
	index     int // lower wins
}

// beats reports whether a is strictly more specific than b.
func (a rank) beats(b rank) bool {
	switch {
	case a.path != b.path:
		return a.path > b.path
	case a.pathScore != b.pathScore:
		return a.pathScore > b.pathScore
	case a.host != b.host:
		return a.host > b.host
	case a.hostScore != b.hostScore:
		return a.hostScore > b.hostScore
	case a.methods != b.methods:
		return a.methods
	case a.headers != b.headers:
		return a.headers > b.headers
	default:
		return a.index < b.index
	}
}

// better returns the more specific of two candidates; either may be nil.
func better(a, b *Route) *Route {
	if a == nil || (b != nil && b.rank.beats(a.rank)) {
		return b
	}
	return a
}
