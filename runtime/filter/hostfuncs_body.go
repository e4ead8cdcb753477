package filter

import (
	"errors"
	"io"
	"net/http"
	"time"
)

// The body functions take a body_kind (i32): 0 request, 1 response.

// read_body(kind i32, buf i32, buf_limit i32) -> eof_len i64
//
// Reads up to buf_limit bytes of the body into buf; the whole range
// [buf, buf+buf_limit) must be inside memory, and buf_limit 0 fails (the ABI
// says so). The request body is read from the network in handle_request
// only; with FeatureBufferRequest what is read is kept and replayed to the
// next handler, without it it is consumed. The response body is Resp.Body:
// the upstream's when FeatureBufferResponse buffered it, else empty (or what
// the guest wrote).
func (i *Instance) readBody(stack []uint64) {
	const fn = "read_body"
	kind := bodyKind(uint32(stack[0]))
	buf, limit := uint32(stack[1]), uint32(stack[2])
	i.needExchange(fn)
	if limit == 0 {
		i.fail("%s: buf_limit is zero", fn)
	}
	if kind != bodyRequest && kind != bodyResponse {
		i.fail("%s: invalid body kind %d", fn, kind)
	}
	dst := i.view(fn, "buf", buf, limit)
	if kind == bodyResponse {
		r := i.x.Resp
		n := copy(dst, r.Body[min(i.respRead, len(r.Body)):])
		i.respRead += n
		stack[0] = packEOFLen(i.respRead >= len(r.Body), uint32(n))
		return
	}
	if i.phase != phaseRequest {
		i.fail("%s: the request body can only be read in handle_request", fn)
	}
	body := i.x.Req.Body
	if body == nil || body == http.NoBody || i.reqEOF {
		i.reqEOF = true
		stack[0] = packEOFLen(true, 0)
		return
	}
	if set := i.x.SetReadDeadline; set != nil && i.watch != nil {
		if set(i.watch.callDeadline()) == nil {
			defer set(time.Time{})
		}
	}
	var n int
	var err error
	for tries := 0; n == 0 && err == nil && tries < 100; tries++ {
		n, err = body.Read(dst)
	}
	if n > 0 {
		i.reqConsumed = true
	}
	if err != nil && !errors.Is(err, io.EOF) {
		// The client's fault, not the guest's: the guest sees the end of
		// the body and HandleRequest fails the request with ErrClientBody.
		i.clientErr = err
		i.reqEOF = true
		stack[0] = packEOFLen(true, uint32(n))
		return
	}
	if i.Features().Has(FeatureBufferRequest) {
		if len(i.reqRead)+n > maxBodyBytes {
			i.fail("%s: request body larger than the %d bytes the host buffers", fn, maxBodyBytes)
		}
		i.reqRead = append(i.reqRead, dst[:n]...)
	}
	i.reqEOF = err != nil
	stack[0] = packEOFLen(i.reqEOF, uint32(n))
}

// write_body(kind i32, body i32, body_len i32)
//
// Appends body_len bytes at body to the body of kind. The first write of a
// phase replaces the body: for the request, in handle_request only; for the
// response, in either phase (Resp.BodyWritten is set). Each body is capped
// at maxBodyBytes.
func (i *Instance) writeBody(stack []uint64) {
	const fn = "write_body"
	kind := bodyKind(uint32(stack[0]))
	ptr, n := uint32(stack[1]), uint32(stack[2])
	i.needExchange(fn)
	switch kind {
	case bodyRequest:
		if i.phase != phaseRequest {
			i.fail("%s: the request body can only be written in handle_request", fn)
		}
		if !i.reqWritten {
			i.reqOut, i.reqWritten = i.reqOut[:0], true
		}
		if uint64(len(i.reqOut))+uint64(n) > maxBodyBytes {
			i.fail("%s: request body larger than %d bytes", fn, maxBodyBytes)
		}
		i.reqOut = append(i.reqOut, i.view(fn, "body", ptr, n)...)
	case bodyResponse:
		r := i.x.Resp
		if !i.respWritten {
			r.Body, i.respWritten, r.BodyWritten = nil, true, true
		}
		if uint64(len(r.Body))+uint64(n) > maxBodyBytes {
			i.fail("%s: response body larger than %d bytes", fn, maxBodyBytes)
		}
		r.Body = append(r.Body, i.view(fn, "body", ptr, n)...)
	default:
		i.fail("%s: invalid body kind %d", fn, kind)
	}
}
