package filter

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// A proxy-wasm guest runs on the same instances, pools, limits and image as
// an http-wasm one; this file maps its contexts onto an instance's
// exchange. Each instance has one root context (id 1), created, started
// and configured when the instance initialises (so instances from the
// image start configured), and one HTTP context per request it serves
// (ids from 2): proxy_on_context_create, then the request callbacks in
// HandleRequest, the response callbacks in HandleResponse, and
// proxy_on_done, proxy_on_log and proxy_on_delete when the stream ends. A
// proxy-wasm module is always pinned: its HTTP context lives in the
// instance's memory from the request to the response.
//
// Bodies stream chunk by chunk through proxy_on_request_body
// (proxywasm_reqbody.go) and proxy_on_response_body
// (proxywasm_respbody.go); the last call has end_of_stream set unless
// trailers follow (proxy_on_*_trailers). A headers callback that returns
// anything but Continue holds the headers until a body callback
// continues, as in Envoy; at the end of the stream the stream stays stopped until the guest calls
// proxy_continue_stream or proxy_send_local_response, which it may do from
// proxy_on_http_call_response. http calls a callback made are sent when it
// returns, one after the other, each answered by a
// proxy_on_http_call_response on the root context.

// minBodyReadTimeout is the least time a client gets to send the body a
// proxy-wasm filter holds the request for (its limits.timeout bounds guest
// calls, not the network): 16 MiB at 1.6 MB/s. A slower client is
// answered 408 rather than holding the instance longer.
const minBodyReadTimeout = 10 * time.Second

// pwInstance is an instance's proxy-wasm state.
type pwInstance struct {
	fns    map[string]api.Function // the guest's callbacks, by export name
	malloc api.Function
	nextID uint32 // the next HTTP context id

	// mu serialises the request body's callbacks, made by the upstream
	// transport's goroutine (pwRequestStream), with the response phase.
	mu sync.Mutex

	// The current stream; reset by beginStream.
	ctxID      uint32 // 0 outside a stream
	effective  uint32
	reqBody    []byte           // the request body the guest holds (Pause) and the current chunk
	reqStream  *pwRequestStream // the request body streaming through the guest; nil once detached
	inReqBody  bool             // in a body callback after the request went on: maps are read-only
	respStream bool             // the response body streams through the guest (proxywasm_respbody.go)
	respHeld   bool             // ... and its headers are not sent yet
	respBody   []byte           // the response body the guest holds (Pause) and the current chunk
	bodyEOS    bool             // the current body callback's end_of_stream (buffer status flags)
	local      *Response        // proxy_send_local_response's answer
	continued  bool             // proxy_continue_stream since the last callback
	calls      []*pwCall        // http calls to send when the callback returns
	callResp   *pwCallResponse
	props      map[string][]byte
	token      uint32
	// lastError is the last error or critical proxy_log of the current
	// call: the SDKs log why they abort, and a failure's error quotes it.
	lastError string
}

func newPWInstance(mod api.Module) *pwInstance {
	p := &pwInstance{fns: map[string]api.Function{}, nextID: pwRootContext + 1, bodyEOS: true}
	for _, e := range pwExports {
		if fn := mod.ExportedFunction(e.name); fn != nil {
			p.fns[e.name] = fn
		}
	}
	p.malloc = p.fns[pwMalloc.name]
	if p.malloc == nil {
		p.malloc = p.fns[pwMemoryAllocate.name]
	}
	return p
}

