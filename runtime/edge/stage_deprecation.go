package edge

// stageDeprecation announces a deprecated route version (RFC 9745
// Deprecation, RFC 8594 Sunset) on every response of the route.
func stageDeprecation(x *Exchange) error {
	h := x.W.Header()
	if c := x.route; c.deprecation != "" {
		h.Set("Deprecation", c.deprecation)
	}
	if c := x.route; c.sunset != "" {
		h.Set("Sunset", c.sunset)
	}
	return nil
}
