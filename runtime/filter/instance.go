package filter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"
)

// phase is where an instance is in its current exchange.
type phase uint8

const (
	phaseIdle     phase = iota // no exchange: pooled, or initialising
	phaseRequest               // inside handle_request
	phaseResponse              // inside handle_response
	phaseBetween               // handle_request returned next=1; waiting for HandleResponse
)

// Instance is one instantiated guest. It serves one goroutine at a time:
// the edge Acquires it, runs both phases of one request on it (the guest may
// keep per-request state between them, keyed by reqCtx), and Releases it.
// An unpinned module's request instead Detaches its instance after
// handle_request and Resumes on any instance for handle_response.
type Instance struct {
	m          *Module
	mod        api.Module
	mem        api.Memory
	lin        linearMemory        // what backs mem (outside the Go heap on Linux)
	globals    []api.MutableGlobal // the image's globals in this instance; nil without an image
	handleReq  api.Function
	handleResp api.Function
	watch      *watchdog // nil when the module has no deadline
	cc         callCtx
	stack      [5]uint64   // the most parameters of a guest export: proxy_on_http_call_response's
	pw         *pwInstance // proxy-wasm state; nil for an http-wasm guest
	stdout     *logWriter
	stderr     *logWriter

	base     Features // enabled during initialisation: every request
	poisoned bool     // trapped, timed out or misused the ABI: never reuse
	fault    *guestFault
	lastUsed time.Time // when it was last released (pool idle reaping)
	released bool      // idle, and its pages went back to the OS since its last use

	// Per-exchange state, reset by begin.
	x           *Exchange
	phase       phase
	reqFeatures Features // enabled during this request
	reqCtx      uint32
	reqRead     []byte // request body read, kept with FeatureBufferRequest
	reqEOF      bool   // the request body was read to its end
	reqConsumed bool   // request body bytes were read in this exchange
	clientErr   error  // reading the request body failed: the client's fault
	reqOut      []byte // request body written by the guest
	reqWritten  bool
	respRead    int  // read offset in Resp.Body
	respWritten bool // write_body(response) already called in this phase
	headerBytes int  // header bytes set or added in this exchange

	deadline time.Time      // when the guest call in progress must end; zero: none
	outbound outboundResult // the last http_call's answer (hostfuncs_sluice_http.go)

	names map[string]string // header name as the guest spells it → canonical key
}

// newInstance instantiates the module and runs its start function and
// _initialize (or _start) under the init deadline.
func (m *Module) newInstance(ctx context.Context) (*Instance, error) {
	i := &Instance{
		m:      m,
		stdout: &logWriter{logger: m.logger, level: slog.LevelInfo, stream: "stdout"},
		stderr: &logWriter{logger: m.logger, level: slog.LevelWarn, stream: "stderr"},
	}
	i.cc.inst = i
	actx := experimental.WithMemoryAllocator(ctx, m.allocator(&i.lin))
	mod, err := m.rt.rt.InstantiateModule(actx, m.compiled, m.moduleConfig(i.stdout, i.stderr))
	if err != nil {
		return nil, filterError(m.name, "instantiate", ErrInvalidModule, firstLine(err))
	}
	i.mod = mod
	i.mem = mod.ExportedMemory(exportMemory)
	i.handleReq = mod.ExportedFunction(exportRequest)
	i.handleResp = mod.ExportedFunction(exportResponse)
	if m.abi == abiProxyWasm {
		i.pw = newPWInstance(mod)
	}
	if m.interrupt {
		flag, ok := mod.ExportedGlobal(exportInterrupt).(api.MutableGlobal)
		if !ok {
			_ = mod.Close(ctx)
			return nil, filterError(m.name, "instantiate", ErrInvalidModule, "interrupt flag missing")
		}
		i.watch = newWatchdog(flag)
	}
	if img := m.image; img != nil {
		if err := i.fromImage(ctx, img); err != nil {
			i.close(ctx)
			return nil, err
		}
		m.obs.created.Inc()
		return i, nil
	}
	if err := i.writeData(m.data); err != nil {
		i.close(ctx)
		return nil, err
	}
	timeout := max(m.opts.Timeout, minInitTimeout)
	var inits []string
	if m.hasStart { // the rewriter exported the start function under this name
		inits = append(inits, exportStartFunc)
	}
	for _, name := range append(inits, m.initFunc) {
		fn := mod.ExportedFunction(name)
		if name == "" || fn == nil {
			continue
		}
		if err := i.call(ctx, name, fn, timeout); err != nil {
			i.close(ctx)
			return nil, err
		}
	}
	if i.pw != nil {
		if err := i.pwStartRoot(ctx, timeout); err != nil {
			i.close(ctx)
			return nil, err
		}
	}
	m.obs.created.Inc()
	return i, nil
}

