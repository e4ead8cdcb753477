//go:build !wasip1

package sluice

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/sluicegw/sluice/sdk/internal/abi"
)

func TestSplitSeq(t *testing.T) {
	for _, tc := range []struct {
		seq   string
		count uint32
		want  []string
	}{
		{"", 0, nil},
		{"a\x00", 1, []string{"a"}},
		{"a=b\x00c=d\x00", 2, []string{"a=b", "c=d"}},
		{"\x00", 1, []string{""}},
		{"a\x00\x00b\x00", 3, []string{"a", "", "b"}},
		{"unterminated", 1, []string{"unterminated"}},
		{"a\x00b\x00", 1000000, []string{"a", "b"}}, // a count that lies does not over-allocate
	} {
		cl := abi.CountLen(uint64(tc.count)<<32 | uint64(len(tc.seq)))
		if got := splitSeq(cl, []byte(tc.seq)); !slices.Equal(got, tc.want) {
			t.Errorf("splitSeq(%q) = %q, want %q", tc.seq, got, tc.want)
		}
	}
}

// FuzzSplitSeq: whatever bytes a host writes, splitting never panics, and
// a well-formed sequence round-trips.
func FuzzSplitSeq(f *testing.F) {
	f.Add([]byte("a\x00b\x00"), uint32(2))
	f.Add([]byte("\x00\x00"), uint32(1))
	f.Add([]byte("abc"), uint32(0xffffffff))
	f.Fuzz(func(t *testing.T, seq []byte, count uint32) {
		cl := abi.CountLen(uint64(count)<<32 | uint64(len(seq)))
		got := splitSeq(cl, seq)
		if count == 0 || len(seq) == 0 {
			if got != nil {
				t.Fatalf("empty sequence gave %q", got)
			}
			return
		}
		if len(got) > len(seq) {
			t.Fatalf("%d strings from %d bytes", len(got), len(seq))
		}
		if seq[len(seq)-1] == 0 {
			if joined := strings.Join(got, "\x00") + "\x00"; joined != string(seq) {
				t.Fatalf("round trip %q != %q", joined, seq)
			}
		}
		first, _ := cutNUL(seq)
		if !bytes.Equal(first, []byte(got[0])) {
			t.Fatalf("first %q != %q", first, got[0])
		}
	})
}

func withMem(t testing.TB) *abi.Host {
	prev := abi.Mem
	t.Cleanup(func() { abi.Mem = prev })
	abi.Mem = abi.NewHost()
	abi.Mem.Phase = abi.PhaseRequest
	return abi.Mem
}

// A header read allocates only the string it returns; a miss allocates
// nothing. (The in-memory host allocates nothing for canonical names.)
func TestHeaderGetAllocs(t *testing.T) {
	m := withMem(t)
	m.Headers[abi.HeaderRequest]["X-Request-Id"] = []string{"0af7651916cd43dd8448eb211c80319c"}
	h := theRequest.Header()
	if n := testing.AllocsPerRun(100, func() { h.Get("X-Request-Id") }); n > 1 {
		t.Errorf("hit: %v allocs", n)
	}
	if n := testing.AllocsPerRun(100, func() { h.Get("X-Absent") }); n != 0 {
		t.Errorf("miss: %v allocs", n)
	}
	if n := testing.AllocsPerRun(100, func() { theRequest.Method() }); n != 0 {
		t.Errorf("method: %v allocs", n)
	}
}

func BenchmarkHeaderGet(b *testing.B) {
	m := withMem(b)
	m.Headers[abi.HeaderRequest]["X-Request-Id"] = []string{"0af7651916cd43dd8448eb211c80319c"}
	h := theRequest.Header()
	b.ReportAllocs()
	for b.Loop() {
		h.Get("X-Request-Id")
	}
}
