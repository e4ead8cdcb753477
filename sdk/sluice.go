package sluice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/sluicegw/sluice/sdk/internal/abi"
)

// Filter is a Sluice filter: one value per instance, called for one request
// at a time.
type Filter interface {
	// HandleRequest runs before the upstream. It returns true to continue to
	// the next filter and the upstream, or false when it answered the request
	// itself through resp (status, headers, body; an untouched resp is an
	// empty 200).
	HandleRequest(req Request, resp Response) (next bool)

	// HandleResponse runs after the upstream answered, only when
	// HandleRequest returned true; route filters run it in reverse order.
	// isError is true when the host failed to produce a response (the
	// upstream was unreachable, a later filter failed). Response headers can
	// be changed here; the status code and body need FeatureBufferResponse,
	// enabled before the upstream runs.
	HandleResponse(req Request, resp Response, isError bool)
}

// RequestFunc is a Filter that only has a request phase.
type RequestFunc func(req Request, resp Response) (next bool)

// HandleRequest calls f.
func (f RequestFunc) HandleRequest(req Request, resp Response) bool { return f(req, resp) }

// HandleResponse does nothing.
func (RequestFunc) HandleResponse(Request, Response, bool) {}

var (
	filter    Filter
	newFilter func() (Filter, error)
)

// Handle registers the filter. Call it from an init function (main is never
// called in a wasm filter; see the package documentation). A later call
// replaces the filter.
func Handle(f Filter) {
	if f == nil {
		panic("sluice: Handle(nil)")
	}
	filter, newFilter = f, nil
	declareRequestOnly(f)
	adaptToHost(f)
}

// HandleNew registers a constructor that builds the filter from its
// configuration, typically with [Config]. Call it from an init function.
//
// In wasm the constructor runs at once, while the instance initializes; an
// error is logged and makes the initialization fail, so Sluice refuses the
// filter when it loads the config (sluice validate, sluice apply), not on a
// request. In a native build the constructor runs when a sluicetest host is
// created, after the test has set the configuration.
//
// The constructor runs once per module load, not once per instance: Sluice
// keeps the state initialization leaves (memory and globals) and starts
// every further instance as a copy of it, in well under a millisecond
// instead of the Go runtime's ~5 ms start-up. So anything random drawn while
// initializing (a seed, a nonce, a key) is the same in every instance:
// draw it on first use in a request, or from crypto/rand each time (a host
// call). The Go runtime's own seeds (map hashing, math/rand's top-level
// functions) are likewise shared by the instances of one module load.
func HandleNew(newF func() (Filter, error)) {
	if newF == nil {
		panic("sluice: HandleNew(nil)")
	}
	filter, newFilter = nil, newF
	if runtime.GOOS == "wasip1" {
		if err := build(); err != nil {
			abi.Log(abi.LogError, err.Error())
			panic(err)
		}
	}
}

func build() error {
	if newFilter == nil {
		if filter == nil {
			return errors.New("sluice: no filter registered: call sluice.Handle or sluice.HandleNew from an init function")
		}
		adaptToHost(filter) // natively, the host may differ from the one Handle saw
		return nil
	}
	f, err := newFilter()
	if err == nil && f == nil {
		err = errors.New("constructor returned a nil Filter")
	}
	if err != nil {
		return &initError{err}
	}
	filter = f
	declareRequestOnly(f)
	adaptToHost(f)
	return nil
}

// declareRequestOnly declares a RequestFunc stateless: its response phase
// does nothing, so nothing of a request can be left for it to need.
func declareRequestOnly(f Filter) {
	if _, ok := f.(RequestFunc); ok {
		Stateless()
	}
}

// Stateless declares that the filter keeps nothing between HandleRequest
// and HandleResponse of a request: HandleResponse needs only what the host
// gives it (the request and response, the configuration, state shared by
// all requests). Call it from an init function or the constructor of
// [HandleNew]; later it has no effect.
//
// Sluice then returns the filter's instance to its pool as soon as
// HandleRequest returns, and runs HandleResponse on any instance of the
// filter, possibly another one, instead of holding one instance per request
// for the whole upstream round trip. A filter on a busy route then needs
// about as many instances as the node has cores rather than one per request
// in flight (a standard-Go instance is a few MiB). A filter that sets a
// field in HandleRequest and reads it in HandleResponse (like
// filters/request-id, which remembers the id it chose) must not call it:
// its HandleResponse would see another request's value. A [RequestFunc]
// is declared stateless by [Handle] and [HandleNew] already.
//
// Other http-wasm hosts ignore the declaration (it is a Sluice feature bit,
// [FeatureStateless]) and keep both phases on one instance, which is
// correct for every filter.
func Stateless() {
	abi.EnableFeatures(abi.FeatureStateless)
}

// initError is a constructor's error. (Not fmt.Errorf: build is always
// linked, and fmt adds hundreds of kilobytes to filters that don't use it.)
type initError struct{ err error }

func (e *initError) Error() string { return "sluice: filter init: " + e.err.Error() }
func (e *initError) Unwrap() error { return e.err }

