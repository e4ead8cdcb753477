package httpguard

import (
	"strings"
	"testing"
)

// typicalGet is a browser-like GET head of about 400 bytes.
var typicalGet = "GET /api/v1/orders/12345?include=items&expand=customer HTTP/1.1\r\n" +
	"Host: api.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: application/json, text/plain, */*\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abc\r\n" +
	"Connection: keep-alive\r\n" +
	"X-Request-Id: 7f9c2ba4\r\n" +
	"\r\n"

func BenchmarkTracker(b *testing.B) {
	head := []byte(typicalGet)
	b.Run("whole", func(b *testing.B) {
		t := newTracker(DefaultMaxHead)
		b.SetBytes(int64(len(head)))
		b.ReportAllocs()
		for b.Loop() {
			t.feed(head)
		}
		if t.firstBad >= 0 {
			b.Fatalf("verdict %+v", t.bad)
		}
	})
	// Split mid-line, as a read boundary often falls: the line buffer is
	// reused, so this does not allocate either once warm.
	b.Run("split", func(b *testing.B) {
		t := newTracker(DefaultMaxHead)
		b.SetBytes(int64(len(head)))
		b.ReportAllocs()
		for b.Loop() {
			t.feed(head[:150])
			t.feed(head[150:])
		}
		if t.firstBad >= 0 {
			b.Fatalf("verdict %+v", t.bad)
		}
	})
}

func TestTypicalGetSize(t *testing.T) {
	if n := len(typicalGet); n < 380 || n > 420 {
		t.Fatalf("typical GET head is %d bytes, want about 400", n)
	}
	if !strings.HasSuffix(typicalGet, "\r\n\r\n") {
		t.Fatal("unterminated head")
	}
}

func TestTrackerNoAllocs(t *testing.T) {
	head := []byte(typicalGet + "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" +
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: 1\r\n\r\n")
	tr := newTracker(DefaultMaxHead)
	tr.feed(head[:100])
	tr.feed(head[100:]) // warm the line buffer
	allocs := testing.AllocsPerRun(100, func() {
		tr.feed(head[:100])
		tr.feed(head[100:])
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per stream", allocs)
	}
	if tr.firstBad >= 0 {
		t.Fatalf("verdict %+v", tr.bad)
	}
}
