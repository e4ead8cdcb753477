package edge

// stageRewrite gives the request the path its upstream expects (the route's
// strip_prefix / rewrite) and the request id.
func stageRewrite(x *Exchange) error {
	r := x.R
	r.URL.Path = x.matched.Rewrite(r.URL.Path)
	if r.URL.RawPath != "" {
		r.URL.RawPath = x.matched.Rewrite(r.URL.RawPath)
	}
	r.Header.Set("X-Request-Id", x.rid)
	return nil
}
