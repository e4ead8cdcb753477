package edge

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/sluicegw/sluice/runtime/filter"
	"github.com/sluicegw/sluice/runtime/httperr"
)

// A proxy-wasm filter with a response body callback sees the upstream's
// body chunk by chunk, as Envoy calls it (filter/proxywasm_respbody.go):
// the header hook passes each chunk the forwarder writes through the
// streaming filters, in response order, and writes what comes out. A
// filter that pauses holds its chunks (its instance stays pinned until
// the body ends); one that holds the headers keeps them unsent, and
// writable, until a chunk comes out of every filter.

// streamsResponseBody reports whether a filter's guest streams the
// response body.
func (run *filterRun) streamsResponseBody() bool {
	for i := range run.pinned {
		if run.pinned[i].streaming {
			return true
		}
	}
	return false
}

// responseHeadersHeld reports whether a streaming guest holds the
// response's headers.
func (run *filterRun) responseHeadersHeld() bool {
	for i := range run.pinned {
		if p := &run.pinned[i]; p.streaming && p.inst.ResponseHeadersHeld() {
			return true
		}
	}
	return false
}

// responseChunk passes chunk through the streaming filters, the last of
// the chain first, and returns what comes out; eos marks the body's end,
// which every filter sees even when nothing is left to pass. A failure is
// the filter's: the response cannot go on.
func (run *filterRun) responseChunk(chunk []byte, eos bool) ([]byte, error) {
	for i := len(run.pinned) - 1; i >= 0; i-- {
		p := &run.pinned[i]
		if !p.streaming {
			continue
		}
		if len(chunk) == 0 && !eos {
			return nil, nil // held by a later filter
		}
		out, err := p.inst.ResponseChunk(run.ctx, chunk, eos)
		if err != nil {
			// Also for fail_open: what the guest held is gone with it.
			run.log.Error("filter failed on the response body; response cut", "filter", p.f.name, "error", err.Error())
			if errors.Is(err, filter.ErrTooLarge) {
				// As when the edge buffers a response too large (stage_origin.go).
				return nil, httperr.Wrap(http.StatusBadGateway, "upstream response too large for the route's filters", err)
			}
			return nil, filterFailure(p.f.name, err)
		}
		chunk = out
	}
	return chunk, nil
}

// endResponseBodies ends the streaming filters' response phase and
// releases their instances: at the body's end, or when the request ends
// (the forwarder failed, the client left).
func (run *filterRun) endResponseBodies() {
	for i := range run.pinned {
		if run.pinned[i].streaming {
			run.endResponseBody(&run.pinned[i])
		}
	}
}

func (run *filterRun) endResponseBody(p *pinnedFilter) {
	if err := p.inst.EndResponse(run.ctx); err != nil {
		run.log.Error("filter failed ending the response", "filter", p.f.name, "error", err.Error())
	}
	p.f.module.Release(p.inst)
	p.inst, p.streaming = nil, false
}

// writeStreamed is Write while the body streams through guests. The
// request phase's body (prefix) goes through them first.
func (h *headerHookWriter) writeStreamed(p []byte) (int, error) {
	chunk := p
	if len(h.prefix) > 0 {
		chunk = append(h.prefix, p...)
		h.prefix = nil
	}
	if err := h.passChunk(chunk, false); err != nil {
		return 0, err
	}
	return len(p), nil
}

// endStreamedBody passes the end of the body through the guests, with the
// upstream's trailers (net/http's prefix form in the header map, where
// the forwarder wrote them) as the guests' response trailers, and ends
// their streams. Trailers are sent after the body when the response is
// chunked, which a streamed one is.
func (h *headerHookWriter) endStreamedBody() error {
	hdr := h.ResponseWriter.Header()
	resp := h.run.x.Resp
	for k, vs := range hdr {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			if resp.Trailer == nil {
				resp.Trailer = http.Header{}
			}
			resp.Trailer[http.CanonicalHeaderKey(name)] = vs
			delete(hdr, k)
		}
	}
	chunk := h.prefix
	h.prefix = nil
	err := h.passChunk(chunk, true)
	if err == nil {
		for k, vs := range resp.Trailer {
			hdr[http.TrailerPrefix+k] = vs
		}
	}
	h.run.endResponseBodies()
	return err
}

// passChunk writes what the guests let through of chunk, first the held
// headers when they let those go. A failure before the headers were sent
// is the answer; after, it cuts the response (h.cut).
func (h *headerHookWriter) passChunk(chunk []byte, eos bool) error {
	out, err := h.run.responseChunk(chunk, eos)
	if err != nil {
		if h.heldStatus != 0 {
			h.heldStatus = 0
			h.err, h.swallow = err, true
			clear(h.ResponseWriter.Header())
			h.x.writeError(h.ResponseWriter, err)
			return errBodySwallowed
		}
		// The headers went out: the response can only be cut, never end
		// as if whole (Exchange.finish aborts it, as the forwarder aborts
		// an upstream body that broke off). The guests see no more of it.
		h.cut, h.swallow = err, true
		return err // the forwarder stops
	}
	if h.heldStatus != 0 && (len(out) > 0 || eos) && !h.run.responseHeadersHeld() {
		if eos && len(h.run.x.Resp.Trailer) == 0 {
			// The whole body was held: its length is known.
			h.ResponseWriter.Header().Set("Content-Length", strconv.Itoa(len(out)))
		}
		status := h.heldStatus
		h.heldStatus = 0
		h.ResponseWriter.WriteHeader(status)
	}
	if len(out) == 0 {
		return nil
	}
	_, err = h.ResponseWriter.Write(out)
	return err
}
