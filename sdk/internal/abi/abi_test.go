//go:build !wasip1

package abi

import (
	"testing"
	"unsafe"
)

// The examples in the doc comments, checked.
func TestPackedValues(t *testing.T) {
	for _, tc := range []struct {
		v            CountLen
		count, bytes uint32
	}{{0, 0, 0}, {4294967303, 1, 7}, {8589934600, 2, 8}, {8589934620, 2, 28}} {
		if tc.v.Count() != tc.count || tc.v.Len() != tc.bytes {
			t.Errorf("CountLen(%d) = %d, %d", uint64(tc.v), tc.v.Count(), tc.v.Len())
		}
	}
	for _, tc := range []struct {
		v   EOFLen
		eof bool
		n   uint32
	}{{16, false, 16}, {4294967301, true, 5}, {4294967296, true, 0}} {
		if tc.v.EOF() != tc.eof || tc.v.Len() != tc.n {
			t.Errorf("EOFLen(%d) = %v, %d", uint64(tc.v), tc.v.EOF(), tc.v.Len())
		}
	}
	for _, tc := range []struct {
		ctx  uint32
		next bool
		v    CtxNext
	}{{0, false, 0}, {0, true, 1}, {16, true, 68719476737}, {16, false, 68719476736}, {0xffffffff, true, 0xffffffff00000001}} {
		v := PackCtxNext(tc.ctx, tc.next)
		if v != tc.v || v.Ctx() != tc.ctx || v.Next() != tc.next {
			t.Errorf("PackCtxNext(%d, %v) = %d (ctx %d next %v), want %d", tc.ctx, tc.next, uint64(v), v.Ctx(), v.Next(), uint64(tc.v))
		}
	}
}

// The in-memory host writes nothing when the value does not fit, and
// always returns the full length.
func TestStubBufferProtocol(t *testing.T) {
	prev := Mem
	defer func() { Mem = prev }()
	Mem = NewHost()
	Mem.Headers[HeaderResponse]["Set-Cookie"] = []string{"a=b", "c=d"}

	buf := []byte("xxxxxxxxxx")
	if cl := GetHeaderValues(HeaderResponse, "set-cookie", unsafe.SliceData(buf), 7); cl != 2<<32|8 || string(buf) != "xxxxxxxxxx" {
		t.Fatalf("short buffer: %d %q", uint64(cl), buf)
	}
	if cl := GetHeaderValues(HeaderResponse, "SET-COOKIE", unsafe.SliceData(buf), 10); cl != 2<<32|8 || string(buf[:8]) != "a=b\x00c=d\x00" {
		t.Fatalf("%d %q", uint64(cl), buf)
	}
	if cl := GetHeaderValues(HeaderResponse, "absent", nil, 0); cl != 0 {
		t.Fatalf("absent: %d", uint64(cl))
	}
	if n := GetURI(nil, 0); n != 1 {
		t.Fatalf("length query: %d", n)
	}
	Mem.Bodies[BodyRequest] = []byte("abcde")
	Mem.Phase = PhaseRequest
	if el := ReadBody(BodyRequest, unsafe.SliceData(buf), 3); el != 3 || string(buf[:3]) != "abc" {
		t.Fatalf("read 1: %d", uint64(el))
	}
	if el := ReadBody(BodyRequest, unsafe.SliceData(buf), 10); el != 1<<32|2 || string(buf[:2]) != "de" {
		t.Fatalf("read 2: %d", uint64(el))
	}
	if el := ReadBody(BodyRequest, unsafe.SliceData(buf), 10); el != 1<<32 {
		t.Fatalf("read 3: %d", uint64(el))
	}
}

// A stub host without FeatureHoldsResponseHead behaves as http-wasm-host-go:
// a response header changed in handle_response traps unless buffer_response
// is enabled, so sluicetest catches a filter that would fail there.
func TestStubWithoutHeldHeadRefusesLateHeaders(t *testing.T) {
	prev := Mem
	defer func() { Mem = prev }()
	setLate := func(h *Host) (trapped bool) {
		Mem = h
		defer func() { _, trapped = recover().(*Trap) }()
		SetHeaderValue(HeaderResponse, "X-Late", "1")
		return false
	}
	for _, tc := range []struct {
		name                string
		supported, features uint32
		trap                bool
	}{
		{"Sluice", FeatureBufferResponse | FeatureHoldsResponseHead, 0, false},
		{"other host", FeatureBufferResponse, 0, true},
		{"other host, buffered", FeatureBufferResponse, FeatureBufferResponse, false},
	} {
		h := NewHost()
		h.Phase, h.Supported, h.Features = PhaseResponse, tc.supported, tc.features
		if got := setLate(h); got != tc.trap {
			t.Errorf("%s: trapped %v, want %v", tc.name, got, tc.trap)
		}
	}
}
