package httpguard

import (
	"bytes"
	"net/http"
)

// tracker is a state machine over the request byte stream of one HTTP/1.1
// connection. It only observes; it never changes a byte. Its decisions depend
// only on the byte sequence, never on how the reads split it.
type tracker struct {
	state    int
	buf      []byte // the part of a line collected from earlier reads
	size     int    // bytes of the current head or trailer section so far
	remain   int64  // bytes left in a fixed-length body or chunk
	heads    int    // request heads seen that reach the handler
	body     int    // handler index the current body belongs to
	maxHead  int
	firstBad int // index of the first bad request, -1 if none
	bad      Verdict
	h        headState
}

// headState is what the lines of the current head established so far.
type headState struct {
	lines          int // lines seen, the request line included
	http10         bool
	options        bool // "OPTIONS *": net/http answers it without the handler
	pri            bool // "PRI * HTTP/2.0": the HTTP/2 preface
	contentLengths int
	length         int64
	transferEnc    int
	upgradeTo      string // the first Upgrade value
	connUpgrade    bool   // Connection lists "upgrade"
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

// maxChunkLine bounds a chunk-size line (with its extensions and CRLF) and a
// trailer line. net/http's own limit is 4096 bytes and it fails the body
// there; the guard refuses well before, so a line net/http refuses is always
// one the guard has already judged when the handler sees the body error.
const maxChunkLine = 1024

// maxTrailer bounds the trailer section. net/http refuses trailers that do
// not fit its 4 KiB read buffer.
const maxTrailer = 2048

// DefaultMaxHead is the head limit used when NewConn gets none.
const DefaultMaxHead = 64 << 10

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

// nextLine takes bytes from p up to and including the next LF. It returns
// the complete line (its LF included, earlier reads' bytes in front) and the
// rest of p, or ok false when p ends before the line does; the partial line
// is then kept in t.buf. The line aliases p or t.buf and is valid until the
// next call.
func (t *tracker) nextLine(p []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		t.buf = append(t.buf, p...)
		return nil, nil, false
	}
	if len(t.buf) == 0 {
		return p[:i+1], p[i+1:], true
	}
	t.buf = append(t.buf, p[:i+1]...)
	line = t.buf
	t.buf = t.buf[:0]
	return line, p[i+1:], true
}

// lineBytes is how many bytes nextLine would add to the current line.
func lineBytes(p []byte) int {
	if i := bytes.IndexByte(p, '\n'); i >= 0 {
		return i + 1
	}
	return len(p)
}

// feedHead collects a request head line by line and judges each line as it
// completes; the blank line ends the head.
func (t *tracker) feedHead(p []byte) []byte {
	// Empty lines before a request line are tolerated (RFC 9112 section
	// 2.2); net/http skips a few after a POST and refuses the rest itself.
	if t.size == 0 {
		for len(p) > 0 && (p[0] == '\r' || p[0] == '\n') {
			p = p[1:]
		}
		if len(p) == 0 {
			return nil
		}
	}
	n := lineBytes(p)
	if t.size+n > t.maxHead {
		t.reject(http.StatusRequestHeaderFieldsTooLarge, "request header fields too large")
		return nil
	}
	t.size += n
	line, rest, ok := t.nextLine(p)
	if !ok {
		return nil
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		t.reject(http.StatusBadRequest, "bare LF line ending in request head")
		return nil
	}
	t.headLine(line[:len(line)-2])
	return rest
}

// feedLine handles the line-oriented parts of a chunked body.
func (t *tracker) feedLine(p []byte) []byte {
	n := lineBytes(p)
	if len(t.buf)+n > maxChunkLine {
		t.reject(http.StatusBadRequest, "chunk line too long")
		return nil
	}
	if t.state == stateTrailer {
		if t.size+n > maxTrailer {
			t.reject(http.StatusBadRequest, "trailer section too long")
			return nil
		}
		t.size += n
	}
	line, rest, ok := t.nextLine(p)
	if !ok {
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
			t.state, t.size = stateTrailer, 0
		} else {
			t.remain, t.state = size, stateChunkData
		}
	case stateTrailer:
		if len(line) == 0 {
			t.state, t.size = stateHead, 0
			return rest
		}
		if status, reason := checkField(line); status != 0 {
			t.reject(status, reason)
			return nil
		}
	}
	return rest
}

// parseChunkSize reads the hex size before any extension. It refuses
// whitespace before the extension, which net/http refuses too.
func parseChunkSize(line []byte) (int64, bool) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
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

// reject records the verdict for the request being read: while in a head,
// the request of that head; while in a body, the request owning the body
// (requests after it are bad too). Framing is lost, so tracking stops.
func (t *tracker) reject(status int, reason string) {
	if t.firstBad < 0 {
		if t.state == stateHead {
			t.firstBad = t.heads
		} else {
			t.firstBad = t.body
		}
		t.bad = Verdict{Status: status, Reason: reason}
	}
	t.state = statePassthrough
	t.buf = nil
}
