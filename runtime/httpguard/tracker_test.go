package httpguard

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// outcome is everything observable about a tracker after a stream.
type outcome struct {
	firstBad int
	bad      Verdict
	heads    int
	state    int
}

func newTracker(maxHead int) *tracker {
	return &tracker{maxHead: maxHead, firstBad: -1}
}

func (t *tracker) outcome() outcome {
	return outcome{t.firstBad, t.bad, t.heads, t.state}
}

// feedSplits feeds in to a fresh tracker in pieces cut at the given offsets.
func feedSplits(maxHead int, in []byte, cuts []int) outcome {
	t := newTracker(maxHead)
	prev := 0
	for _, c := range cuts {
		// A copy per piece, as a real Read would fill a reused buffer: the
		// tracker must not keep references into p.
		piece := append([]byte(nil), in[prev:c]...)
		t.feed(piece)
		clear(piece)
		prev = c
	}
	t.feed(append([]byte(nil), in[prev:]...))
	return t.outcome()
}

func randomCuts(r *rand.Rand, n int) []int {
	if n < 2 {
		return nil
	}
	k := r.IntN(min(n, 12))
	cuts := make([]int, 0, k)
	for range k {
		cuts = append(cuts, 1+r.IntN(n-1))
	}
	slices.Sort(cuts)
	return cuts
}

func byteCuts(n int) []int {
	cuts := make([]int, 0, n)
	for i := 1; i < n; i++ {
		cuts = append(cuts, i)
	}
	return cuts
}

// checkSplitInvariant feeds in whole, a byte at a time and in random splits
// and returns the whole-feed outcome after checking the others match it.
func checkSplitInvariant(t testing.TB, maxHead int, in []byte, seed uint64) outcome {
	t.Helper()
	whole := feedSplits(maxHead, in, nil)
	if got := feedSplits(maxHead, in, byteCuts(len(in))); got != whole {
		t.Fatalf("byte-at-a-time outcome %+v, whole-stream outcome %+v", got, whole)
	}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	for range 20 {
		cuts := randomCuts(r, len(in))
		if got := feedSplits(maxHead, in, cuts); got != whole {
			t.Fatalf("split at %v: outcome %+v, whole-stream outcome %+v", cuts, got, whole)
		}
	}
	return whole
}

const testMaxHead = 1024

const (
	get    = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	postCL = "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
	clte   = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG"
)

// chunked builds a chunked POST with the given chunk lines and data.
func chunked(body string) string {
	return "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + body
}

