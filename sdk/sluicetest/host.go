//go:build !wasip1

package sluicetest

import (
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"

	sluice "github.com/sluicegw/sluice/sdk"
	"github.com/sluicegw/sluice/sdk/internal/abi"
)

// Host is an in-memory http-wasm host with one filter loaded.
type Host struct {
	t        testing.TB
	mem      *abi.Host
	features sluice.Features
}

// boot is the host that package init functions ran against: features a
// filter enables in init hold for every Host.
var boot = abi.Mem

var (
	mu     sync.Mutex
	active []testing.TB // tests holding a Host, outermost first
)

// New loads the registered filter (or the one given WithFilter) with the
// options' configuration, failing the test if its constructor fails.
func New(t testing.TB, opts ...Option) *Host {
	t.Helper()
	h, err := Load(t, opts...)
	if err != nil {
		t.Fatalf("sluicetest: %v", err)
	}
	return h
}

// Load is New returning the constructor's error, to test that a filter
// refuses a bad configuration.
func Load(t testing.TB, opts ...Option) (*Host, error) {
	t.Helper()
	o := options{logLevel: sluice.LevelDebug, supported: sluice.FeatureBufferRequest | sluice.FeatureBufferResponse | sluice.FeatureTrailers | sluice.FeatureStateless | sluice.FeatureHoldsResponseHead}
	for _, opt := range opts {
		opt(&o)
	}
	enter(t)

	prev := abi.Mem
	restore := abi.Guest.Save()
	mem := abi.NewHost()
	mem.Config = o.config
	mem.LogLevel = int32(o.logLevel)
	mem.Supported = uint32(o.supported)
	mem.Calls.Do = callHandler(o.upstreams)
	mem.InitFeatures = boot.InitFeatures & mem.Supported
	mem.Features = mem.InitFeatures
	mem.MetricDefs = slices.Clone(boot.MetricDefs) // defined by package variables, at init
	abi.Mem = mem
	h := &Host{t: t, mem: mem}
	t.Cleanup(func() {
		if t.Failed() && len(mem.Logs) > 0 {
			t.Logf("filter logs:\n%s", h.logText())
		}
		restore()
		abi.Mem = prev
		leave(t)
	})

	var err error
	h.call(func() {
		if o.filter != nil {
			abi.Guest.Use(o.filter)
		} else {
			err = abi.Guest.Init()
		}
	})
	return h, err
}

func enter(t testing.TB) {
	mu.Lock()
	defer mu.Unlock()
	if n := len(active); n > 0 {
		outer := active[n-1].Name()
		if outer != t.Name() && !strings.HasPrefix(t.Name(), outer+"/") {
			t.Fatalf("sluicetest: %s and %s both hold a Host: tests using sluicetest must not call t.Parallel", outer, t.Name())
		}
	}
	active = append(active, t)
}

func leave(t testing.TB) {
	mu.Lock()
	defer mu.Unlock()
	for i := len(active) - 1; i >= 0; i-- {
		if active[i] == t {
			active = append(active[:i], active[i+1:]...)
			return
		}
	}
}

// call runs fn, turning a panic (the filter's, or a trap of the host) into a
// test failure that says where it came from.
func (h *Host) call(fn func()) {
	h.t.Helper()
	var failure string
	func() {
		defer func() {
			switch r := recover().(type) {
			case nil:
			case *abi.Trap:
				failure = fmt.Sprintf("host trap: %s\n%s", r.Reason, debug.Stack())
			default:
				failure = fmt.Sprintf("filter panicked: %v\n%s", r, debug.Stack())
			}
		}()
		fn()
	}()
	if failure != "" {
		h.t.Fatalf("sluicetest: %s", failure)
	}
}

// Stateless reports whether the filter declared itself stateless while it
// initialised ([sluice.Stateless], or a [sluice.RequestFunc]): Sluice then
// may run its two phases of a request on two instances.
func (h *Host) Stateless() bool { return h.mem.InitFeatures&abi.FeatureStateless != 0 }

