//go:build !wasip1

package abi

import (
	"fmt"
	"net/textproto"
	"slices"
	"strings"
	"unsafe"
)

// Outside wasm the host functions are served by Mem, an in-memory host that
// follows the ABI byte for byte (buffer limits, NUL-terminated sequences,
// packed results) and traps, with a panic of type *Trap, where the spec says a
// host traps or where a real host would silently ignore a call a portable
// guest must not rely on. The sluicetest package drives it.

// Phase is where the guest is in its lifecycle.
type Phase int

const (
	// PhaseInit is _initialize: package init functions run.
	PhaseInit Phase = iota
	// PhaseRequest is a call of handle_request.
	PhaseRequest
	// PhaseResponse is a call of handle_response.
	PhaseResponse
)

// LogEntry is one message the guest logged.
type LogEntry struct {
	Level   int32
	Message string
}

// Trap is the panic value of a call the in-memory host refuses.
type Trap struct{ Reason string }

func (t *Trap) Error() string { return "http_handler trap: " + t.Reason }

func trap(format string, args ...any) {
	panic(&Trap{Reason: fmt.Sprintf(format, args...)})
}

// Host is the state of the in-memory host: configuration, logs, enabled
// features, and the one request and response in flight.
type Host struct {
	Config    []byte
	Supported uint32 // features the host supports
	LogLevel  int32  // lowest level that is logged
	Logs      []LogEntry

	Phase        Phase
	InitFeatures uint32 // enabled during PhaseInit: hold for every request
	Features     uint32 // enabled for the current request, InitFeatures included

	Method, URI, Proto, SourceAddr string
	Headers                        [4]map[string][]string // by HeaderKind
	Bodies                         [2][]byte              // by BodyKind
	ReadOffset                     [2]int                 // bytes already read by read_body
	Written                        [2]bool                // body replaced in this phase
	Status                         uint32

	// Metrics defined through the sluice module (sluice_stub.go): the
	// definitions by id, each series by metric name and its label values
	// joined by NULs, and the values dropped past the cap of series.
	MetricDefs     []MetricDef
	Metrics        map[string]map[string]*MetricSeries
	MetricsDropped int
	Calls          CallHost // the sluice module's http_call (call_stub.go)
}

// NewHost returns a host that supports every feature, logs every level and
// holds a GET / HTTP/1.1 request and an empty 200 response.
func NewHost() *Host {
	h := &Host{Supported: FeatureBufferRequest | FeatureBufferResponse | FeatureTrailers | FeatureStateless | FeatureHoldsResponseHead, LogLevel: LogDebug}
	h.Method, h.URI, h.Proto, h.SourceAddr, h.Status = "GET", "/", "HTTP/1.1", "192.0.2.1:40000", 200
	for i := range h.Headers {
		h.Headers[i] = map[string][]string{}
	}
	return h
}

// Mem is the host the stubs below serve. Callers that swap it serialize
// themselves (the guest is single-threaded; so are its tests).
var Mem = NewHost()

func out(buf *byte, limit uint32) []byte {
	if limit == 0 {
		return nil
	}
	if buf == nil {
		trap("buffer at address 0 with limit %d", limit)
	}
	return unsafe.Slice(buf, limit)
}

func putString(buf *byte, limit uint32, v string) uint32 {
	if uint32(len(v)) <= limit {
		copy(out(buf, limit), v)
	}
	return uint32(len(v))
}

func putSeq(buf *byte, limit uint32, vs []string) CountLen {
	n := 0
	for _, v := range vs {
		n += len(v) + 1
	}
	if uint32(n) <= limit {
		b := out(buf, limit)[:0]
		for _, v := range vs {
			b = append(append(b, v...), 0)
		}
	}
	return CountLen(uint64(len(vs))<<32 | uint64(n))
}

func (h *Host) header(kind HeaderKind, write bool) map[string][]string {
	if kind > HeaderResponseTrailers {
		trap("header kind %d", kind)
	}
	if write && h.Phase == PhaseResponse && (kind == HeaderResponse || kind == HeaderResponseTrailers) &&
		h.Supported&FeatureHoldsResponseHead == 0 && h.Features&FeatureBufferResponse == 0 {
		// As http-wasm-host-go: the head went out when the next handler wrote it.
		trap("changing a response header in handle_response needs FeatureBufferResponse on a host that sends the head early")
	}
	if kind >= HeaderRequestTrailers && h.Features&FeatureTrailers == 0 {
		if write {
			trap("writing trailers needs FeatureTrailers (call EnableFeatures)")
		}
		return nil
	}
	if h.Headers[kind] == nil {
		h.Headers[kind] = map[string][]string{}
	}
	return h.Headers[kind]
}

func key(name string) string {
	if name == "" {
		trap("empty header name")
	}
	return textproto.CanonicalMIMEHeaderKey(name)
}

func (h *Host) values(kind HeaderKind, name string) []string {
	m := h.header(kind, false)
	if vs, ok := m[key(name)]; ok {
		return vs
	}
	for k, vs := range m { // a key set without canonicalization
		if strings.EqualFold(k, name) {
			return vs
		}
	}
	return nil
}

func (h *Host) bodyKind(kind BodyKind) {
	if kind > BodyResponse {
		trap("body kind %d", kind)
	}
}

