package filterkit

import (
	"context"
	"testing"

	"github.com/http-wasm/http-wasm-host-go/tck"
)

// `sluice filter test` shows what a node sends: a body the filter wrote in
// handle_request while passing the request on comes before the upstream's.
// The TCK's guest writes the protocol version there for its
// get_protocol_version case (and buffers the response).
func TestTryRequestPhaseBodyComesFirst(t *testing.T) {
	res, err := Try(context.Background(), newRuntime(t), tck.GuestWASM, TryOptions{
		Request:  []byte("GET /get_protocol_version HTTP/1.1\nHost: x\nX-Httpwasm-Tck-Testid: get_protocol_version\n\n"),
		Response: []byte("HTTP/1.1 200 OK\nContent-Length: 9\n\n-upstream"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Next || res.Response.Status != 200 || string(res.Response.Body) != "HTTP/1.1-upstream" {
		t.Fatalf("next %v, %d %q; want the guest's body, then the upstream's", res.Next, res.Response.Status, res.Response.Body)
	}
}