// HandleRequest calls the guest's handle_request on x. next reports whether
// the edge should go on (call the upstream or the next filter, then
// HandleResponse on this same instance); when false the guest answered and
// x.Resp is the response. An error means the request must fail (or skip the
// filter, for fail_open) and the instance will be dropped on Release.
func (i *Instance) HandleRequest(ctx context.Context, x *Exchange) (next bool, err error) {
	const op = exportRequest
	if i.poisoned {
		return false, filterError(i.m.name, op, ErrClosed, "instance is poisoned")
	}
	if x == nil || x.Req == nil {
		return false, filterError(i.m.name, op, ErrTrap, "no request")
	}
	if x.Resp == nil {
		x.Resp = &Response{Status: http.StatusOK}
	}
	if x.Resp.Header == nil {
		x.Resp.Header = http.Header{}
	}
	if i.pw != nil {
		return i.pwHandleRequest(ctx, x)
	}
	i.begin(x)
	i.phase = phaseRequest
	err = i.call(ctx, op, i.handleReq, i.m.opts.Timeout)
	if err != nil && i.clientErr != nil {
		// The body read failed first (a body read bounded by the call's
		// deadline fails at the moment the guest's deadline fires): the
		// client is the cause. A fired instance stays poisoned.
		i.end()
		return false, fmt.Errorf("filter %q: %s: %w: %w", i.m.name, op, ErrClientBody, i.clientErr)
	}
	if err != nil {
		err = i.restoreRequestBody(err)
		i.end()
		return false, err
	}
	reqCtx, next := splitCtxNext(i.stack[0])
	if i.clientErr != nil {
		// The guest saw an early end of body and may have answered or
		// passed the request on; either way the request cannot go on.
		// The guest did nothing wrong: finish its exchange and keep it.
		if next {
			i.phase, i.reqCtx = phaseBetween, reqCtx
			_ = i.HandleResponse(context.WithoutCancel(ctx), x, true)
		}
		i.end()
		return false, fmt.Errorf("filter %q: %s: %w: %w", i.m.name, op, ErrClientBody, i.clientErr)
	}
	i.finishRequestBody()
	if !next {
		i.end()
		return false, nil
	}
	i.reqCtx = reqCtx
	i.phase = phaseBetween
	return true, nil
}

// HandleResponse calls the guest's handle_response with the reqCtx its
// handle_request returned. isError tells the guest the edge failed to get a
// response (upstream error); x.Resp then holds the error response. It must
// follow a HandleRequest that returned next=true on this instance with the
// same x, or a Resume with the Pending of that request.
func (i *Instance) HandleResponse(ctx context.Context, x *Exchange, isError bool) error {
	const op = exportResponse
	if i.pw != nil {
		// The request body's callbacks may still run on the transport's
		// goroutine: the response phase waits for the one in progress and
		// detaches the stream (proxywasm_reqbody.go).
		i.pw.mu.Lock()
		defer i.pw.mu.Unlock()
		i.pw.detachRequestStream()
	}
	if i.poisoned {
		return filterError(i.m.name, op, ErrClosed, "instance is poisoned")
	}
	if i.phase != phaseBetween || i.x != x {
		return filterError(i.m.name, op, ErrTrap, "not preceded by handle_request returning next=1 for this exchange")
	}
	if x.Resp.Header == nil {
		x.Resp.Header = http.Header{}
	}
	i.phase = phaseResponse
	i.respRead, i.respWritten = 0, false
	if i.pw != nil {
		return i.pwHandleResponse(ctx, x, isError)
	}
	i.stack[0] = uint64(i.reqCtx)
	i.stack[1] = 0
	if isError {
		i.stack[1] = 1
	}
	err := i.call(ctx, op, i.handleResp, i.m.opts.Timeout)
	i.end()
	return err
}

