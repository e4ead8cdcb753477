package edge

// stageCompress wraps the response in the route's encoder. It is the
// outermost writer: everything after it, response filters included, writes
// through the encoder. An upgrade's response is a 101 and a raw stream.
func stageCompress(x *Exchange) error {
	if x.upgrade != "" {
		return nil
	}
	cw := x.route.compress.Wrap(x.W, x.R)
	x.onDone(func() { cw.Close() })
	x.W = cw
	return nil
}
