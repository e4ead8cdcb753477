package route

// segment returns the path segment starting at byte i (just after a '/') and
// the start of the next one. A path "/a/b" has segments "a" and "b"; "/" has
// one empty segment; "/a/" has "a" and "". After the last segment next is
// len(path)+1, so "i <= len(path)" means "a segment remains". Slicing instead
// of strings.Split keeps Match free of allocations.
func segment(path string, i int) (seg string, next int) {
	for j := i; j < len(path); j++ {
		if path[j] == '/' {
			return path[i:j], j + 1
		}
	}
	return path[i:], len(path) + 1
}

// paramName returns the name of a segment written {name}, and whether it is one.
func paramName(seg string) (string, bool) {
	if len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}' {
		return seg[1 : len(seg)-1], true
	}
	return "", false
}
