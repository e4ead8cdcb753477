// Package httpx holds the small HTTP helpers the example filters share.
package httpx

import (
	"encoding/json"

	sluice "github.com/sluicegw/sluice/sdk"
)

// ValidName reports whether s is an HTTP field name: an RFC 9110 token.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTChar(s[i]) {
			return false
		}
	}
	return true
}

func isTChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// ValidValue reports whether s can be sent as an HTTP field value: no
// control characters but horizontal tab, no leading or trailing space.
func ValidValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return s == "" || (s[0] != ' ' && s[0] != '\t' && s[len(s)-1] != ' ' && s[len(s)-1] != '\t')
}

// Error answers the request with Sluice's JSON error shape,
// {"error": msg, "request_id": id}, leaving request_id out when id is empty.
func Error(resp sluice.Response, status int, msg, id string) {
	b, _ := json.Marshal(struct {
		Error     string `json:"error"`
		RequestID string `json:"request_id,omitempty"`
	}{msg, id})
	resp.SetStatusCode(status)
	resp.Header().Set("Content-Type", "application/json")
	resp.Header().Set("Cache-Control", "no-store")
	resp.Body().Write(append(b, '\n'))
}