// HandleRequest runs the filter's request phase on req, which the filter
// changes in place; req.Body becomes what the upstream would receive. It
// returns whether the filter passed the request on, and the response it
// wrote (an empty 200 unless it answered).
func (h *Host) HandleRequest(req *Request) (next bool, resp *Response) {
	h.t.Helper()
	m := h.mem
	m.Phase = abi.PhaseRequest
	m.Features = m.InitFeatures
	resp = NewResponse(200, "")
	h.install(req, resp)
	original := req.Body
	h.call(func() { next = abi.Guest.HandleRequest().Next() })
	h.features = sluice.Features(m.Features)
	h.collect(req, resp)
	switch {
	case m.Written[abi.BodyRequest]:
	case m.Features&abi.FeatureBufferRequest != 0:
		req.Body = original
	default:
		req.Body = original[m.ReadOffset[abi.BodyRequest]:]
	}
	return next, resp
}

// HandleResponse runs the filter's response phase with the upstream's
// response resp, which the filter changes in place. The features enabled in
// the last HandleRequest hold.
func (h *Host) HandleResponse(req *Request, resp *Response, isError bool) {
	h.t.Helper()
	m := h.mem
	m.Phase = abi.PhaseResponse
	h.install(req, resp)
	m.Features = uint32(h.features) | m.InitFeatures
	h.call(func() { abi.Guest.HandleResponse(0, isError) })
	h.collect(req, resp)
}

// Do runs one exchange: the request phase, then, when the filter passed the
// request on, the response phase with a copy of upstream (nil: an empty 200)
// as the upstream's answer.
func (h *Host) Do(req *Request, upstream *Response) *Result {
	h.t.Helper()
	next, resp := h.HandleRequest(req)
	res := &Result{Next: next, Request: req, Response: resp, Features: h.features}
	if !next {
		return res
	}
	if upstream == nil {
		upstream = NewResponse(200, "")
	}
	res.Response = upstream.Clone()
	h.HandleResponse(req, res.Response, false)
	return res
}

// Logs returns the messages the filter logged since the Host was created,
// its constructor's included.
func (h *Host) Logs() []Log {
	out := make([]Log, len(h.mem.Logs))
	for i, l := range h.mem.Logs {
		out[i] = Log{Level: sluice.Level(l.Level), Message: l.Message}
	}
	return out
}

func (h *Host) logText() string {
	var b strings.Builder
	for _, l := range h.Logs() {
		fmt.Fprintf(&b, "  [%s] %s\n", l.Level, l.Message)
	}
	return b.String()
}

func (h *Host) install(req *Request, resp *Response) {
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if req.Trailer == nil {
		req.Trailer = http.Header{}
	}
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	if resp.Trailer == nil {
		resp.Trailer = http.Header{}
	}
	m := h.mem
	m.Method, m.URI, m.Proto, m.SourceAddr = or(req.Method, "GET"), or(req.URI, "/"), or(req.Proto, "HTTP/1.1"), or(req.SourceAddr, "192.0.2.1:40000")
	m.Headers = [4]map[string][]string{req.Header, resp.Header, req.Trailer, resp.Trailer}
	m.Bodies = [2][]byte{req.Body, resp.Body}
	m.ReadOffset, m.Written = [2]int{}, [2]bool{}
	m.Status = uint32(resp.StatusCode)
	if m.Status == 0 {
		m.Status = 200
	}
}

func (h *Host) collect(req *Request, resp *Response) {
	m := h.mem
	req.Method, req.URI = m.Method, m.URI
	if m.Written[abi.BodyRequest] {
		req.Body = m.Bodies[abi.BodyRequest]
	}
	resp.StatusCode = int(m.Status)
	if m.Written[abi.BodyResponse] {
		resp.Body = m.Bodies[abi.BodyResponse]
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