// Pending is a request between its two phases on an unpinned module (one
// whose guest declared FeatureStateless): what handle_response needs of
// the handle_request that ran, kept by the edge while no instance is held.
type Pending struct {
	m        *Module
	reqCtx   uint32
	features Features // in effect for the request: the module's and those enabled in handle_request
}

// Features returns the features in effect for the request, as
// Instance.Features did after its handle_request.
func (p Pending) Features() Features { return p.features }

// Detach ends this instance's part in the request after a HandleRequest
// that returned next=true, so that it can be released while the upstream
// answers: the reqCtx the guest returned and the features it enabled go
// into the Pending, which Resume hands to any instance of the module for
// handle_response. Only an unpinned module's instances detach: a pinned
// guest may keep the request's state in its memory.
func (i *Instance) Detach() (Pending, error) {
	const op = "detach"
	if i.m.pinned {
		return Pending{}, filterError(i.m.name, op, ErrTrap, "the module is pinned: handle_response must run on this instance")
	}
	if i.phase != phaseBetween {
		return Pending{}, filterError(i.m.name, op, ErrTrap, "not after handle_request returning next=1")
	}
	p := Pending{m: i.m, reqCtx: i.reqCtx, features: i.Features()}
	i.end()
	return p, nil
}

// Resume makes this idle instance, just acquired, the one that runs the
// handle_response of p's request on x: HandleResponse follows as on the
// instance that ran handle_request. The instance must belong to p's module.
func (i *Instance) Resume(p Pending, x *Exchange) error {
	const op = "resume"
	switch {
	case p.m != i.m:
		return filterError(i.m.name, op, ErrTrap, "the request was detached from another module")
	case i.poisoned:
		return filterError(i.m.name, op, ErrClosed, "instance is poisoned")
	case i.phase != phaseIdle || i.x != nil:
		return filterError(i.m.name, op, ErrTrap, "instance is in another exchange")
	case x == nil || x.Req == nil || x.Resp == nil:
		return filterError(i.m.name, op, ErrTrap, "no exchange")
	}
	i.begin(x)
	// Per-request features (trailers, buffer_response) hold in the
	// response phase whichever instance runs it.
	i.reqFeatures = p.features &^ i.base
	i.reqCtx = p.reqCtx
	i.phase = phaseBetween
	return nil
}

// Features returns the features in effect for the current (or last)
// request: those enabled at initialisation plus those the guest enabled in
// handle_request. The edge reads it after HandleRequest to know whether to
// buffer the response (FeatureBufferResponse).
func (i *Instance) Features() Features { return i.base | i.reqFeatures }

func (i *Instance) begin(x *Exchange) {
	i.x = x
	i.reqFeatures = 0
	i.reqCtx = 0
	i.reqRead, i.reqEOF, i.reqConsumed = i.reqRead[:0], false, false
	i.clientErr = nil
	i.reqOut, i.reqWritten = i.reqOut[:0], false
	i.respRead, i.respWritten = 0, false
	i.headerBytes = 0
	i.outbound = outboundResult{}
}

// end forgets the exchange, keeping reqFeatures for Features.
func (i *Instance) end() {
	i.x = nil
	i.outbound = outboundResult{} // don't pin an answer in an idle instance
	i.phase = phaseIdle
	if cap(i.reqRead) > 64<<10 {
		i.reqRead = nil // don't pin a large body in an idle instance
	}
	if cap(i.reqOut) > 64<<10 {
		i.reqOut = nil
	}
}

// restoreRequestBody puts back what a failed handle_request read of the
// request body, so that a fail_open chain can go on without the filter: a
// buffered read is replayed; bytes read without buffering are gone, and the
// error then also wraps ErrBodyConsumed.
func (i *Instance) restoreRequestBody(err error) error {
	switch {
	case !i.reqConsumed:
	case i.Features().Has(FeatureBufferRequest):
		i.reqWritten = false
		i.finishRequestBody()
	default:
		err = fmt.Errorf("%w (%w)", err, ErrBodyConsumed)
	}
	return err
}

// finishRequestBody gives the request the body the next handler must see.
func (i *Instance) finishRequestBody() {
	req := i.x.Req
	switch {
	case i.reqWritten:
		setBody(req, bytes.Clone(i.reqOut))
	case len(i.reqRead) > 0 && i.Features().Has(FeatureBufferRequest):
		if i.reqEOF {
			setBody(req, bytes.Clone(i.reqRead))
			break
		}
		rest := req.Body
		req.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(bytes.Clone(i.reqRead)), rest), rest}
	}
}