func (p *pwInstance) beginStream() {
	p.ctxID = p.nextID
	p.nextID++
	if p.nextID == 0 { // wrapped: skip 0 and the root
		p.nextID = pwRootContext + 1
	}
	p.effective = p.ctxID
	p.detachRequestStream()
	p.reqBody = nil
	p.respStream, p.respHeld, p.respBody = false, false, nil
	p.local, p.continued = nil, false
	p.calls, p.callResp = p.calls[:0], nil
	p.props = nil
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// pwInvoke calls the guest's callback e with args, bounded by timeout; a
// callback the guest does not export is skipped and reads as Continue (0).
func (i *Instance) pwInvoke(ctx context.Context, e pwExport, timeout time.Duration, args ...uint32) (uint32, error) {
	fn := i.pw.fns[e.name]
	if fn == nil {
		return 0, nil
	}
	for j, a := range args {
		i.stack[j] = uint64(a)
	}
	if err := i.call(ctx, e.name, fn, timeout); err != nil {
		return 0, err
	}
	return uint32(i.stack[0]), nil
}

// pwStartRoot creates, starts and configures the root context, once per
// module load (instances from the image inherit it). A guest that answers
// false to proxy_on_vm_start or proxy_on_configure is refused, as Envoy
// refuses it.
func (i *Instance) pwStartRoot(ctx context.Context, timeout time.Duration) error {
	if _, err := i.pwInvoke(ctx, pwOnContextCreate, timeout, pwRootContext, 0); err != nil {
		return err
	}
	if ok, err := i.pwInvoke(ctx, pwOnVMStart, timeout, pwRootContext, 0); err != nil {
		return err
	} else if ok == 0 && i.pw.fns[pwOnVMStart.name] != nil {
		return filterError(i.m.name, pwOnVMStart.name, ErrInvalidModule, "the guest returned false")
	}
	if ok, err := i.pwInvoke(ctx, pwOnConfigure, timeout, pwRootContext, uint32(len(i.m.pwConfig))); err != nil {
		return err
	} else if ok == 0 && i.pw.fns[pwOnConfigure.name] != nil {
		return filterError(i.m.name, pwOnConfigure.name, ErrInvalidModule, "the guest rejected its configuration")
	}
	if len(i.pw.calls) > 0 {
		return filterError(i.m.name, pwOnConfigure.name, ErrInvalidModule, "http calls are not allowed while the filter loads")
	}
	return nil
}

// pwHandleRequest is HandleRequest for a proxy-wasm guest.
func (i *Instance) pwHandleRequest(ctx context.Context, x *Exchange) (next bool, err error) {
	// A stream of this instance's last request may still be read: it
	// detaches under the lock (beginStream).
	i.pw.mu.Lock()
	defer i.pw.mu.Unlock()
	i.begin(x)
	i.phase = phaseRequest
	p := i.pw
	p.beginStream()
	timeout := i.m.opts.Timeout
	if _, err := i.pwInvoke(ctx, pwOnContextCreate, timeout, p.ctxID, pwRootContext); err != nil {
		i.end()
		return false, err
	}
	r := x.Req
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	pairs, _ := i.pwPairs(pwRequestHeaders)
	action, err := i.pwInvoke(ctx, pwOnRequestHeaders, timeout, p.ctxID, uint32(len(pairs)), b2u(!hasBody))
	if err == nil {
		err = i.pwSendCalls(ctx)
	}
	seesBody := p.fns[pwOnRequestBody.name] != nil || p.fns[pwOnRequestTrailers.name] != nil
	held := action != pwContinue && !p.continued
	switch {
	case err != nil || p.local != nil:
	case hasBody && held:
		err = i.pwHoldRequest(ctx)
	case held:
		err = filterError(i.m.name, pwOnRequestHeaders.name, ErrTrap, "stopped the request at its end and nothing resumed it (proxy_continue_stream)")
	case hasBody && seesBody:
		i.pwStreamRequest(ctx, r, nil)
	}
	if err == nil && p.local != nil {
		applyLocal(x.Resp, p.local)
	}
	if ferr := i.pwEndStream(ctx, err != nil || p.local != nil); err == nil {
		err = ferr
	}
	if err != nil || p.local != nil {
		i.end()
		return false, err
	}
	i.phase = phaseBetween
	return true, nil
}

// pwHandleResponse is HandleResponse for a proxy-wasm guest.
func (i *Instance) pwHandleResponse(ctx context.Context, x *Exchange, isError bool) error {
	p := i.pw
	buffered := x.Resp.Buffered
	// Without body or trailer callbacks the body streams past the guest.
	streams := !buffered && !isError && (p.fns[pwOnResponseBody.name] != nil || p.fns[pwOnResponseTrailers.name] != nil)
	p.local, p.continued = nil, false
	timeout := i.m.opts.Timeout
	pairs, _ := i.pwPairs(pwResponseHeaders)
	trailers := uint32(len(appendHeaderPairs(nil, x.Resp.Trailer)))
	op := pwOnResponseHeaders.name
	action, err := i.pwInvoke(ctx, pwOnResponseHeaders, timeout, p.ctxID, uint32(len(pairs)), b2u(buffered && len(x.Resp.Body) == 0 && trailers == 0))
	if err == nil {
		err = i.pwSendCalls(ctx)
	}
	if err == nil && p.local == nil && streams {
		// The body follows chunk by chunk (ResponseChunk), then EndResponse.
		p.respStream, p.respHeld, p.respBody = true, action != pwContinue && !p.continued, nil
		return nil
	}
	if err == nil && p.local == nil && len(x.Resp.Body) > 0 {
		op = pwOnResponseBody.name
		p.continued = false
		action, err = i.pwInvoke(ctx, pwOnResponseBody, timeout, p.ctxID, uint32(len(x.Resp.Body)), b2u(trailers == 0))
		if err == nil {
			err = i.pwSendCalls(ctx)
		}
	}
	if err == nil && p.local == nil && trailers > 0 {
		op = pwOnResponseTrailers.name
		p.continued = false
		action, err = i.pwInvoke(ctx, pwOnResponseTrailers, timeout, p.ctxID, trailers)
		if err == nil {
			err = i.pwSendCalls(ctx)
		}
	}
	if err == nil && p.local == nil && action != pwContinue && !p.continued {
		err = filterError(i.m.name, op, ErrTrap, "stopped the response at its end and nothing resumed it (proxy_continue_stream)")
	}
	if err == nil && p.local != nil {
		applyLocal(x.Resp, p.local)
	}
	if ferr := i.pwEndStream(ctx, true); err == nil {
		err = ferr
	}
	i.end()
	return err
}

// pwEndStream ends the stream's context when it will see no response
// phase (ending is true) or after it: proxy_on_done, proxy_on_log,
// proxy_on_delete. A poisoned instance is left alone: it will be closed.
func (i *Instance) pwEndStream(ctx context.Context, ending bool) error {
	p := i.pw
	if !ending || i.poisoned || p.ctxID == 0 {
		return nil
	}
	id := p.ctxID
	p.ctxID = 0
	timeout := i.m.opts.Timeout
	for _, e := range []pwExport{pwOnDone, pwOnLog, pwOnDelete} {
		if _, err := i.pwInvoke(ctx, e, timeout, id); err != nil {
			return err
		}
	}
	p.props = nil
	return nil
}

// applyLocal makes a local response the exchange's response, in place: the
// header map may be the one the edge writes.
func applyLocal(resp, local *Response) {
	resp.Status = local.Status
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	clear(resp.Header)
	for k, v := range local.Header {
		resp.Header[k] = v
	}
	resp.Body, resp.BodyWritten = local.Body, true
}

// pwConfig is the plugin configuration a proxy-wasm guest reads: the
// filter's config as JSON, except that a config that is one string is
// handed as that string, as Envoy's `configuration` is.
func pwConfig(conf []byte) []byte {
	var s string
	if json.Unmarshal(conf, &s) == nil {
		return []byte(s)
	}
	return conf
}
