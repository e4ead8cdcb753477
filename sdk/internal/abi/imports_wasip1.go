//go:build wasip1

package abi

// The host functions of the http-wasm handler ABI, imported from the module
// "http_handler". A *byte buffer is one i32 (its address in linear memory); a
// string is two i32 (address, length). A host that fails any of these traps,
// except log, which drops the message.

// EnableFeatures asks the host to enable the feature bits in features and
// returns every feature the host supports.
//
//go:wasmimport http_handler enable_features
func EnableFeatures(features uint32) uint32

// GetConfig writes the guest's configuration to buf if it fits in limit and
// returns its length (see "Strings and buffers"). In Sluice it is the filter's
// `config` as JSON.
//
//go:wasmimport http_handler get_config
func GetConfig(buf *byte, limit uint32) uint32

// Log writes msg (UTF-8) to the host's log at level.
//
//go:wasmimport http_handler log
func Log(level int32, msg string)

// LogEnabled returns 1 when level is logged, else 0. The answer may be cached
// for the duration of one request.
//
//go:wasmimport http_handler log_enabled
func LogEnabled(level int32) uint32

// GetMethod writes the request method ("GET") to buf if it fits; returns its
// length.
//
//go:wasmimport http_handler get_method
func GetMethod(buf *byte, limit uint32) uint32

// SetMethod replaces the request method.
//
//go:wasmimport http_handler set_method
func SetMethod(method string)

// GetURI writes the request URI, path and query, percent-encoded
// ("/v1/hi?name=kung+fu"), to buf if it fits; returns its length. A request
// with no URI reads as "/".
//
//go:wasmimport http_handler get_uri
func GetURI(buf *byte, limit uint32) uint32

// SetURI replaces the request URI (path and query, percent-encoded).
//
//go:wasmimport http_handler set_uri
func SetURI(uri string)

// GetProtocolVersion writes "HTTP/1.1" or "HTTP/2.0" to buf if it fits;
// returns its length.
//
//go:wasmimport http_handler get_protocol_version
func GetProtocolVersion(buf *byte, limit uint32) uint32

// GetSourceAddr writes the client address ("1.2.3.4:5678",
// "[::1]:5678") to buf if it fits; returns its length.
//
//go:wasmimport http_handler get_source_addr
func GetSourceAddr(buf *byte, limit uint32) uint32

// GetHeaderNames writes the names of the header fields of kind, as a
// NUL-terminated sequence, to buf if it fits; returns its [CountLen].
//
//go:wasmimport http_handler get_header_names
func GetHeaderNames(kind HeaderKind, buf *byte, limit uint32) CountLen

// GetHeaderValues writes every value of the field name (case-insensitive) of
// kind, as a NUL-terminated sequence, to buf if it fits; returns its
// [CountLen], 0 when the field is absent.
//
//go:wasmimport http_handler get_header_values
func GetHeaderValues(kind HeaderKind, name string, buf *byte, limit uint32) CountLen

// SetHeaderValue replaces every value of the field name with value.
//
//go:wasmimport http_handler set_header_value
func SetHeaderValue(kind HeaderKind, name, value string)

// AddHeaderValue appends one value to the field name.
//
//go:wasmimport http_handler add_header_value
func AddHeaderValue(kind HeaderKind, name, value string)

// RemoveHeader removes every value of the field name.
//
//go:wasmimport http_handler remove_header
func RemoveHeader(kind HeaderKind, name string)

// ReadBody reads up to limit (> 0) bytes of the body of kind into buf and
// returns an [EOFLen]. Reads are stateful: each call continues where the last
// one stopped.
//
//go:wasmimport http_handler read_body
func ReadBody(kind BodyKind, buf *byte, limit uint32) EOFLen

// WriteBody writes n bytes at buf to the body of kind. The first write of a
// phase replaces the body; later writes append.
//
//go:wasmimport http_handler write_body
func WriteBody(kind BodyKind, buf *byte, n uint32)

// GetStatusCode returns the response status code (200 by default).
//
//go:wasmimport http_handler get_status_code
func GetStatusCode() uint32

// SetStatusCode replaces the response status code. In handle_response it
// needs FeatureBufferResponse.
//
//go:wasmimport http_handler set_status_code
func SetStatusCode(code uint32)
