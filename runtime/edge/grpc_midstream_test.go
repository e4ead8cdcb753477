package edge

import (
	"context"
	"encoding/binary"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// grpcFrame is m as one gRPC message on the wire: uncompressed, its
// length, its bytes.
func grpcFrame(t *testing.T, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 5, 5+len(b))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(b)))
	return append(frame, b...)
}

// TestGRPCUpstreamFailingMidStream: an upstream that fails after its gRPC
// response began (some messages sent) ends the client's call with a
// status it can read, after those messages: UNAVAILABLE naming the cause
// when the upstream resets the stream or its connection goes (a raw HTTP/2
// server closed, a grpc-go server stopped), and
// DEADLINE_EXCEEDED when the route's timeout cuts it, instead of a stream
// reset the client reads as INTERNAL with no message.
func TestGRPCUpstreamFailingMidStream(t *testing.T) {
	sent := make(chan struct{}, 1)
	// A raw HTTP/2 server: two messages, then by case a stream reset or
	// a wait for the end of the request (the node's timeout).
	raw, _ := h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/grpc")
		for _, body := range []string{"one", "two"} {
			w.Write(grpcFrame(t, &testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: []byte(body)}}))
		}
		http.NewResponseController(w).Flush()
		if strings.HasPrefix(r.Header.Get("X-Case"), "timeout") {
			<-r.Context().Done()
			return
		}
		panic(http.ErrAbortHandler) // RST_STREAM INTERNAL_ERROR
	}))
	// An HTTP/2 server whose connections are closed under the call once
	// the client has its messages.
	closing, closingSrv := h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/grpc")
		w.Write(grpcFrame(t, &testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: []byte("one")}}))
		w.Write(grpcFrame(t, &testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: []byte("two")}}))
		http.NewResponseController(w).Flush()
		sent <- struct{}{}
		<-r.Context().Done()
	}))
	// A grpc-go server, stopped under the call once the client has its
	// messages.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	grpcSrv := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(grpcSrv, &stallingService{sent: sent})
	go grpcSrv.Serve(ln)
	t.Cleanup(grpcSrv.Stop)
	n := startNode(t, render(t, `
upstreams:
  raw: {endpoints: ["{{.Raw}}"], protocol: h2c, retries: {attempts: 0}}
  closing: {endpoints: ["{{.Closing}}"], protocol: h2c, retries: {attempts: 0}}
  grpcgo: {endpoints: ["http://{{.GRPC}}"], protocol: h2c, retries: {attempts: 0}}
routes:
  - {name: timeout, match: {path_prefix: /grpc.testing.TestService/, headers: {X-Case: timeout}}, upstream: raw, timeout: 300ms}
  - {name: closing, match: {path_prefix: /grpc.testing.TestService/, headers: {X-Case: closing}}, upstream: closing}
  - {name: grpc-go, match: {path_prefix: /grpc.testing.TestService/, headers: {X-Case: grpc-go stopped}}, upstream: grpcgo}
  - {name: reset, match: {path_prefix: /grpc.testing.TestService/}, upstream: raw}
`, map[string]string{"Raw": raw, "Closing": closing, "GRPC": ln.Addr().String()}))
	client := testgrpc.NewTestServiceClient(dialGRPC(t, n.url))

	for _, tc := range []struct {
		name    string
		code    codes.Code
		message string
		cut     func() // what makes the upstream fail, once the messages arrived
	}{
		{"reset", codes.Unavailable, "upstream failed mid-response: stream reset (INTERNAL_ERROR)", nil},
		{"closing", codes.Unavailable, "upstream failed mid-response: connection lost", func() { closingSrv.Close() }},
		{"grpc-go stopped", codes.Unavailable, "upstream failed mid-response: connection lost", grpcSrv.Stop},
		{"timeout", codes.DeadlineExceeded, "upstream timed out", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ctx = metadataCase(ctx, tc.name)
			stream, err := client.StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for range 2 {
				m, err := stream.Recv()
				if err != nil {
					t.Fatalf("after %q: %v, want the upstream's messages first", got, err)
				}
				got = append(got, string(m.Payload.GetBody()))
			}
			if tc.cut != nil {
				testkit.WaitFor(t, 5*time.Second, "the upstream's messages sent", func() bool {
					select {
					case <-sent:
						return true
					default:
						return false
					}
				})
				tc.cut()
			}
			_, err = stream.Recv()
			if st, _ := status.FromError(err); st.Code() != tc.code || st.Message() != tc.message {
				t.Errorf("after %q: %v, want %v: %s", got, err, tc.code, tc.message)
			}
		})
	}
	// An HTTP 200 on the wire, counted and logged as the failure its gRPC
	// status stands for, so route metrics and canary gates see it.
	testkit.WaitFor(t, 5*time.Second, "the calls' statuses in the access log", func() bool {
		logs := n.logs.String()
		return strings.Count(logs, `"status":503,"grpc_status":"14"`) == 3 && strings.Count(logs, `"status":504,"grpc_status":"4"`) == 1
	})
	var failed int64
	stats := n.RouteStats()
	for _, route := range []string{"timeout", "closing", "grpc-go", "reset"} {
		failed += stats[route].Errors5xx
	}
	if failed != 4 {
		t.Errorf("route stats %+v: want the 4 calls cut short counted as 5xx", stats)
	}
}

// stallingService sends two messages of a server stream, says so on sent,
// and waits for the call to end.
type stallingService struct {
	testgrpc.UnimplementedTestServiceServer
	sent chan<- struct{}
}

func (s *stallingService) StreamingOutputCall(_ *testgrpc.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error {
	for _, body := range []string{"one", "two"} {
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: []byte(body)}}); err != nil {
			return err
		}
	}
	s.sent <- struct{}{}
	<-stream.Context().Done()
	return stream.Context().Err()
}

// metadataCase sends the test case's name as X-Case, which picks its route.
func metadataCase(ctx context.Context, name string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "x-case", name)
}
