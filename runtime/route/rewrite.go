package route

import "strings"

// Rewrite applies the route's rewrite to a request path and returns the path
// to send upstream.
//
// strip_prefix strips only on a segment boundary, the same way path_prefix
// matches: stripping "/users" turns "/users/7" into "/7" and "/users" into
// "/", and leaves "/usersX" alone. The result is never empty, because an
// empty path is not a valid request target upstream. It returns a substring
// of path, so it does not allocate.
func (r *Route) Rewrite(path string) string {
	if p := r.strip; p != "" && strings.HasPrefix(path, p) {
		if len(path) == len(p) {
			return "/"
		}
		if path[len(p)] == '/' {
			return path[len(p):]
		}
	}
	if path == "" {
		return "/"
	}
	return path
}

// compileStrip normalises rewrite.strip_prefix: trailing slashes are dropped
// so "/users/" and "/users" strip the same thing and leave a leading "/"; a
// prefix of "/" strips nothing.
func compileStrip(rw string) (string, error) {
	if rw == "" {
		return "", nil
	}
	if rw[0] != '/' {
		return "", errorf(ErrInvalidPath, "strip_prefix %q must start with /", rw)
	}
	return strings.TrimRight(rw, "/"), nil
}
