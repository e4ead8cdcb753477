package route

import "errors"

// Sentinel errors returned (wrapped, with the route's name and position) by New.
// The config package validates a file first; these catch what the matcher
// itself cannot compile, so a bad route is refused when loading, never
// discovered by a request.
var (
	// ErrInvalidRoute is a route that is nil, sets both path and
	// path_prefix, or lists an empty method or header name.
	ErrInvalidRoute = errors.New("invalid route")
	// ErrInvalidHost is a match.host that is neither an exact host nor
	// "*.suffix", or that holds a port.
	ErrInvalidHost = errors.New("invalid host")
	// ErrInvalidPath is a match.path, match.path_prefix or
	// rewrite.strip_prefix the matcher cannot compile.
	ErrInvalidPath = errors.New("invalid path")
)
