package httpguard

import (
	"bytes"
	"net/http"
)

// tracker is a state machine over the request byte stream of one HTTP/1.1
// connection. It only observes; it never changes a byte.
type tracker struct {
	state    int
	buf      []byte // the head or chunk-size line being collected
	remain   int64  // bytes left in a fixed-length body or chunk
	heads    int    // request heads seen that reach the handler
	maxHead  int
	firstBad int // index of the first bad request, -1 if none
	bad      Verdict
}

const (
	stateHead = iota
	stateBody
	stateChunkLine
	stateChunkData
	stateChunkCRLF
	stateTrailer
	statePassthrough // HTTP/2, an upgrade, or framing already lost
)

// maxChunkLine bounds a chunk-size line with its extensions. net/http's own
// limit is 4096; the guard refuses anything near it.
const maxChunkLine = 4096

func (t *tracker) feed(p []byte) {
	for len(p) > 0 {
		switch t.state {
		case statePassthrough:
			return
		case stateHead:
			p = t.feedHead(p)
		case stateBody, stateChunkData:
			n := int64(len(p))
			if n > t.remain {
				n = t.remain
			}
			t.remain -= n
			p = p[n:]
			if t.remain == 0 {
				if t.state == stateBody {
					t.state = stateHead
				} else {
					t.state = stateChunkCRLF
				}
			}
		case stateChunkCRLF, stateChunkLine, stateTrailer:
			p = t.feedLine(p)
		}
	}
}

// feedHead collects a request head up to its blank line, then judges it.
func (t *tracker) feedHead(p []byte) []byte {
	// Empty lines before a request line are allowed (RFC 9112 section 2.2).
	if len(t.buf) == 0 {
		for len(p) > 0 && (p[0] == '\r' || p[0] == '\n') {
			p = p[1:]
		}
		if len(p) == 0 {
			return nil
		}
	}
	start := len(t.buf)
	t.buf = append(t.buf, p...)
	// Search from a little before the new bytes: the terminator may straddle.
	from := max(start-3, 0)
	end := bytes.Index(t.buf[from:], []byte("\r\n\r\n"))
	if end < 0 {
		if i := bytes.Index(t.buf[from:], []byte("\n\n")); i >= 0 {
			t.reject(http.StatusBadRequest, "bare LF line ending in request head")
			return nil
		}
		if len(t.buf) > t.maxHead {
			t.reject(http.StatusRequestHeaderFieldsTooLarge, "request header fields too large")
		}
		return nil
	}
	headLen := from + end + 4
	if headLen > t.maxHead {
		t.reject(http.StatusRequestHeaderFieldsTooLarge, "request header fields too large")
		return nil
	}
	rest := p[len(p)-(len(t.buf)-headLen):]
	head := t.buf[:headLen]
	t.judgeHead(head)
	t.buf = t.buf[:0]
	return rest
}

// feedLine handles the line-oriented parts of a chunked body.
func (t *tracker) feedLine(p []byte) []byte {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		t.buf = append(t.buf, p...)
		if len(t.buf) > maxChunkLine {
			t.reject(http.StatusBadRequest, "chunk line too long")
		}
		return nil
	}
	t.buf = append(t.buf, p[:i+1]...)
	p = p[i+1:]
	line := t.buf
	t.buf = t.buf[:0]
	if len(line) > maxChunkLine {
		t.reject(http.StatusBadRequest, "chunk line too long")
		return nil
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		t.reject(http.StatusBadRequest, "bare LF line ending in chunked body")
		return nil
	}
	line = line[:len(line)-2]
	switch t.state {
	case stateChunkCRLF:
		if len(line) != 0 {
			t.reject(http.StatusBadRequest, "chunk data longer than its size")
			return nil
		}
		t.state = stateChunkLine
	case stateChunkLine:
		size, ok := parseChunkSize(line)
		if !ok {
			t.reject(http.StatusBadRequest, "malformed chunk size")
			return nil
		}
		if size == 0 {
			t.state = stateTrailer
		} else {
			t.remain, t.state = size, stateChunkData
		}
	case stateTrailer:
		if len(line) == 0 {
			t.state = stateHead
		}
	}
	return p
}

// parseChunkSize reads the hex size before any extension.
func parseChunkSize(line []byte) (int64, bool) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimRight(line, " \t")
	if len(line) == 0 || len(line) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range line {
		switch {
		case '0' <= c && c <= '9':
			n = n<<4 | int64(c-'0')
		case 'a' <= c && c <= 'f':
			n = n<<4 | int64(c-'a'+10)
		case 'A' <= c && c <= 'F':
			n = n<<4 | int64(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

func (t *tracker) reject(status int, reason string) {
	if t.firstBad < 0 {
		t.firstBad = t.heads
		t.bad = Verdict{Status: status, Reason: reason}
	}
	t.state = statePassthrough
	t.buf = nil
}
