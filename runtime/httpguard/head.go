package httpguard

import (
	"bytes"
	"net/http"
	"strconv"
)

// judgeHead checks one complete request head (ending in CRLF CRLF) and sets
// the state for its body.
func (t *tracker) judgeHead(head []byte) {
	lines := bytes.Split(head[:len(head)-4], []byte("\r\n"))
	reqLine := lines[0]
	if bytes.Equal(reqLine, []byte("PRI * HTTP/2.0")) {
		t.state = statePassthrough // HTTP/2 with prior knowledge: binary frames follow
		return
	}
	http10 := bytes.HasSuffix(reqLine, []byte(" HTTP/1.0"))
	// net/http answers "OPTIONS *" itself without calling the handler, so
	// that head must not count as a handler's request.
	if !bytes.HasPrefix(reqLine, []byte("OPTIONS * ")) {
		defer func() { t.heads++ }()
	}

	var (
		contentLengths int
		length         int64
		transferEnc    int
		chunked        bool
		upgrade        bool
	)
	for _, line := range lines[1:] {
		if bytes.IndexByte(line, '\n') >= 0 {
			t.reject(http.StatusBadRequest, "bare LF line ending in request head")
			return
		}
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			t.reject(http.StatusBadRequest, "obsolete line folding in request head")
			return
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			t.reject(http.StatusBadRequest, "malformed header line")
			return
		}
		name, value := line[:colon], line[colon+1:]
		if !validToken(name) {
			t.reject(http.StatusBadRequest, "invalid character in header name")
			return
		}
		if !validValue(value) {
			t.reject(http.StatusBadRequest, "invalid character in header value")
			return
		}
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			contentLengths++
			v, ok := framingValue(value)
			n, err := strconv.ParseInt(string(v), 10, 64)
			if !ok || err != nil || n < 0 || v[0] == '+' {
				t.reject(http.StatusBadRequest, "invalid Content-Length")
				return
			}
			length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			transferEnc++
			v, ok := framingValue(value)
			if !ok || !bytes.EqualFold(v, []byte("chunked")) {
				t.reject(http.StatusBadRequest, "unsupported Transfer-Encoding")
				return
			}
			chunked = true
		case bytes.EqualFold(name, []byte("Upgrade")):
			upgrade = true
		}
	}
	switch {
	case contentLengths > 1:
		t.reject(http.StatusBadRequest, "more than one Content-Length")
	case transferEnc > 1:
		t.reject(http.StatusBadRequest, "more than one Transfer-Encoding")
	case transferEnc > 0 && contentLengths > 0:
		t.reject(http.StatusBadRequest, "both Content-Length and Transfer-Encoding")
	case transferEnc > 0 && http10:
		t.reject(http.StatusBadRequest, "Transfer-Encoding in an HTTP/1.0 request")
	case upgrade:
		// After a successful upgrade the stream is no longer HTTP; the edge
		// closes the connection when an upgrade is refused, so nothing
		// after this head is trusted as framing.
		t.state = statePassthrough
	case chunked:
		t.state = stateChunkLine
	case length > 0:
		t.state, t.remain = stateBody, length
	default:
		t.state = stateHead
	}
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
