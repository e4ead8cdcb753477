package h2guard

import (
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// fieldCheck decodes every header block the client sends, in order, with
// an HPACK decoder of its own: HPACK is stateful, so this decoder's
// dynamic table stays the server's only if it sees every block the server
// sees. When that can no longer be known (a frame the guard did not read
// where a block goes on, a decoding error), it stops checking: the server
// ends the connection on the same input.
type fieldCheck struct {
	dec       *hpack.Decoder
	lost      bool   // the decoder no longer follows the server's
	inBlock   bool   // a HEADERS frame came without END_HEADERS
	stream    uint32 // the stream of the block being read
	malformed bool   // the block holds a field RFC 9113 §8.2.2 forbids
}

func (f *fieldCheck) init(l Limits) {
	f.dec = hpack.NewDecoder(l.HeaderTableSize, f.see)
	f.dec.SetMaxStringLength(l.MaxHeaderString)
}

// reading reports whether header blocks are still checked.
func (f *fieldCheck) reading() bool { return !f.lost }

// see judges one decoded field. Names arrive lowercase (an uppercase name
// is the server's own stream error).
func (f *fieldCheck) see(hf hpack.HeaderField) {
	switch hf.Name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		f.malformed = true
	case "te":
		f.malformed = f.malformed || hf.Value != "trailers"
	}
}

// frameNotRead notes a frame that passed unread: a header block frame
// (over the frame size), or any other frame inside a block, is an error
// that ends the connection at the server, and the guard's decoder can no
// longer follow.
func (f *fieldCheck) frameNotRead(typ http2.FrameType) {
	if f.inBlock || typ == http2.FrameHeaders || typ == http2.FrameContinuation {
		f.lost = true
	}
}

// block reads one HEADERS or CONTINUATION payload and reports whether it
// ends a malformed header block.
func (f *fieldCheck) block(typ http2.FrameType, flags http2.Flags, stream uint32, payload []byte) bool {
	frag, ok := f.fragment(typ, flags, stream, payload)
	if !ok {
		f.lost = true
		return false
	}
	if _, err := f.dec.Write(frag); err != nil {
		f.lost = true
		return false
	}
	if !flags.Has(http2.FlagHeadersEndHeaders) {
		return false
	}
	f.inBlock = false
	if err := f.dec.Close(); err != nil {
		f.lost = true
		return false
	}
	return f.malformed
}

// fragment finds the header block fragment in a frame's payload (§6.2,
// §6.10); ok is false for a frame out of order or malformed, which the
// server refuses as a connection error.
func (f *fieldCheck) fragment(typ http2.FrameType, flags http2.Flags, stream uint32, p []byte) (frag []byte, ok bool) {
	if typ == http2.FrameContinuation {
		return p, f.inBlock && stream == f.stream
	}
	if f.inBlock {
		return nil, false
	}
	f.inBlock, f.stream, f.malformed = true, stream, false
	pad := 0
	if flags.Has(http2.FlagHeadersPadded) {
		if len(p) < 1 {
			return nil, false
		}
		pad, p = int(p[0]), p[1:]
	}
	if flags.Has(http2.FlagHeadersPriority) {
		if len(p) < 5 {
			return nil, false
		}
		p = p[5:]
	}
	if pad > len(p) {
		return nil, false
	}
	return p[:len(p)-pad], true
}

// refusedName is a field name the server refuses as a stream error
// PROTOCOL_ERROR: uppercase, which HTTP/2 forbids (§8.2.1).
const refusedName = "Malformed-Request"

// refusal is a CONTINUATION frame that ends the header block of stream
// with one field, refusedName, as a literal never indexed (RFC 7541
// §6.2.3): it leaves the HPACK dynamic table alone, so every later block
// of the connection decodes as the client encoded it.
func refusal(stream uint32) []byte {
	field := []byte{0x10, byte(len(refusedName))}
	field = append(field, refusedName...)
	field = append(field, 0) // an empty value
	return append(frameHeader(len(field), http2.FrameContinuation, http2.FlagContinuationEndHeaders, stream), field...)
}
