package h2guard

import (
	"bytes"
	"io"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// BenchmarkRequestFrames: the guard's cost for one gRPC-like request (a
// HEADERS frame of 9 fields, the second time round mostly indexed, and a
// DATA frame), against reading the same bytes straight.
func BenchmarkRequestFrames(b *testing.B) {
	var hb, wire bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	fr := http2.NewFramer(&wire, nil)
	fields := []string{":method", "POST", ":scheme", "http", ":path", "/grpc.testing.TestService/UnaryCall",
		":authority", "127.0.0.1:8080", "content-type", "application/grpc", "te", "trailers",
		"user-agent", "grpc-go/1.85.0", "grpc-timeout", "9999m", "x-request-id", "0123456789abcdef"}
	request := func() []byte {
		hb.Reset()
		wire.Reset()
		for i := 0; i < len(fields); i += 2 {
			enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
		}
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true})
		fr.WriteData(1, true, make([]byte, 64))
		return bytes.Clone(wire.Bytes())
	}
	first, next := request(), request()
	for _, guarded := range []bool{false, true} {
		name := "plain"
		if guarded {
			name = "guarded"
		}
		b.Run(name, func(b *testing.B) {
			src := &repeatReader{first: append([]byte(http2.ClientPreface), first...), next: next}
			var r io.Reader = src
			if guarded {
				r = NewConn(&readerConn{r: src}, testLimits)
			}
			if _, err := io.ReadFull(r, make([]byte, len(http2.ClientPreface)+len(first))); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, len(next))
			b.SetBytes(int64(len(next)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := io.ReadFull(r, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// repeatReader yields first, then next over and over.
type repeatReader struct {
	first, next []byte
	pos         int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if len(r.first) > 0 {
		n := copy(p, r.first)
		r.first = r.first[n:]
		return n, nil
	}
	n := copy(p, r.next[r.pos:])
	r.pos = (r.pos + n) % len(r.next)
	return n, nil
}
