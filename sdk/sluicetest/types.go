package sluicetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	sluice "github.com/sluicegw/sluice/sdk"
)

// Request is an HTTP request as the host holds it. The filter's changes are
// made to it in place.
type Request struct {
	Method     string // "GET" when empty
	URI        string // path and query; "/" when empty
	Proto      string // "HTTP/1.1" when empty
	SourceAddr string // the client's address; "192.0.2.1:40000" when empty
	Header     http.Header
	Trailer    http.Header
	Body       []byte
}

// NewRequest returns a request from 192.0.2.1:40000 over HTTP/1.1 with empty
// headers.
func NewRequest(method, uri string) *Request {
	return &Request{Method: method, URI: uri, Proto: "HTTP/1.1", SourceAddr: "192.0.2.1:40000", Header: http.Header{}, Trailer: http.Header{}}
}

// Response is an HTTP response as the host holds it.
type Response struct {
	StatusCode int // 200 when 0
	Header     http.Header
	Trailer    http.Header
	Body       []byte
}

// NewResponse returns a response with the given status and body and empty
// headers; use it as the upstream's answer in Do.
func NewResponse(status int, body string) *Response {
	r := &Response{StatusCode: status, Header: http.Header{}, Trailer: http.Header{}}
	if body != "" {
		r.Body = []byte(body)
	}
	return r
}

// Clone returns a deep copy of r.
func (r *Response) Clone() *Response {
	return &Response{StatusCode: r.StatusCode, Header: r.Header.Clone(), Trailer: r.Trailer.Clone(), Body: bytes.Clone(r.Body)}
}

// Result is the outcome of one exchange run by Do.
type Result struct {
	// Next is true when the filter passed the request on to the upstream,
	// false when it answered by itself.
	Next bool
	// Request is the request as the upstream receives it (the request given
	// to Do, changed by the filter). Its Body is what remains to be sent.
	Request *Request
	// Response is what the client receives: the filter's own answer when
	// Next is false, else the upstream's response after HandleResponse.
	Response *Response
	// Features are the features enabled for the request.
	Features sluice.Features
}

// Log is one message the filter logged.
type Log struct {
	Level   sluice.Level
	Message string
}

// Option configures a Host.
type Option func(*options)

type options struct {
	config    []byte
	filter    sluice.Filter
	logLevel  sluice.Level
	supported sluice.Features
	upstreams map[string]upstreamStub // WithUpstream (upstream.go)
}

// WithConfig sets the filter's configuration: a string or []byte is used as
// is (JSON, as Sluice passes a filter's `config:`), any other value is
// marshaled to JSON.
func WithConfig(v any) Option {
	return func(o *options) {
		switch c := v.(type) {
		case string:
			o.config = []byte(c)
		case []byte:
			o.config = c
		default:
			b, err := json.Marshal(c)
			if err != nil {
				panic(fmt.Sprintf("sluicetest.WithConfig: %v", err))
			}
			o.config = b
		}
	}
}

// WithFilter runs f instead of the filter the package registered.
func WithFilter(f sluice.Filter) Option { return func(o *options) { o.filter = f } }

// WithLogLevel sets the lowest level the host logs (default: LevelDebug).
func WithLogLevel(l sluice.Level) Option { return func(o *options) { o.logLevel = l } }

// WithFeatures sets the features the host supports (default: all, as
// Sluice). Without [sluice.FeatureHoldsResponseHead] the host behaves like
// http-wasm-host-go: changing a response header in HandleResponse then
// needs FeatureBufferResponse, which the SDK enables by itself for a filter
// with a response phase.
func WithFeatures(f sluice.Features) Option { return func(o *options) { o.supported = f } }

// MetricValue is one series of a metric the filter defined ([sluice.NewCounter]
// and the others): a counter's total or a gauge's value, or for a histogram
// the sum of its observations and their count.
type MetricValue struct {
	Value float64
	Count uint64
}
