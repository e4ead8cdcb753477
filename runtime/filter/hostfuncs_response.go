package filter

import "net/http"

// get_status_code() -> i32
//
// The response status: the upstream's in handle_response, the one the guest
// set (default 200) in handle_request.
func (i *Instance) getStatusCode(stack []uint64) {
	i.needExchange("get_status_code")
	s := i.x.Resp.Status
	if s == 0 {
		s = http.StatusOK
	}
	stack[0] = uint64(uint32(s))
}

// set_status_code(status_code i32)
//
// Sets the response status: a final one, 200 to 599. An informational
// status (1xx) from a filter would make the node send "101 Switching
// Protocols" without switching, or a 1xx followed by an implicit 200.
func (i *Instance) setStatusCode(stack []uint64) {
	i.needExchange("set_status_code")
	s := int32(uint32(stack[0]))
	if s < 200 || s > 599 {
		i.fail("set_status_code: invalid status %d", s)
	}
	i.x.Resp.Status = int(s)
}
