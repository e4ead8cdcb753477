package httpguard

import (
	"bytes"
	"net/http"
)

// headLine judges one line of a request head (without its CRLF) and, on the
// blank line that ends the head, the head as a whole.
func (t *tracker) headLine(line []byte) {
	h := &t.h
	h.lines++
	if h.lines == 1 {
		t.requestLine(line)
		return
	}
	if len(line) == 0 {
		t.endHead()
		return
	}
	if h.pri {
		// net/http hands "PRI * HTTP/2.0" with header fields to the handler
		// as an HTTP/2.0 request framed like HTTP/1.1; nothing sends that.
		t.reject(http.StatusBadRequest, "header fields after an HTTP/2 preface")
		return
	}
	if status, reason := checkField(line); status != 0 {
		t.reject(status, reason)
		return
	}
	colon := bytes.IndexByte(line, ':')
	name, value := line[:colon], line[colon+1:]
	switch {
	case asciiEqualFold(name, "Content-Length"):
		h.contentLengths++
		if h.contentLengths > 1 {
			t.reject(http.StatusBadRequest, "more than one Content-Length")
			return
		}
		v, ok := framingValue(value)
		n, ok2 := parseDecimal(v)
		if !ok || !ok2 {
			t.reject(http.StatusBadRequest, "invalid Content-Length")
			return
		}
		h.length = n
	case asciiEqualFold(name, "Transfer-Encoding"):
		h.transferEnc++
		if h.transferEnc > 1 {
			t.reject(http.StatusBadRequest, "more than one Transfer-Encoding")
			return
		}
		v, ok := framingValue(value)
		if !ok || !asciiEqualFold(v, "chunked") {
			t.reject(http.StatusBadRequest, "unsupported Transfer-Encoding")
			return
		}
	case asciiEqualFold(name, "Upgrade"):
		if h.upgradeTo == "" {
			h.upgradeTo = string(bytes.TrimSpace(value))
		}
	case asciiEqualFold(name, "Connection"):
		h.connUpgrade = h.connUpgrade || hasToken(string(value), "upgrade")
	}
}

// requestLine notes what the framing rules need from the request line.
// net/http parses and refuses malformed request lines itself; the guard only
// refuses control characters there (a bare CR among them).
func (t *tracker) requestLine(line []byte) {
	h := &t.h
	h.pri = string(line) == "PRI * HTTP/2.0"
	h.options = bytes.HasPrefix(line, []byte("OPTIONS * "))
	h.http10 = bytes.HasSuffix(line, []byte(" HTTP/1.0"))
	for _, c := range line {
		if c < 0x20 || c == 0x7f {
			t.reject(http.StatusBadRequest, "invalid character in request line")
			return
		}
	}
}

// endHead judges the complete head and sets the state for its body.
func (t *tracker) endHead() {
	h := t.h
	t.h = headState{}
	t.size = 0
	switch {
	case h.pri:
		// HTTP/2 with prior knowledge: binary frames follow. The handler
		// sees no HTTP/1 request here (or, without h2c, one that closes
		// the connection), so it is not counted.
		t.state = statePassthrough
		return
	case h.transferEnc > 0 && h.contentLengths > 0:
		t.reject(http.StatusBadRequest, "both Content-Length and Transfer-Encoding")
		return
	case h.transferEnc > 0 && h.http10:
		t.reject(http.StatusBadRequest, "Transfer-Encoding in an HTTP/1.0 request")
		return
	}
	// net/http answers "OPTIONS *" itself without calling the handler, so
	// that head does not count as a handler's request; a problem in its
	// body is charged to the next request, the one framing would corrupt.
	t.body = t.heads
	if !h.options {
		t.heads++
	}
	switch {
	case upgradeOf(h.connUpgrade, h.upgradeTo) != "":
		// After a successful upgrade the stream is no longer HTTP; the edge
		// closes the connection when an upgrade is refused, so nothing
		// after this head is trusted as framing.
		t.state = statePassthrough
	case h.transferEnc > 0:
		t.state = stateChunkLine
	case h.length > 0:
		t.state, t.remain = stateBody, h.length
	default:
		t.state = stateHead
	}
}

// checkField checks one header or trailer field line (without its CRLF).
func checkField(line []byte) (int, string) {
	if line[0] == ' ' || line[0] == '\t' {
		return http.StatusBadRequest, "obsolete line folding"
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return http.StatusBadRequest, "malformed header line"
	}
	if !validToken(line[:colon]) {
		return http.StatusBadRequest, "invalid character in header name"
	}
	if !validValue(line[colon+1:]) {
		return http.StatusBadRequest, "invalid character in header value"
	}
	return 0, ""
}

// framingValue returns a framing header's value without its surrounding
// spaces. Tabs are refused there: some parsers do not treat them as
// whitespace, which makes "Transfer-Encoding:\tchunked" ambiguous.
func framingValue(v []byte) ([]byte, bool) {
	if bytes.IndexByte(v, '\t') >= 0 {
		return nil, false
	}
	v = bytes.Trim(v, " ")
	return v, len(v) > 0
}

// parseDecimal reads a Content-Length: ASCII digits only (no sign), at most
// 2^63-1.
func parseDecimal(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// asciiEqualFold compares b with the lower- or mixed-case ASCII s, folding
// ASCII letters only: bytes.EqualFold would also match non-ASCII runes such
// as the Kelvin sign, which net/http does not.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func validToken(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || !tokenChars[c] {
			return false
		}
	}
	return true
}

func validValue(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

var tokenChars = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return
}()
