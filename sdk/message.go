package sluice

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strconv"
	"unsafe"

	"github.com/sluicegw/sluice/sdk/internal/abi"
)

// Request is the request being handled. Its setters act on what the next
// filter and the upstream receive.
type Request interface {
	// Method returns the method, e.g. "GET".
	Method() string
	// SetMethod replaces the method.
	SetMethod(method string)
	// URI returns the path and query, percent-encoded, e.g.
	// "/v1/hi?name=kung+fu". Parse it with net/url.ParseRequestURI.
	URI() string
	// SetURI replaces the path and query; it must be percent-encoded.
	SetURI(uri string)
	// ProtocolVersion returns "HTTP/1.1" or "HTTP/2.0".
	ProtocolVersion() string
	// SourceAddr returns the client's address, e.g. "203.0.113.9:51234" or
	// "[2001:db8::1]:51234".
	SourceAddr() string
	// Header returns the request header fields.
	Header() Header
	// Trailers returns the request trailers (needs FeatureTrailers).
	Trailers() Header
	// Body returns the request body. Reading it consumes it unless
	// FeatureBufferRequest was enabled; the first Write replaces it.
	Body() Body
}

// Response is the response: in HandleRequest the one the filter may answer
// with (an empty 200 unless changed), in HandleResponse the upstream's.
type Response interface {
	// StatusCode returns the status code, 200 unless set.
	StatusCode() int
	// SetStatusCode sets the status code (100-999). In HandleResponse it
	// needs FeatureBufferResponse.
	SetStatusCode(code int)
	// Header returns the response header fields.
	Header() Header
	// Trailers returns the response trailers (needs FeatureTrailers).
	Trailers() Header
	// Body returns the response body. In HandleResponse reading or writing
	// it needs FeatureBufferResponse. The first Write of a phase replaces
	// the body; later ones append.
	Body() Body
}

// Header is a set of header (or trailer) fields. Names are
// case-insensitive.
type Header interface {
	// Names returns the field names, lowercase, in the host's order.
	Names() []string
	// Get returns the first value of name and whether the field is present.
	Get(name string) (value string, ok bool)
	// Values returns every value of name, nil when absent.
	Values(name string) []string
	// Set replaces every value of name with value.
	Set(name, value string)
	// Add appends a value to name.
	Add(name, value string)
	// Remove deletes every value of name.
	Remove(name string)
}

// Body is a request or response body, read and written as a stream.
//
// Read follows io.Reader and may return data together with io.EOF on the
// last read. Write and WriteString never fail; the host copies the bytes.
// Writing an empty slice still replaces the body (with an empty one) when it
// is the first write of the phase.
type Body interface {
	io.Reader
	io.Writer
	io.StringWriter
}

var (
	theRequest  Request  = request{}
	theResponse Response = response{}

	requestHeader    Header = header(abi.HeaderRequest)
	responseHeader   Header = header(abi.HeaderResponse)
	requestTrailers  Header = header(abi.HeaderRequestTrailers)
	responseTrailers Header = header(abi.HeaderResponseTrailers)
	requestBody      Body   = body(abi.BodyRequest)
	responseBody     Body   = body(abi.BodyResponse)
)

type request struct{}

func (request) Method() string {
	b := readHost(abi.GetMethod)
	switch string(b) { // the common methods without allocating
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "HEAD":
		return "HEAD"
	case "OPTIONS":
		return "OPTIONS"
	case "PATCH":
		return "PATCH"
	}
	return string(b)
}

func (request) SetMethod(method string) { abi.SetMethod(method) }
func (request) URI() string             { return string(readHost(abi.GetURI)) }
func (request) SetURI(uri string)       { abi.SetURI(uri) }

func (request) ProtocolVersion() string {
	b := readHost(abi.GetProtocolVersion)
	switch string(b) {
	case "HTTP/1.1":
		return "HTTP/1.1"
	case "HTTP/2.0":
		return "HTTP/2.0"
	}
	return string(b)
}

func (request) SourceAddr() string { return string(readHost(abi.GetSourceAddr)) }
func (request) Header() Header     { return requestHeader }
func (request) Trailers() Header   { return requestTrailers }
func (request) Body() Body         { return requestBody }

type response struct{}

func (response) StatusCode() int { return int(abi.GetStatusCode()) }

func (response) SetStatusCode(code int) {
	if code < 100 || code > 999 {
		panic("sluice: invalid status code " + strconv.Itoa(code))
	}
	holdHead()
	abi.SetStatusCode(uint32(code))
}

func (response) Header() Header   { return responseHeader }
func (response) Trailers() Header { return responseTrailers }
func (response) Body() Body       { return responseBody }

type header abi.HeaderKind

func (h header) Names() []string {
	cl, seq := readSeq(func(buf *byte, limit uint32) abi.CountLen {
		return abi.GetHeaderNames(abi.HeaderKind(h), buf, limit)
	})
	return splitSeq(cl, seq)
}

