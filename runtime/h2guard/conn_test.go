package h2guard

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

var testLimits = Limits{MaxFrameSize: 16 << 10, HeaderTableSize: 4096, MaxHeaderString: 64 << 10}

// startServer runs x/net/http2's server on loopback, every connection
// read through the guard. It records the X-Token of each request it
// serves and answers with a body of the size the request's X-Size asks.
func startServer(t *testing.T) (addr string, served func() []string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var tokens []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tokens = append(tokens, r.Header.Get("X-Token"))
		mu.Unlock()
		var size int
		fmt.Sscan(r.Header.Get("X-Size"), &size)
		w.Write(bytes.Repeat([]byte("x"), size))
	})
	srv := &http2.Server{MaxReadFrameSize: testLimits.MaxFrameSize, MaxDecoderHeaderTableSize: testLimits.HeaderTableSize}
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				srv.ServeConn(NewConn(c, testLimits), &http2.ServeConnOpts{Handler: h})
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), tokens...)
	}
}

// client speaks HTTP/2 frame by frame, as h2spec does.
type client struct {
	t    *testing.T
	conn net.Conn
	fr   *http2.Framer
	enc  *hpack.Encoder
	hbuf bytes.Buffer
}

func dial(t *testing.T, addr string, settings ...http2.Setting) *client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := &client{t: t, conn: conn, fr: http2.NewFramer(conn, conn)}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.enc = hpack.NewEncoder(&c.hbuf)
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteSettings(settings...); err != nil {
		t.Fatal(err)
	}
	return c
}

// block encodes a GET of / with the extra fields (name, value pairs).
// The encoder indexes every field in its dynamic table, so a later block
// with the same field refers to it by index only.
func (c *client) block(fields ...string) []byte {
	c.hbuf.Reset()
	all := append([]string{":method", "GET", ":scheme", "https", ":path", "/", ":authority", "example.com"}, fields...)
	for i := 0; i+1 < len(all); i += 2 {
		c.enc.WriteField(hpack.HeaderField{Name: all[i], Value: all[i+1]})
	}
	return bytes.Clone(c.hbuf.Bytes())
}

func (c *client) request(stream uint32, fields ...string) {
	c.t.Helper()
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: c.block(fields...), EndStream: true, EndHeaders: true}); err != nil {
		c.t.Fatal(err)
	}
}

// outcome reads frames until stream gets its answer: its status ("200"),
// "RST_STREAM PROTOCOL_ERROR", or a GOAWAY with its code. It acknowledges
// the server's settings on the way.
func (c *client) outcome(stream uint32) string {
	c.t.Helper()
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "connection closed"
			}
			c.t.Fatalf("reading frames: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.fr.WriteSettingsAck()
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == stream {
				return f.PseudoValue("status")
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == stream {
				return "RST_STREAM " + f.ErrCode.String()
			}
		case *http2.GoAwayFrame:
			return "GOAWAY " + f.ErrCode.String()
		}
	}
}

// TestMalformedRequestIsStreamError: a request with a connection-specific
// field, or TE other than "trailers", is reset with PROTOCOL_ERROR and
// never reaches the handler; the connection goes on, and the next request
// on it, which refers to fields the refused one put in the HPACK dynamic
// table, decodes as the client sent it.
func TestMalformedRequestIsStreamError(t *testing.T) {
	addr, served := startServer(t)
	for _, field := range [][2]string{
		{"connection", "keep-alive"},
		{"keep-alive", "timeout=5"},
		{"proxy-connection", "keep-alive"},
		{"transfer-encoding", "chunked"},
		{"upgrade", "websocket"},
		{"te", "gzip"},
		{"te", "trailers, deflate"},
	} {
		t.Run(field[0]+": "+field[1], func(t *testing.T) {
			c := dial(t, addr)
			before := len(served())
			c.request(1, "x-token", "indexed-"+field[0], field[0], field[1])
			if got := c.outcome(1); got != "RST_STREAM PROTOCOL_ERROR" {
				t.Fatalf("got %q, want RST_STREAM PROTOCOL_ERROR", got)
			}
			c.request(3, "x-token", "indexed-"+field[0], "te", "trailers")
			if got := c.outcome(3); got != "200" {
				t.Fatalf("the next request on the connection: got %q, want 200", got)
			}
			s := served()
			if len(s) != before+1 || s[len(s)-1] != "indexed-"+field[0] {
				t.Fatalf("served %q after %d, want only the second request with its X-Token", s, before)
			}
		})
	}
}

// TestMalformedBlockOverContinuations: the fields are found in a block
// split over HEADERS (padded, with a priority) and CONTINUATION frames.
func TestMalformedBlockOverContinuations(t *testing.T) {
	addr, served := startServer(t)
	c := dial(t, addr)
	frag := c.block("x-token", "split", "transfer-encoding", "chunked", "x-pad", strings.Repeat("p", 100))
	err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: frag[:10], EndStream: true, PadLength: 7,
		Priority: http2.PriorityParam{StreamDep: 0, Weight: 15}})
	if err == nil {
		err = c.fr.WriteContinuation(1, false, frag[10:30])
	}
	if err == nil {
		err = c.fr.WriteContinuation(1, true, frag[30:])
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := c.outcome(1); got != "RST_STREAM PROTOCOL_ERROR" {
		t.Fatalf("got %q, want RST_STREAM PROTOCOL_ERROR", got)
	}
	c.request(3, "x-token", "split")
	if got := c.outcome(3); got != "200" || len(served()) != 1 {
		t.Fatalf("next request: %q, served %q", got, served())
	}
}