// withHeader builds a GET carrying the given extra header lines (CRLF added).
func withHeader(lines ...string) string {
	var b strings.Builder
	b.WriteString("GET / HTTP/1.1\r\nHost: a\r\n")
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

type trackerCase struct {
	name    string
	in      string
	maxHead int // testMaxHead when 0
	status  int // 0: no verdict
	index   int // index of the first bad request when status != 0
	heads   int // -1: don't check
	pass    bool
}

var trackerCases = []trackerCase{
	// Well-formed streams.
	{name: "get", in: get, heads: 1},
	{name: "get http10", in: "GET / HTTP/1.0\r\n\r\n", heads: 1},
	{name: "post content-length", in: postCL, heads: 1},
	{name: "post content-length leading zeros", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 005\r\n\r\nhello" + get, heads: 2},
	{name: "content-length zero", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n" + get, heads: 2},
	{name: "content-length surrounding spaces", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:   5  \r\n\r\nhello" + get, heads: 2},
	{name: "body bytes look like a bad head", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 41\r\n\r\n" +
		"GET / HTTP/1.1\nTransfer-Encoding: x\r\n\n\n\x00\x01" + get, heads: 2},
	{name: "chunked with extensions and trailers", in: chunked(
		"5;name=value;flag\r\nhello\r\n1a;q=\"a b\"\r\nabcdefghijklmnopqrstuvwxyz\r\n"+
			"A\r\n0123456789\r\n0;last\r\nX-Sum: 123\r\nY-Other: a b\tc\r\n\r\n") + get, heads: 2},
	{name: "chunked no trailers", in: chunked("3\r\nabc\r\n0\r\n\r\n") + get, heads: 2},
	{name: "chunked uppercase hex and value case", in: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked \r\n\r\nF\r\n0123456789abcde\r\n0\r\n\r\n", heads: 1},
	{name: "chunk data with CRLF and LF inside", in: chunked("6\r\n\r\n\n\n\r\n\r\n0\r\n\r\n") + get, heads: 2},
	{name: "pipelined three good", in: get + postCL + chunked("1\r\nx\r\n0\r\n\r\n"), heads: 3},
	{name: "leading CRLFs", in: "\r\n\r\n" + get + "\r\n" + postCL + "\r\n\r\n" + get, heads: 3},
	{name: "head exactly maxHead", in: "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 64-23) + "\r\n\r\n", maxHead: 64, heads: 1},
	{name: "options star not counted", in: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n" + get, heads: 1},
	{name: "options star with body", in: "OPTIONS * HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" + get, heads: 1},
	{name: "options path counted", in: "OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n" + get, heads: 2},
	{name: "obs-text in value", in: withHeader("X: caf\xc3\xa9"), heads: 1},
	{name: "partial head", in: "GET / HTTP/1.1\r\nHost: a\r\n", heads: 0},

	// Passthrough.
	{name: "http2 preface", in: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00\n\n\x00\x03\r\n \x7f" + clte,
		heads: 0, pass: true},
	{name: "upgrade", in: "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" +
		"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58\n\n" + clte, heads: 1, pass: true},
	{name: "upgrade after good", in: get + "GET /ws HTTP/1.1\r\nHost: a\r\nupgrade: x\r\nconnection: keep-alive, Upgrade\r\n\r\n\n\n", heads: 2, pass: true},

	// An Upgrade header alone, or an h2c upgrade, is no upgrade (UpgradeOf):
	// what follows is still judged as HTTP/1.1.
	{name: "stray upgrade header", in: "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n" + clte, status: 400, index: 1},
	{name: "h2c upgrade", in: "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n" + clte, status: 400, index: 1},

	// Ambiguous framing.
	{name: "CL.TE", in: clte, status: 400, heads: -1},
	{name: "TE.CL", in: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", status: 400},
	{name: "duplicate CL equal", in: withHeader("Content-Length: 0", "Content-Length: 0"), status: 400},
	{name: "duplicate CL differing", in: withHeader("Content-Length: 0", "Content-Length: 5"), status: 400},
	{name: "CL list", in: withHeader("Content-Length: 5, 5"), status: 400},
	{name: "CL plus", in: withHeader("Content-Length: +5"), status: 400},
	{name: "CL minus zero", in: withHeader("Content-Length: -0"), status: 400},
	{name: "CL hex", in: withHeader("Content-Length: 0x5"), status: 400},
	{name: "CL empty", in: withHeader("Content-Length:"), status: 400},
	{name: "CL tab", in: withHeader("Content-Length:\t5"), status: 400},
	{name: "CL overflow", in: withHeader("Content-Length: 9223372036854775808"), status: 400},
	{name: "TE xchunked", in: withHeader("Transfer-Encoding: xchunked"), status: 400},
	{name: "TE identity", in: withHeader("Transfer-Encoding: identity"), status: 400},
	{name: "TE chunked, identity", in: withHeader("Transfer-Encoding: chunked, identity"), status: 400},
	{name: "TE listed twice", in: withHeader("Transfer-Encoding: chunked", "Transfer-Encoding: chunked"), status: 400},
	{name: "TE space before colon", in: withHeader("Transfer-Encoding : chunked"), status: 400},
	{name: "TE tab before value", in: withHeader("Transfer-Encoding:\tchunked"), status: 400},
	{name: "TE kelvin sign", in: withHeader("Transfer-Encoding: chun\u212aed"), status: 400},
	{name: "TE empty", in: withHeader("Transfer-Encoding: "), status: 400},
	{name: "TE obs-folded", in: withHeader("X: a", "Transfer-Encoding:", " chunked"), status: 400},
	{name: "TE in HTTP/1.0", in: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400},

	// Malformed heads.
	{name: "obs-fold", in: withHeader("X: a", " b"), status: 400},
	{name: "obs-fold tab", in: withHeader("X: a", "\tb"), status: 400},
	{name: "first header folded", in: "GET / HTTP/1.1\r\n Host: a\r\n\r\n", status: 400},
	{name: "bare LF ends head", in: "GET / HTTP/1.1\r\nHost: a\n\n", status: 400},
	{name: "bare LF then CRLF", in: "GET / HTTP/1.1\r\nHost: a\n\r\n", status: 400},
	{name: "bare LF after request line", in: "GET / HTTP/1.1\nHost: a\r\n\r\n", status: 400},
	{name: "bare LF hides TE", in: "POST / HTTP/1.1\nTransfer-Encoding: chunked\r\nHost: a\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", status: 400},
	{name: "bare LF whole head", in: "GET / HTTP/1.1\nHost: a\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
	{name: "CRLF then bare LF", in: "GET / HTTP/1.1\r\nHost: a\r\n\n", status: 400},
	{name: "space in header name", in: withHeader("Content Length: 5"), status: 400},
	{name: "empty header name", in: withHeader(": x"), status: 400},
	{name: "no colon", in: withHeader("Foo"), status: 400},
	{name: "NUL in value", in: withHeader("X: a\x00b"), status: 400},
	{name: "DEL in value", in: withHeader("X: a\x7fb"), status: 400},
	{name: "CR in value", in: withHeader("X: a\rTransfer-Encoding: chunked"), status: 400},
	{name: "CR in request line", in: "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
	{name: "non-ascii header name", in: withHeader("T\xc3\xa9: x"), status: 400},
	{name: "head over maxHead", in: withHeader("X: " + strings.Repeat("a", 2000)), status: 431},
	{name: "head one over maxHead", in: "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 64-23) + "\r\n\r\n", maxHead: 63, status: 431},
	{name: "unterminated head over maxHead", in: "GET /" + strings.Repeat("a", 2000), status: 431},
	{name: "bad line beyond maxHead", in: withHeader("X: "+strings.Repeat("a", 2000), "Bad Name: x"), status: 431},
	{name: "bad line before maxHead", in: withHeader("Bad Name: x", "X: "+strings.Repeat("a", 2000)), status: 400},
	{name: "PRI with header fields", in: "PRI * HTTP/2.0\r\nHost: a\r\n\r\n", status: 400, heads: 0},

	// Malformed chunked bodies: charged to the request owning the body.
	{name: "chunk size not hex", in: chunked("zz\r\n"), status: 400},
	{name: "chunk size 0x", in: chunked("0x5\r\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "chunk size space", in: chunked("5 \r\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "chunk size space before ext", in: chunked("5 ;a=b\r\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "chunk size empty", in: chunked("\r\n"), status: 400},
	{name: "chunk size too many digits", in: chunked("0000000000000005\r\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "chunk size negative", in: chunked("-5\r\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "chunk data longer than size", in: chunked("5\r\nhelloX\r\n0\r\n\r\n"), status: 400},
	{name: "chunk line bare LF", in: chunked("5\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "chunk data bare LF", in: chunked("5\r\nhello\n0\r\n\r\n"), status: 400},
	{name: "last chunk bare LF", in: chunked("0\n\r\n"), status: 400},
	{name: "trailer end bare LF", in: chunked("0\r\n\n"), status: 400},
	{name: "chunk extension too long", in: chunked("5;" + strings.Repeat("x", 70<<10) + "\r\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "chunk line unterminated too long", in: chunked(strings.Repeat("0", 3000)), status: 400},
	{name: "trailer obs-fold", in: chunked("0\r\nX: a\r\n b\r\n\r\n"), status: 400},
	{name: "trailer bare LF", in: chunked("0\r\nX: a\nY: b\r\n\r\n"), status: 400},
	{name: "trailer no colon", in: chunked("0\r\nfoo\r\n\r\n"), status: 400},
	{name: "trailer too long", in: chunked("0\r\n" + strings.Repeat("X: "+strings.Repeat("a", 500)+"\r\n", 5) + "\r\n"), status: 400},

	// Position of the first bad request.
	{name: "pipelined third bad", in: get + postCL + clte, status: 400, index: 2},
	{name: "pipelined bad chunk in second", in: get + chunked("5\nhello\r\n0\r\n\r\n") + get, status: 400, index: 1},
	{name: "bad after chunked with trailers", in: chunked("1;e=1\r\nx\r\n0\r\nT: 1\r\n\r\n") + postCL + withHeader("X: a", " b"), status: 400, index: 2},
	{name: "bad after options star", in: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n" + get + clte, status: 400, index: 1},
	{name: "bad options star", in: get + "OPTIONS * HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get, status: 400, index: 1},
	{name: "bad after leading CRLF", in: get + "\r\n\r\n" + withHeader("Content-Length: 1", "Content-Length: 1"), status: 400, index: 1},
	{name: "bad after body", in: postCL + get + clte, status: 400, index: 2},
	{name: "431 third", in: get + get + withHeader("X: "+strings.Repeat("a", 2000)), status: 431, index: 2},
}

func TestTracker(t *testing.T) {
	for i, tc := range trackerCases {
		t.Run(tc.name, func(t *testing.T) {
			maxHead := tc.maxHead
			if maxHead == 0 {
				maxHead = testMaxHead
			}
			got := checkSplitInvariant(t, maxHead, []byte(tc.in), uint64(i))
			if tc.status == 0 {
				if got.firstBad != -1 {
					t.Fatalf("verdict %+v for request %d, want none", got.bad, got.firstBad)
				}
				if tc.heads >= 0 && got.heads != tc.heads {
					t.Errorf("heads = %d, want %d", got.heads, tc.heads)
				}
				if pass := got.state == statePassthrough; pass != tc.pass {
					t.Errorf("passthrough = %v, want %v", pass, tc.pass)
				}
				return
			}
			if got.bad.Status != tc.status || got.firstBad != tc.index {
				t.Fatalf("verdict %+v for request %d, want status %d for request %d", got.bad, got.firstBad, tc.status, tc.index)
			}
			if got.bad.Reason == "" {
				t.Errorf("verdict without a reason")
			}
			if got.state != statePassthrough {
				t.Errorf("state %d after a verdict, want passthrough", got.state)
			}
			if tc.heads > 0 && got.heads != tc.heads {
				t.Errorf("heads = %d, want %d", got.heads, tc.heads)
			}
		})
	}
}

func TestConnVerdict(t *testing.T) {
	tr := newTracker(testMaxHead)
	c := &Conn{t: *tr}
	c.t.feed([]byte(get + get + clte + get))
	for i, want := range []int{0, 0, 400, 400, 400} {
		if got := c.Verdict(i).Status; got != want {
			t.Errorf("Verdict(%d).Status = %d, want %d", i, got, want)
		}
	}
	if v := c.Verdict(2); v.OK() || v.Reason == "" {
		t.Errorf("Verdict(2) = %+v, want a refusal with a reason", v)
	}
}

func TestNewConnDefaultMaxHead(t *testing.T) {
	c := NewConn(nil, 0)
	if c.t.maxHead != DefaultMaxHead {
		t.Fatalf("maxHead = %d, want DefaultMaxHead", c.t.maxHead)
	}
	c.t.feed([]byte(withHeader("X: " + strings.Repeat("a", 4000))))
	if v := c.Verdict(0); !v.OK() {
		t.Fatalf("Verdict(0) = %+v with the default limit", v)
	}
}

func TestParseDecimal(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "7": 7, "0010": 10, "9223372036854775807": 1<<63 - 1} {
		if n, ok := parseDecimal([]byte(in)); !ok || n != want {
			t.Errorf("parseDecimal(%q) = %d, %v", in, n, ok)
		}
	}
	for _, in := range []string{"", "+1", "-1", "1 ", "1.0", "9223372036854775808", "99999999999999999999", "１"} {
		if n, ok := parseDecimal([]byte(in)); ok {
			t.Errorf("parseDecimal(%q) = %d, true", in, n)
		}
	}
}

func TestBodyLengthExact(t *testing.T) {
	// The Content-Length body swallows exactly its bytes: one byte less
	// leaves a byte that makes the next head's request line wrong, one more
	// eats into it; only the exact length leaves the next head intact.
	body := "GET / HTTP/1.1\nX: y\r\n\n"
	in := "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body + clte
	got := checkSplitInvariant(t, testMaxHead, []byte(in), 7)
	if got.firstBad != 1 || got.bad.Reason != "both Content-Length and Transfer-Encoding" {
		t.Fatalf("outcome %+v, want the CL.TE request (1) refused for its framing", got)
	}
}
