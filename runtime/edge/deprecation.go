package edge

import (
	"net/http"
	"strconv"
	"time"
)

// deprecationHeader formats the Deprecation header of RFC 9745: an
// @-prefixed Unix time.
func deprecationHeader(rfc3339 string) string {
	t, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		return ""
	}
	return "@" + strconv.FormatInt(t.Unix(), 10)
}

// sunsetHeader formats the Sunset header of RFC 8594: an HTTP-date.
func sunsetHeader(rfc3339 string) string {
	t, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		return ""
	}
	return t.UTC().Format(http.TimeFormat)
}