func (h header) Get(name string) (string, bool) {
	cl, seq := h.values(name)
	if cl.Count() == 0 {
		return "", false
	}
	v, _ := cutNUL(seq)
	return string(v), true
}

func (h header) Values(name string) []string {
	return splitSeq(h.values(name))
}

// values reads every value of name into the shared buffer. It is spelled
// out, not a readSeq closure, so that the hot path allocates nothing.
func (h header) values(name string) (abi.CountLen, []byte) {
	b := shared
	for range maxAttempts {
		cl := abi.GetHeaderValues(abi.HeaderKind(h), name, unsafe.SliceData(b), uint32(len(b)))
		if int64(cl.Len()) <= int64(len(b)) {
			return cl, b[:cl.Len()]
		}
		b = bufferFor(cl.Len())
	}
	panic(errGrowing)
}

func (h header) Set(name, value string) { abi.SetHeaderValue(abi.HeaderKind(h), name, value) }
func (h header) Add(name, value string) { abi.AddHeaderValue(abi.HeaderKind(h), name, value) }
func (h header) Remove(name string)     { abi.RemoveHeader(abi.HeaderKind(h), name) }

type body abi.BodyKind

func (b body) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	limit := uint32(min(len(p), math.MaxUint32))
	el := abi.ReadBody(abi.BodyKind(b), unsafe.SliceData(p), limit)
	n := el.Len()
	if n > limit {
		panic("sluice: read_body reported " + strconv.FormatUint(uint64(n), 10) + " bytes for a " + strconv.FormatUint(uint64(limit), 10) + "-byte buffer")
	}
	if el.EOF() {
		return int(n), io.EOF
	}
	return int(n), nil
}

func (b body) Write(p []byte) (int, error) {
	if abi.BodyKind(b) == abi.BodyResponse {
		holdHead()
	}
	abi.WriteBody(abi.BodyKind(b), unsafe.SliceData(p), uint32(len(p)))
	return len(p), nil
}

func (b body) WriteString(s string) (int, error) {
	if abi.BodyKind(b) == abi.BodyResponse {
		holdHead()
	}
	abi.WriteBody(abi.BodyKind(b), unsafe.StringData(s), uint32(len(s)))
	return len(s), nil
}

// The shared buffer. A guest runs one call at a time, so every host read
// goes through this one buffer; what it returns is valid until the next host
// call. It grows to the largest value seen, up to maxShared; a longer value
// gets a buffer of its own.
const (
	initialShared = 2 << 10
	maxShared     = 64 << 10
	maxValue      = 256 << 20 // a longer value means a broken host
	maxAttempts   = 4         // a value may change between calls; not forever
)

var shared = make([]byte, initialShared)

var errGrowing = errors.New("sluice: a host value kept growing between calls")

// bufferFor returns a buffer of at least n bytes: the shared one, grown if
// needed, or one of its own for values longer than maxShared.
func bufferFor(n uint32) []byte {
	switch {
	case n > maxValue:
		panic("sluice: host reported a " + strconv.FormatUint(uint64(n), 10) + "-byte value")
	case n > maxShared:
		return make([]byte, n)
	case int(n) > len(shared):
		shared = make([]byte, max(int(n), min(2*len(shared), maxShared)))
	}
	return shared
}

// readHost reads one value with the ABI's buffer protocol: the host returns
// the value's length and writes it only when it fits, so a longer value is
// retried with a buffer of that length.
func readHost(get func(buf *byte, limit uint32) uint32) []byte {
	b := shared
	for range maxAttempts {
		n := get(unsafe.SliceData(b), uint32(len(b)))
		if int64(n) <= int64(len(b)) {
			return b[:n]
		}
		b = bufferFor(n)
	}
	panic(errGrowing)
}

// readSeq is readHost for functions returning a NUL-terminated sequence.
func readSeq(get func(buf *byte, limit uint32) abi.CountLen) (abi.CountLen, []byte) {
	b := shared
	for range maxAttempts {
		cl := get(unsafe.SliceData(b), uint32(len(b)))
		if int64(cl.Len()) <= int64(len(b)) {
			return cl, b[:cl.Len()]
		}
		b = bufferFor(cl.Len())
	}
	panic(errGrowing)
}

// cutNUL splits the first string off a NUL-terminated sequence. A final
// string without its terminator is taken whole.
func cutNUL(seq []byte) (first, rest []byte) {
	if i := bytes.IndexByte(seq, 0); i >= 0 {
		return seq[:i], seq[i+1:]
	}
	return seq, nil
}

// splitSeq copies the strings of a NUL-terminated sequence. The count only
// sizes the result; the bytes decide, so a wrong count cannot make it
// allocate more than the sequence holds.
func splitSeq(cl abi.CountLen, seq []byte) []string {
	if cl.Count() == 0 || len(seq) == 0 {
		return nil
	}
	out := make([]string, 0, min(int(cl.Count()), len(seq)))
	for len(seq) > 0 {
		var v []byte
		v, seq = cutNUL(seq)
		out = append(out, string(v))
	}
	return out
}
