// Package h2guard reads an HTTP/2 client's frames before
// golang.org/x/net/http2's server does and reshapes the two inputs that
// server answers otherwise than RFC 9113 asks:
//
//   - A request with a connection-specific field (Connection, Keep-Alive,
//     Proxy-Connection, Transfer-Encoding, Upgrade) or a TE other than
//     "trailers" is malformed, a stream error PROTOCOL_ERROR (§8.2.2).
//     x/net answers it 400 from a handler of its own (golang/go#26321); a
//     gateway must not answer at all, because an HTTP/1.1 hop behind it
//     would read those fields as framing (request smuggling). The guard
//     ends such a header block with one field x/net itself refuses, so x/net
//     resets the stream (fields.go).
//   - A SETTINGS frame may name a parameter twice; the values apply in
//     order (§6.5.3). x/net closes the connection instead; the guard
//     collapses the frame to one entry per parameter (settings.go).
//
// Every other byte passes through unchanged. It is the HTTP/2 counterpart
// of runtime/httpguard, and like it sits under the engine, not in it: the
// fix stays in Sluice's code, x/net stays unforked (RATIONALE.md, "h2spec").
package h2guard

import (
	"encoding/binary"
	"io"
	"net"

	"golang.org/x/net/http2"
)

// Limits are the server's own settings the guard must agree with to read
// what the server reads.
type Limits struct {
	// MaxFrameSize is the SETTINGS_MAX_FRAME_SIZE the server advertises: a
	// longer frame is the server's FRAME_SIZE_ERROR, passed on unread.
	MaxFrameSize uint32
	// HeaderTableSize is the server's HPACK decoder table size
	// (http2.Server.MaxDecoderHeaderTableSize): the guard decodes every
	// header block with a decoder in the same state as the server's.
	HeaderTableSize uint32
	// MaxHeaderString bounds one decoded name or value, at least the
	// server's own bound (its header list size).
	MaxHeaderString int
}

// frameHeaderLen is the fixed size of an HTTP/2 frame header (§4.1).
const frameHeaderLen = 9

// Conn is a server-side HTTP/2 connection read through the guard. Reads
// must come from one goroutine at a time, as x/net's frame reader does;
// writes pass straight to the wrapped connection.
type Conn struct {
	net.Conn
	limits  Limits
	preface int    // bytes of the client preface still to pass unread
	pass    int    // payload bytes of the current frame to pass unread
	out     []byte // bytes ready for the reader
	buf     []byte // the current frame, when the guard reads it whole
	err     error  // the read error that ends the guard's own reading
	fields  fieldCheck
}

// NewConn guards c from its first byte, the client preface.
func NewConn(c net.Conn, l Limits) *Conn {
	g := &Conn{Conn: c, limits: l, preface: len(http2.ClientPreface)}
	g.fields.init(l)
	return g
}

// Read hands the server the client's bytes, frame by frame.
func (g *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(g.out) == 0 && g.pass == 0 && g.preface == 0 {
		if g.err != nil {
			return 0, g.err
		}
		if err := g.nextFrame(); err != nil {
			g.err = err
			if len(g.out) == 0 {
				return 0, err
			}
		}
	}
	if len(g.out) > 0 {
		n := copy(p, g.out)
		g.out = g.out[n:]
		return n, nil
	}
	// The preface (checked by the server) and payloads the guard does not
	// read go from the connection to the reader's buffer directly.
	left := &g.pass
	if g.preface > 0 {
		left = &g.preface
	}
	if len(p) > *left {
		p = p[:*left]
	}
	n, err := g.Conn.Read(p)
	*left -= n
	return n, err
}

// nextFrame reads the next frame header and decides what to do with the
// frame: pass its payload through, or read it whole and reshape it.
func (g *Conn) nextFrame() error {
	g.buf = g.sized(frameHeaderLen)
	if n, err := io.ReadFull(g.Conn, g.buf); err != nil {
		g.out = g.buf[:n]
		return err
	}
	length := int(g.buf[0])<<16 | int(g.buf[1])<<8 | int(g.buf[2])
	typ, flags := http2.FrameType(g.buf[3]), http2.Flags(g.buf[4])
	stream := binary.BigEndian.Uint32(g.buf[5:9]) & (1<<31 - 1)
	if length > int(g.limits.MaxFrameSize) || !g.reads(typ, flags, stream, length) {
		// Not a frame the guard changes, or one the server refuses
		// (FRAME_SIZE_ERROR, which closes the connection): unread.
		g.fields.frameNotRead(typ)
		g.out, g.pass = g.buf, length
		return nil
	}
	g.buf = g.sized(frameHeaderLen + length)
	if n, err := io.ReadFull(g.Conn, g.buf[frameHeaderLen:]); err != nil {
		g.out = g.buf[:frameHeaderLen+n]
		return err
	}
	g.out = g.reshape(typ, flags, stream, g.buf)
	return nil
}

// reads reports whether the guard reads a frame whole: SETTINGS
// (to collapse repeated parameters) and header blocks (to check fields).
func (g *Conn) reads(typ http2.FrameType, flags http2.Flags, stream uint32, length int) bool {
	switch typ {
	case http2.FrameSettings:
		return stream == 0 && !flags.Has(http2.FlagSettingsAck) && length%settingLen == 0
	case http2.FrameHeaders, http2.FrameContinuation:
		return g.fields.reading()
	}
	return false
}

// reshape returns the bytes the server reads for one whole frame.
func (g *Conn) reshape(typ http2.FrameType, flags http2.Flags, stream uint32, frame []byte) []byte {
	if typ == http2.FrameSettings {
		return collapseSettings(frame)
	}
	if !g.fields.block(typ, flags, stream, frame[frameHeaderLen:]) {
		return frame
	}
	// The block ends here and is malformed: it ends one frame later now,
	// in a CONTINUATION holding the field the server refuses.
	frame[4] &^= byte(http2.FlagHeadersEndHeaders)
	return append(frame, refusal(stream)...)
}

// frameHeader encodes a frame header (§4.1).
func frameHeader(length int, typ http2.FrameType, flags http2.Flags, stream uint32) []byte {
	h := []byte{byte(length >> 16), byte(length >> 8), byte(length), byte(typ), byte(flags), 0, 0, 0, 0}
	binary.BigEndian.PutUint32(h[5:], stream)
	return h
}

// sized returns g.buf resized to n bytes, keeping what it holds.
func (g *Conn) sized(n int) []byte {
	if cap(g.buf) < n {
		b := make([]byte, len(g.buf), max(n, 2*cap(g.buf)))
		copy(b, g.buf)
		g.buf = b
	}
	return g.buf[:n]
}