func setBody(req *http.Request, b []byte) {
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.ContentLength = int64(len(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	req.TransferEncoding = nil
	req.Header.Del("Content-Length")
}

// call runs fn with i.stack under the deadline and classifies a failure.
// On any failure, and whenever the deadline fired, the instance is
// poisoned.
func (i *Instance) call(ctx context.Context, op string, fn api.Function, timeout time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("filter %q: %s: %w", i.m.name, op, err)
	}
	i.fault = nil
	i.stderr.first = ""
	if i.pw != nil {
		i.pw.lastError = ""
	}
	var err error
	var fired bool
	start := time.Now()
	switch {
	case i.watch != nil:
		deadline := start.Add(timeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		i.cc.Context = ctx
		i.deadline = deadline
		i.watch.arm(deadline)
		err = fn.CallWithStack(&i.cc, i.stack[:])
		fired = i.watch.disarm()
	case i.m.rt.closeOnContextDone && timeout > 0:
		// wazero's watcher goroutine keeps reading the context after the
		// call returns, so it gets a context of its own, not i.cc.
		cctx, cancel := context.WithTimeout(ctx, timeout)
		i.deadline, _ = cctx.Deadline()
		err = fn.CallWithStack(&callCtx{Context: cctx, inst: i}, i.stack[:])
		cancel()
	default:
		i.cc.Context = ctx
		i.deadline, _ = ctx.Deadline()
		err = fn.CallWithStack(&i.cc, i.stack[:])
	}
	i.cc.Context = nil // don't retain the request's context
	phase, isPhase := phaseIndex(op)
	if isPhase {
		i.m.obs.calls[phase].Observe(time.Since(start).Seconds())
	}
	i.deadline = time.Time{}
	if err == nil && !fired {
		return nil
	}
	i.poisoned = true
	err = i.classify(op, err, fired, timeout)
	if isPhase {
		if errors.Is(err, ErrTimeout) {
			i.m.obs.timeouts[phase].Inc()
		} else {
			i.m.obs.traps[phase].Inc()
		}
	}
	return err
}

// classify turns a failed call into an error wrapping one sentinel.
func (i *Instance) classify(op string, err error, fired bool, timeout time.Duration) error {
	name := i.m.name
	var exit *sys.ExitError
	isExit := errors.As(err, &exit)
	switch {
	case fired:
		return filterError(name, op, ErrTimeout, fmt.Sprintf("deadline of %v exceeded", timeout))
	case isExit && (exit.ExitCode() == sys.ExitCodeDeadlineExceeded || exit.ExitCode() == sys.ExitCodeContextCanceled):
		return filterError(name, op, ErrTimeout, fmt.Sprintf("deadline of %v exceeded", timeout))
	case i.fault != nil:
		return filterError(name, op, ErrTrap, i.fault.msg)
	}
	detail := firstLine(err)
	if isExit {
		detail = fmt.Sprintf("exit code %d", exit.ExitCode())
	}
	i.stderr.flush()
	if i.stderr.first != "" {
		detail += fmt.Sprintf(" (stderr: %q)", i.stderr.first)
	}
	if i.pw != nil && i.pw.lastError != "" {
		detail += fmt.Sprintf(" (log: %q)", i.pw.lastError)
	}
	limit := uint64(i.m.memPages) * wasmPageSize
	if uint64(i.mem.Size())+wasmPageSize > limit || strings.Contains(i.stderr.first, "out of memory") {
		return filterError(name, op, ErrMemory, fmt.Sprintf("%d bytes reached: %s", limit, detail))
	}
	return filterError(name, op, ErrTrap, detail)
}

// firstLine strips wazero's wasm stack trace and "wasm error: " prefix.
func firstLine(err error) string {
	s := err.Error()
	if j := strings.IndexByte(s, '\n'); j >= 0 {
		s = s[:j]
	}
	return strings.TrimPrefix(s, "wasm error: ")
}

// close releases the guest instance.
func (i *Instance) close(ctx context.Context) {
	if i.watch != nil {
		i.watch.stop()
	}
	i.stdout.flush()
	i.stderr.flush()
	_ = i.mod.Close(ctx)
}
