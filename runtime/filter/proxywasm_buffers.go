package filter

import (
	"context"
)

// Buffers as proxy-wasm guests see them: the request body (what the guest
// held with Pause plus the current chunk, proxywasm_reqbody.go), the
// response body (buffered by the edge),
// an http call's response body inside its callback, and the plugin
// configuration (the filter's config). The VM configuration is empty.

// pwBuffer returns buffer t, or ok=false if there is none now.
func (i *Instance) pwBuffer(t pwBufferType) (b []byte, ok bool) {
	switch t {
	case pwRequestBody:
		return i.pw.reqBody, i.x != nil
	case pwResponseBody:
		if i.x == nil {
			return nil, false
		}
		if i.pw.respStream {
			return i.pw.respBody, true
		}
		return i.x.Resp.Body, true
	case pwHTTPCallResponse:
		if i.pw.callResp == nil {
			return nil, false
		}
		return i.pw.callResp.body, true
	case pwPluginConfiguration:
		return i.m.pwConfig, true
	case pwVMConfiguration:
		return nil, true
	}
	return nil, false
}

// proxy_get_buffer_bytes(type i32, start i32, max_size i32, ptr_ptr i32, size_ptr i32)
func (i *Instance) pwGetBufferBytes(ctx context.Context, stack []uint64) pwStatus {
	b, ok := i.pwBuffer(pwBufferType(stack[0]))
	if !ok {
		return pwNotFound
	}
	start, n := uint64(uint32(stack[1])), uint64(uint32(stack[2]))
	if start > uint64(len(b)) {
		return pwBadArgument
	}
	end := min(start+n, uint64(len(b)))
	return i.pwReturn(ctx, "proxy_get_buffer_bytes", b[start:end], uint32(stack[3]), uint32(stack[4]))
}

// proxy_get_buffer_status(type i32, length_ptr i32, flags_ptr i32): flags
// is the current body callback's end_of_stream (1 outside one: the other
// buffers are whole).
func (i *Instance) pwGetBufferStatus(_ context.Context, stack []uint64) pwStatus {
	const fn = "proxy_get_buffer_status"
	b, ok := i.pwBuffer(pwBufferType(stack[0]))
	if !ok {
		return pwNotFound
	}
	i.pwPutU32(fn, uint32(stack[1]), uint32(len(b)))
	i.pwPutU32(fn, uint32(stack[2]), b2u(i.pw.bodyEOS))
	return pwOK
}

// proxy_set_buffer_bytes(type i32, start i32, length i32, data i32, size i32):
// replaces [start, start+length) of a body with data (start 0 and length
// 0 prepends; a length past the end replaces to the end). On a streamed
// request body that is the chunks the guest holds: what it rewrites is
// what goes on when it continues.
func (i *Instance) pwSetBufferBytes(_ context.Context, stack []uint64) pwStatus {
	const fn = "proxy_set_buffer_bytes"
	t := pwBufferType(stack[0])
	if i.x == nil || t != pwRequestBody && t != pwResponseBody {
		return pwBadArgument
	}
	if t == pwRequestBody && i.phase != phaseRequest && !i.pw.inReqBody {
		return pwBadArgument // the request went on already
	}
	b, _ := i.pwBuffer(t)
	start, n := uint64(uint32(stack[1])), uint64(uint32(stack[2]))
	if start > uint64(len(b)) {
		return pwBadArgument
	}
	end := min(start+n, uint64(len(b)))
	data := i.view(fn, "data", uint32(stack[3]), uint32(stack[4]))
	if uint64(len(b))-(end-start)+uint64(len(data)) > maxBodyBytes {
		i.fail("%s: body over the limit of %d bytes", fn, maxBodyBytes)
	}
	out := make([]byte, 0, uint64(len(b))-(end-start)+uint64(len(data)))
	out = append(append(append(out, b[:start]...), data...), b[end:]...)
	switch {
	case t == pwRequestBody:
		i.pw.reqBody = out
	case i.pw.respStream:
		i.pw.respBody = out
	default:
		i.x.Resp.Body, i.x.Resp.BodyWritten = out, true
	}
	return pwOK
}
