package filter

import (
	"net/http"
	"time"
)

// Exchange is the request and response one filter instance sees during one
// request. The host functions read and mutate it in place; the edge reads
// it back after each phase.
type Exchange struct {
	// Req is the request. Host functions read and change its Method, URL
	// (path and query: the ABI's URI; URL is authoritative, RequestURI is
	// not updated), Proto, RemoteAddr, Host (as the "host" header), Header,
	// Trailer and Body. After handle_request, when the guest wrote a request
	// body, Body, ContentLength and GetBody describe the new body and any
	// Content-Length header and transfer encoding are removed; when it read
	// the body with FeatureBufferRequest, Body replays what it read followed
	// by the rest. Without FeatureBufferRequest, what the guest read is
	// consumed, as the ABI says.
	Req *http.Request
	// Resp is the response the guest sees and writes. When handle_request
	// returns next=0 the guest answered and the edge sends Resp as it is.
	// Headers the guest set in the request phase with next=1 stay in
	// Resp.Header: the edge adds the upstream's headers over them before the
	// response phase.
	Resp *Response
	// SetReadDeadline, when set, bounds reads of the request body by a
	// guest to the guest call's deadline (http.ResponseController's). A
	// client that sends its body too slowly then fails its own request
	// instead of holding the instance past its deadline.
	SetReadDeadline func(time.Time) error
	// RequestID is the edge's id of the request: added to what the guest
	// logs (the ABI's log) so its lines join the access log's, and a
	// proxy-wasm guest's request.id property.
	RequestID string
}

// Response is the response side of an Exchange.
type Response struct {
	// Status is the status code; 0 reads as 200.
	Status int
	// Header holds the response headers; Trailer the response trailers
	// (used only when the guest enabled FeatureTrailers).
	Header, Trailer http.Header
	// Body is the buffered upstream body when the guest enabled
	// FeatureBufferResponse (the edge fills it before HandleResponse), or
	// the body the guest wrote. A guest's first write_body of a phase
	// replaces it. A body written in handle_request that returned next=1
	// begins the response: the origin's body follows it (see
	// TakeRequestPhaseBody).
	Body []byte
	// BodyWritten reports that the guest wrote Body; the edge then sends
	// Body with a Content-Length of len(Body) instead of the upstream body.
	BodyWritten bool
	// Buffered reports that Body is the whole upstream body, buffered by
	// the edge (FeatureBufferResponse). Without it a proxy-wasm guest's
	// response body streams (Instance.ResponseBodyPending).
	Buffered bool
}

// NewExchange returns an Exchange for r with an empty 200 response, the
// response the ABI says a guest answers with when it sets nothing.
func NewExchange(r *http.Request) *Exchange {
	return &Exchange{Req: r, Resp: &Response{Status: http.StatusOK, Header: http.Header{}}}
}

// TakeRequestPhaseBody returns the response body the guests wrote before
// the request went on to the origin (nil if none) and clears it, so that
// BodyWritten then reports writes of the response phase only. The edge
// sends that body first and the origin's body after it, as
// http-wasm-host-go does: its response writer keeps what handle_request
// wrote and the next handler's writes append to it (the TCK's
// get_protocol_version case writes the protocol there and expects it
// back). A write in handle_response still replaces the whole body.
func (r *Response) TakeRequestPhaseBody() []byte {
	if !r.BodyWritten {
		return nil
	}
	b := r.Body
	r.Body, r.BodyWritten = nil, false
	return b
}