// handleRequest is the body of the handle_request export.
func handleRequest() abi.CtxNext {
	logCache = 0
	if filter == nil {
		panic("sluice: no filter registered: call sluice.Handle or sluice.HandleNew from an init function")
	}
	inRequest, headBuffered = true, bufferedAtInit
	// The context is always 0: an instance serves one request at a time, so
	// a filter keeps per-request state in its own variables.
	next := filter.HandleRequest(theRequest, theResponse)
	inRequest = false
	return abi.PackCtxNext(0, next)
}

// handleResponse is the body of the handle_response export.
func handleResponse(_ uint32, isError bool) {
	// This instance may not be the one that ran handle_request (Stateless):
	// its log_enabled answers are another request's.
	logCache = 0
	inRequest = false // a request phase that panicked natively left it set
	if filter == nil {
		panic("sluice: no filter registered")
	}
	filter.HandleResponse(theRequest, theResponse, isError)
}

// Config decodes the filter's configuration (its `config:` in the Sluice
// config file, handed to the guest as JSON) into v, which must be a pointer.
// Unknown fields are errors. An absent configuration leaves v untouched, so
// set defaults in v before the call.
func Config(v any) error {
	b := ConfigBytes()
	if len(bytes.TrimSpace(b)) == 0 || string(bytes.TrimSpace(b)) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if dec.More() {
		return errors.New("config: trailing data after the JSON value")
	}
	return nil
}

// ConfigBytes returns the filter's raw configuration, nil when there is none.
func ConfigBytes() []byte {
	b := readHost(abi.GetConfig)
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

// Level is the severity of a log message.
type Level int32

// Log levels, from the most to the least verbose. LevelNone disables logging.
const (
	LevelDebug Level = Level(abi.LogDebug)
	LevelInfo  Level = Level(abi.LogInfo)
	LevelWarn  Level = Level(abi.LogWarn)
	LevelError Level = Level(abi.LogError)
	LevelNone  Level = Level(abi.LogNone)
)

func (l Level) String() string {
	switch l {
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	case LevelNone:
		return "none"
	}
	return fmt.Sprintf("level(%d)", int32(l))
}

// logCache remembers log_enabled answers for the current request: two bits
// per level (known, enabled), levels -1..3 at bit 2*(level+1).
var logCache uint16

// LogEnabled reports whether the host logs messages at level. The answer is
// cached for the current request.
func LogEnabled(level Level) bool {
	if level < LevelDebug || level >= LevelNone {
		return false
	}
	shift := 2 * uint(level+1)
	if logCache&(1<<shift) == 0 {
		logCache |= 1 << shift
		if abi.LogEnabled(int32(level)) == 1 {
			logCache |= 2 << shift
		}
	}
	return logCache&(2<<shift) != 0
}

// Log writes msg to the host's log at level (Sluice logs it with the filter
// and route names).
func Log(level Level, msg string) {
	if msg != "" {
		abi.Log(int32(level), msg)
	}
}

// Logf formats and logs a message, skipping the formatting when level is not
// logged.
func Logf(level Level, format string, args ...any) {
	if LogEnabled(level) {
		abi.Log(int32(level), fmt.Sprintf(format, args...))
	}
}

// Features is a set of optional host features.
type Features uint32

const (
	// FeatureBufferRequest buffers the request body on the host, so the
	// filter can read it and the upstream still receives all of it.
	FeatureBufferRequest Features = Features(abi.FeatureBufferRequest)
	// FeatureBufferResponse holds back the upstream's response until
	// HandleResponse returns, so the filter can read and replace its body
	// and set its status code.
	FeatureBufferResponse Features = Features(abi.FeatureBufferResponse)
	// FeatureTrailers gives access to trailers.
	FeatureTrailers Features = Features(abi.FeatureTrailers)
	// FeatureStateless is the declaration [Stateless] makes; enabled in
	// HandleRequest it has no effect.
	FeatureStateless Features = Features(abi.FeatureStateless)
	// FeatureHoldsResponseHead is reported by hosts (Sluice) that send no
	// status or header before a phase returns; it cannot be enabled. On a
	// host without it the SDK enables FeatureBufferResponse where the
	// filter needs it (see "Other hosts" in the package documentation).
	FeatureHoldsResponseHead Features = Features(abi.FeatureHoldsResponseHead)
)

// Has reports whether every feature in want is in f.
func (f Features) Has(want Features) bool { return f&want == want }

func (f Features) String() string {
	if f == 0 {
		return "none"
	}
	var parts []string
	for _, n := range []struct {
		f    Features
		name string
	}{{FeatureBufferRequest, "buffer_request"}, {FeatureBufferResponse, "buffer_response"}, {FeatureTrailers, "trailers"}, {FeatureStateless, "stateless"}, {FeatureHoldsResponseHead, "holds_response_head"}} {
		if f&n.f != 0 {
			parts = append(parts, n.name)
			f &^= n.f
		}
	}
	if f != 0 {
		parts = append(parts, fmt.Sprintf("0x%x", uint32(f)))
	}
	return strings.Join(parts, "|")
}

// EnableFeatures asks the host to enable want and returns every feature the
// host supports; check the result with Has. Called from init (or a
// constructor registered with HandleNew), the features hold for every
// request; called from HandleRequest, only for the current request, which
// keeps costly buffering to the requests that need it. Called from
// HandleResponse it is too late to change anything.
func EnableFeatures(want Features) Features {
	return Features(abi.EnableFeatures(uint32(want)))
}
