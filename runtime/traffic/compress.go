package traffic

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// MinCompressSize is the smallest body worth compressing when its length is
// known: below it the encoding's framing and the CPU cost outweigh the bytes
// saved.
const MinCompressSize = 1024

// Compressor is a route's compress stage: the encodings it offers, in order
// of preference. It is built once per route.
type Compressor struct {
	offer []Encoding
}

// NewCompressor returns the compress stage for a route's compress list.
func NewCompressor(names []string) (*Compressor, error) {
	offer, err := ParseEncodings(names)
	if err != nil {
		return nil, err
	}
	return &Compressor{offer: offer}, nil
}

// Wrap returns w compressing what is written to it with the encoding
// negotiated from r's Accept-Encoding, decided when the response header is
// written. The caller must Close it once the response is complete.
func (c *Compressor) Wrap(w http.ResponseWriter, r *http.Request) *CompressWriter {
	cw := compressWriters.Get().(*CompressWriter)
	*cw = CompressWriter{
		rw:   w,
		enc:  Negotiate(r.Header["Accept-Encoding"], c.offer),
		head: r.Method == http.MethodHead,
	}
	return cw
}

var compressWriters = sync.Pool{New: func() any { return new(CompressWriter) }}

// CompressWriter is an http.ResponseWriter that streams the body through an
// encoder, when the response is worth compressing.
type CompressWriter struct {
	rw      http.ResponseWriter
	enc     Encoding // negotiated; Identity = the client takes none we offer
	head    bool
	decided bool
	encoder encoder // nil unless compressing
}

// encoder is what the three encoders have in common.
type encoder interface {
	io.WriteCloser
	Flush() error
	Reset(io.Writer)
}

func (w *CompressWriter) Header() http.Header { return w.rw.Header() }

// Unwrap lets http.ResponseController reach the connection.
func (w *CompressWriter) Unwrap() http.ResponseWriter { return w.rw }

// WriteHeader decides whether to compress, from the response's header.
func (w *CompressWriter) WriteHeader(code int) {
	if !w.decided && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.decide(code)
	}
	w.rw.WriteHeader(code)
}

func (w *CompressWriter) decide(code int) {
	w.decided = true
	h := w.rw.Header()
	// The answer depends on Accept-Encoding whether or not this one is
	// compressed: caches must key on it.
	if !hasToken(h["Vary"], "Accept-Encoding") && !hasToken(h["Vary"], "*") {
		h.Add("Vary", "Accept-Encoding")
	}
	if w.enc == Identity || w.head || code < 200 || code == http.StatusNoContent ||
		code == http.StatusNotModified || code == http.StatusPartialContent {
		return
	}
	if ce := h.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return // already compressed upstream
	}
	if hasToken(h["Cache-Control"], "no-transform") || !compressible(h.Get("Content-Type")) {
		return
	}
	if cl := h.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n < MinCompressSize {
			return
		}
	}
	h.Set("Content-Encoding", w.enc.String())
	h.Del("Content-Length")
	h.Del("Accept-Ranges") // byte ranges of the encoded body are not offered
	if et := h.Get("Etag"); et != "" && !strings.HasPrefix(et, "W/") {
		// Another representation: a strong validator would lie.
		h.Set("Etag", "W/"+et)
	}
	w.encoder = getEncoder(w.enc, w.rw)
}

func (w *CompressWriter) Write(p []byte) (int, error) {
	if !w.decided {
		w.WriteHeader(http.StatusOK)
	}
	if w.encoder != nil {
		return w.encoder.Write(p)
	}
	return w.rw.Write(p)
}

// Flush pushes what the encoder holds to the client: streamed responses
// (server-sent events) stay live when compressed.
func (w *CompressWriter) Flush() {
	if w.encoder != nil {
		_ = w.encoder.Flush()
	}
	_ = http.NewResponseController(w.rw).Flush()
}

// Close ends the encoded stream and recycles the writer; w must not be used
// after.
func (w *CompressWriter) Close() error {
	var err error
	if w.encoder != nil {
		err = w.encoder.Close()
		putEncoder(w.enc, w.encoder)
	}
	*w = CompressWriter{}
	compressWriters.Put(w)
	return err
}

// Encoders are pooled per encoding: a zstd or brotli encoder holds hundreds
// of KiB of tables, too much to make per response.
var encoderPools [numEncodings]sync.Pool

func init() {
	encoderPools[Gzip].New = func() any {
		w, _ := gzip.NewWriterLevel(nil, 5)
		return w
	}
	encoderPools[Brotli].New = func() any { return brotli.NewWriterLevel(nil, 4) }
	encoderPools[Zstd].New = func() any {
		w, _ := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderConcurrency(1), // one response, one goroutine
			// 1.7 MiB per pooled encoder; WithLowerEncoderMem saved only
			// 0.3 MiB of it and cost 30% more time per response.
			zstd.WithWindowSize(1<<20))
		return w
	}
}

func getEncoder(e Encoding, dst io.Writer) encoder {
	enc := encoderPools[e].Get().(encoder)
	enc.Reset(dst)
	return enc
}

func putEncoder(e Encoding, enc encoder) {
	enc.Reset(nil)
	encoderPools[e].Put(enc)
}

// compressible reports whether a media type is text-like. Images, video,
// archives and fonts are already compressed; compressing them again costs
// CPU and saves nothing.
func compressible(ct string) bool {
	if ct == "" {
		return false
	}
	ct, _, _ = strings.Cut(ct, ";")
	ct = strings.ToLower(strings.TrimSpace(ct))
	switch {
	case strings.HasPrefix(ct, "text/"),
		strings.HasSuffix(ct, "+json"),
		strings.HasSuffix(ct, "+xml"):
		return true
	}
	switch ct {
	case "application/json", "application/javascript", "application/x-javascript",
		"application/xml", "application/x-ndjson", "application/graphql-response+json",
		"application/wasm", "image/svg+xml", "application/x-www-form-urlencoded",
		"application/ld+json", "application/manifest+json", "font/ttf", "font/otf":
		return true
	}
	return false
}

// hasToken reports whether a comma-separated header holds token.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if t, _, _ = strings.Cut(t, "="); strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
