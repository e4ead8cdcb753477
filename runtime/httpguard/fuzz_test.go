package httpguard

import (
	"net/http"
	"strings"
	"testing"
)

const fuzzMaxHead = 256

// FuzzTracker feeds arbitrary bytes in arbitrary splits: the tracker must
// not panic, must keep its bounds, and must reach the same outcome however
// the stream is split.
func FuzzTracker(f *testing.F) {
	for _, tc := range trackerCases {
		if len(tc.in) <= 4096 {
			f.Add([]byte(tc.in), []byte{3, 1, 4, 1, 5, 9, 2, 6})
		}
	}
	f.Add([]byte(get+postCL+clte), []byte{1})
	f.Add([]byte("GET / HTTP/1.1\r\nX: "+strings.Repeat("a", fuzzMaxHead)+"\r\n\r\n"), []byte{7, 200})
	f.Fuzz(func(t *testing.T, in, splits []byte) {
		whole := feedSplits(fuzzMaxHead, in, nil)
		var cuts []int
		at := 0
		for _, s := range splits {
			at += int(s)
			if at >= len(in) {
				break
			}
			if s > 0 {
				cuts = append(cuts, at)
			}
		}
		if got := feedSplits(fuzzMaxHead, in, cuts); got != whole {
			t.Fatalf("split at %v: outcome %+v, whole-stream outcome %+v", cuts, got, whole)
		}
		if got := feedSplits(fuzzMaxHead, in, byteCuts(len(in))); got != whole {
			t.Fatalf("byte-at-a-time outcome %+v, whole-stream outcome %+v", got, whole)
		}
		switch {
		case whole.firstBad < -1 || whole.firstBad > whole.heads:
			t.Fatalf("firstBad %d with %d heads", whole.firstBad, whole.heads)
		case whole.firstBad >= 0 && (whole.bad.Reason == "" ||
			whole.bad.Status != http.StatusBadRequest && whole.bad.Status != http.StatusRequestHeaderFieldsTooLarge):
			t.Fatalf("verdict %+v", whole.bad)
		case whole.firstBad == -1 && !whole.bad.OK():
			t.Fatalf("verdict %+v without a first bad request", whole.bad)
		}
		tr := newTracker(fuzzMaxHead)
		for _, b := range in {
			tr.feed([]byte{b})
			if len(tr.buf) > max(fuzzMaxHead, maxChunkLine) {
				t.Fatalf("line buffer grew to %d bytes", len(tr.buf))
			}
		}
	})
}