// TestRepeatedSettingsApplyInOrder: SETTINGS_INITIAL_WINDOW_SIZE given
// twice in one frame is acknowledged, and the last value is the window:
// the server sends no more of a response than it allows.
func TestRepeatedSettingsApplyInOrder(t *testing.T) {
	addr, _ := startServer(t)
	c := dial(t, addr,
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: 100},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1000})
	c.request(1, "x-size", "5000")
	// The server stops at the window and waits for a WINDOW_UPDATE that
	// never comes; a PING answered after the window is full shows that
	// nothing more was on its way.
	data, pinged := 0, false
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatalf("after %d bytes of the response: %v", data, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.fr.WriteSettingsAck()
			}
		case *http2.DataFrame:
			data += len(f.Data())
		case *http2.PingFrame:
			if f.IsAck() {
				if data != 1000 {
					t.Fatalf("the server sent %d bytes of the response, want the last window, 1000", data)
				}
				return
			}
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v", f.ErrCode)
		}
		if data >= 1000 && !pinged {
			pinged = true
			c.fr.WritePing(false, [8]byte{})
		}
	}
}

// TestInvalidRepeatedSettingKeepsItsError: a repeated parameter with an
// invalid value still ends the connection with that value's error code.
func TestInvalidRepeatedSettingKeepsItsError(t *testing.T) {
	addr, _ := startServer(t)
	c := dial(t, addr,
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: 100},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 31})
	if got := c.outcome(1); got != "GOAWAY FLOW_CONTROL_ERROR" {
		t.Fatalf("got %q, want GOAWAY FLOW_CONTROL_ERROR", got)
	}
}

func TestCollapseSettings(t *testing.T) {
	s := func(id http2.SettingID, v uint32) http2.Setting { return http2.Setting{ID: id, Val: v} }
	for _, tc := range []struct {
		name     string
		in, want []http2.Setting
	}{
		{"no repeats: unchanged", []http2.Setting{s(4, 10), s(3, 5)}, []http2.Setting{s(4, 10), s(3, 5)}},
		{"last value wins, first position kept", []http2.Setting{s(4, 10), s(3, 5), s(4, 20)}, []http2.Setting{s(4, 20), s(3, 5)}},
		{"header table size keeps the smallest", []http2.Setting{s(1, 0), s(1, 4096)}, []http2.Setting{s(1, 0)}},
		{"an invalid value is all that is left", []http2.Setting{s(4, 10), s(5, 1), s(4, 20)}, []http2.Setting{s(5, 1)}},
		{"priorities above 1 are invalid", []http2.Setting{s(9, 2), s(9, 0)}, []http2.Setting{s(9, 2)}},
		{"unknown parameters collapse too", []http2.Setting{s(0x77, 1), s(0x77, 2)}, []http2.Setting{s(0x77, 2)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			http2.NewFramer(&b, nil).WriteSettings(tc.in...)
			out := collapseSettings(b.Bytes())
			f, err := http2.NewFramer(nil, bytes.NewReader(out)).ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			var got []http2.Setting
			f.(*http2.SettingsFrame).ForeachSetting(func(s http2.Setting) error { got = append(got, s); return nil })
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzConn: whatever a client sends, the guard does not panic, ends, and
// hands on every frame other than SETTINGS and header blocks unchanged.
func FuzzConn(f *testing.F) {
	var b bytes.Buffer
	fr := http2.NewFramer(&b, nil)
	fr.WriteSettings(http2.Setting{ID: 4, Val: 1}, http2.Setting{ID: 4, Val: 2})
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x82, 0x00, 0x02, 't', 'e', 0x01, 'x'}, EndHeaders: true, PadLength: 2})
	fr.WriteData(1, true, []byte("body"))
	fr.WritePing(false, [8]byte{1})
	f.Add(b.Bytes())
	f.Add([]byte{0, 0, 3, 9, 4, 0, 0, 0, 1, 0x40, 0x7f})
	f.Fuzz(func(t *testing.T, frames []byte) {
		in := append([]byte(http2.ClientPreface), frames...)
		g := NewConn(&readerConn{r: bytes.NewReader(in)}, testLimits)
		out, err := io.ReadAll(g)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) { // a frame cut short
			t.Fatal(err)
		}
		if !bytes.HasPrefix(out, []byte(http2.ClientPreface)) {
			t.Fatal("the preface was not passed on")
		}
		if !changesNothing(frames) {
			return
		}
		if !bytes.Equal(out[len(http2.ClientPreface):], frames) {
			t.Fatalf("frames changed:\n in %x\nout %x", frames, out[len(http2.ClientPreface):])
		}
	})
}

// changesNothing reports whether frames hold no frame the guard reads
// whole (SETTINGS, HEADERS, CONTINUATION).
func changesNothing(frames []byte) bool {
	for len(frames) >= frameHeaderLen {
		switch http2.FrameType(frames[3]) {
		case http2.FrameSettings, http2.FrameHeaders, http2.FrameContinuation:
			return false
		}
		n := frameHeaderLen + (int(frames[0])<<16 | int(frames[1])<<8 | int(frames[2]))
		if n > len(frames) {
			return true
		}
		frames = frames[n:]
	}
	return true
}

// readerConn is a net.Conn that reads from r.
type readerConn struct {
	net.Conn
	r io.Reader
}

func (c *readerConn) Read(p []byte) (int, error) { return c.r.Read(p) }
