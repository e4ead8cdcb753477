package edge

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// h2cServer serves h over HTTP/2 by prior knowledge (a `protocol: h2c`
// upstream) and returns its URL and the server, for a test to stop.
func h2cServer(t *testing.T, h http.Handler) (string, *http.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: &protos}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String(), srv
}

// deadlineWitness is a real gRPC server, served through net/http so that
// the grpc-timeout header it receives can be read as it came (grpc-go
// keeps it out of the metadata), and the deadline grpc-go made of it.
type deadlineWitness struct {
	testgrpc.UnimplementedTestServiceServer
	mu     sync.Mutex
	header time.Duration // the grpc-timeout received, parsed
	left   time.Duration // what the handler's context had left
}

func (d *deadlineWitness) StreamingInputCall(stream testgrpc.TestService_StreamingInputCallServer) error {
	dl, _ := stream.Context().Deadline()
	d.mu.Lock()
	d.left = time.Until(dl)
	d.mu.Unlock()
	for {
		if _, err := stream.Recv(); err == io.EOF {
			return stream.SendAndClose(&testgrpc.StreamingInputCallResponse{})
		} else if err != nil {
			return err
		}
	}
}

func (d *deadlineWitness) ServeHTTP(w http.ResponseWriter, r *http.Request, next http.Handler) {
	v := r.Header.Get("Grpc-Timeout")
	n, err := parseGRPCTimeout(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	d.mu.Lock()
	d.header = n
	d.mu.Unlock()
	next.ServeHTTP(w, r)
}

// parseGRPCTimeout reads a grpc-timeout value (digits and a unit).
func parseGRPCTimeout(v string) (time.Duration, error) {
	units := map[byte]time.Duration{'H': time.Hour, 'M': time.Minute, 'S': time.Second, 'm': time.Millisecond, 'u': time.Microsecond, 'n': time.Nanosecond}
	if len(v) < 2 || len(v) > 9 || units[v[len(v)-1]] == 0 {
		return 0, &net.ParseError{Type: "grpc-timeout", Text: v}
	}
	var n time.Duration
	for _, c := range v[:len(v)-1] {
		if c < '0' || c > '9' {
			return 0, &net.ParseError{Type: "grpc-timeout", Text: v}
		}
		n = n*10 + time.Duration(c-'0')
	}
	return n * units[v[len(v)-1]], nil
}

// TestGRPCUpstreamGetsTheDeadlineLeft: a client-streaming call with a 2 s
// deadline through a route whose filter reads the whole request body
// before passing it on: the client holds its last message for 300 ms, so
// the call is 300 ms into its deadline when it leaves the node. The
// upstream must be told about 1.7 s (not the client's 2 s), more than
// nothing, and its context's deadline must agree with what it was told.
func TestGRPCUpstreamGetsTheDeadlineLeft(t *testing.T) {
	const held = 300 * time.Millisecond
	witness := &deadlineWitness{}
	srv := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(srv, witness)
	url, _ := h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { witness.ServeHTTP(w, r, srv) }))
	n := startNode(t, render(t, `
upstreams: {grpc: {endpoints: ["{{.URL}}"], protocol: h2c}}
filters:
  # reqbody reads the whole body; its 4-byte config (true) makes it only
  # read. The client holds the body longer than the default 50 ms.
  body: {module: "{{.Guest}}", config: true, limits: {timeout: 5s}}
routes:
  - {name: grpc, match: {path_prefix: /grpc.testing.TestService/}, upstream: grpc, filters: [body]}
`, map[string]string{"URL": url, "Guest": testkit.WATFile(t, "reqbody")}))
	client := testgrpc.NewTestServiceClient(dialGRPC(t, n.url))

	const budget = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	stream, err := client.StreamingInputCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: []byte("first")}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(held) // the time the call spends in the node before it goes upstream; not a wait for an event
	if err := stream.Send(&testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: []byte("last")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	witness.mu.Lock()
	header, left := witness.header, witness.left
	witness.mu.Unlock()
	// The node counts from when the call reached it, the client from just
	// before: the margin is the network's share, far below what the node
	// held the call for (without subtracting, the upstream is told ~2 s).
	const margin = 100 * time.Millisecond
	if header <= 0 || header > budget-held+margin {
		t.Errorf("the upstream was told %v of the client's %v, %v of which the node held it; want what was left", header, budget, held)
	}
	if left <= 0 || left > header {
		t.Errorf("the upstream's context had %v left, told %v", left, header)
	}
}