// EnableFeatures is enable_features.
func EnableFeatures(features uint32) uint32 {
	h := Mem
	switch h.Phase {
	case PhaseInit:
		h.InitFeatures |= features & h.Supported
		h.Features |= features & h.Supported
	case PhaseRequest:
		// As Sluice: the stateless declaration counts only at init.
		h.Features |= features & h.Supported &^ FeatureStateless
	case PhaseResponse:
		// Too late: buffering is decided before the next handler runs.
	}
	return h.Supported
}

// GetConfig is get_config.
func GetConfig(buf *byte, limit uint32) uint32 {
	return putString(buf, limit, string(Mem.Config))
}

// Log is log.
func Log(level int32, msg string) {
	if LogEnabled(level) == 1 {
		Mem.Logs = append(Mem.Logs, LogEntry{Level: level, Message: msg})
	}
}

// LogEnabled is log_enabled.
func LogEnabled(level int32) uint32 {
	if level >= Mem.LogLevel && level < LogNone {
		return 1
	}
	return 0
}

// GetMethod is get_method.
func GetMethod(buf *byte, limit uint32) uint32 { return putString(buf, limit, Mem.Method) }

// SetMethod is set_method.
func SetMethod(method string) {
	if method == "" {
		trap("set_method with an empty method")
	}
	Mem.Method = method
}

// GetURI is get_uri.
func GetURI(buf *byte, limit uint32) uint32 {
	if Mem.URI == "" {
		return putString(buf, limit, "/")
	}
	return putString(buf, limit, Mem.URI)
}

// SetURI is set_uri.
func SetURI(uri string) { Mem.URI = uri }

// GetProtocolVersion is get_protocol_version.
func GetProtocolVersion(buf *byte, limit uint32) uint32 { return putString(buf, limit, Mem.Proto) }

// GetSourceAddr is get_source_addr.
func GetSourceAddr(buf *byte, limit uint32) uint32 { return putString(buf, limit, Mem.SourceAddr) }

// GetHeaderNames is get_header_names: lowercase names, sorted (a real host's
// order is unspecified).
func GetHeaderNames(kind HeaderKind, buf *byte, limit uint32) CountLen {
	m := Mem.header(kind, false)
	names := make([]string, 0, len(m))
	for k, vs := range m {
		if len(vs) > 0 {
			names = append(names, strings.ToLower(k))
		}
	}
	slices.Sort(names)
	return putSeq(buf, limit, names)
}

// GetHeaderValues is get_header_values.
func GetHeaderValues(kind HeaderKind, name string, buf *byte, limit uint32) CountLen {
	return putSeq(buf, limit, Mem.values(kind, name))
}

// SetHeaderValue is set_header_value.
func SetHeaderValue(kind HeaderKind, name, value string) {
	m := Mem.header(kind, true)
	RemoveHeader(kind, name)
	m[key(name)] = []string{value}
}

// AddHeaderValue is add_header_value.
func AddHeaderValue(kind HeaderKind, name, value string) {
	m := Mem.header(kind, true)
	k := key(name)
	m[k] = append(m[k], value)
}

// RemoveHeader is remove_header.
func RemoveHeader(kind HeaderKind, name string) {
	m := Mem.header(kind, true)
	for k := range m {
		if strings.EqualFold(k, name) {
			delete(m, k)
		}
	}
}

// ReadBody is read_body.
func ReadBody(kind BodyKind, buf *byte, limit uint32) EOFLen {
	h := Mem
	h.bodyKind(kind)
	if limit == 0 {
		trap("read_body with buf_limit 0")
	}
	switch {
	case h.Phase == PhaseInit:
		trap("read_body outside a request")
	case kind == BodyRequest && h.Phase == PhaseResponse:
		trap("reading the request body in handle_response: it was already sent upstream")
	case kind == BodyResponse && h.Phase == PhaseResponse && h.Features&FeatureBufferResponse == 0:
		trap("reading the response body in handle_response needs FeatureBufferResponse (enable it in init or in handle_request)")
	}
	rest := h.Bodies[kind][h.ReadOffset[kind]:]
	n := copy(out(buf, limit), rest)
	h.ReadOffset[kind] += n
	var eof EOFLen
	if n == len(rest) {
		eof = 1 << 32
	}
	return eof | EOFLen(n)
}

// WriteBody is write_body.
func WriteBody(kind BodyKind, buf *byte, n uint32) {
	h := Mem
	h.bodyKind(kind)
	switch {
	case kind == BodyRequest && h.Phase == PhaseResponse:
		trap("writing the request body in handle_response: the request was already sent")
	case kind == BodyResponse && h.Phase == PhaseResponse && h.Features&FeatureBufferResponse == 0:
		trap("writing the response body in handle_response needs FeatureBufferResponse (enable it in init or in handle_request)")
	case h.Phase == PhaseInit:
		trap("write_body outside a request")
	}
	if !h.Written[kind] {
		h.Bodies[kind], h.ReadOffset[kind], h.Written[kind] = nil, 0, true
	}
	if n > 0 {
		h.Bodies[kind] = append(h.Bodies[kind], unsafe.Slice(buf, n)...)
	}
}

// GetStatusCode is get_status_code.
func GetStatusCode() uint32 { return Mem.Status }

// SetStatusCode is set_status_code.
func SetStatusCode(code uint32) {
	if Mem.Phase == PhaseResponse && Mem.Features&FeatureBufferResponse == 0 {
		trap("set_status_code in handle_response needs FeatureBufferResponse (enable it in init or in handle_request)")
	}
	if code < 100 || code > 999 {
		trap("status code %d", code)
	}
	Mem.Status = code
}
