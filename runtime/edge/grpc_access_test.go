package edge

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/testkit"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// grpcACL is a Rego policy for the gRPC route: the consumer acme may call
// anything; everyone else is denied with a reason.
const grpcACL = `package sluice.authz

default decision := {"allow": false, "status": 403, "reason": "only acme may call the test service"}

decision := {"allow": true} if input.auth.consumer == "acme"
`

// TestGRPCThroughAuthPolicyAndFilter: gRPC calls through a route with API
// key authentication, an OPA policy and a header-only filter. Allowed
// calls, unary and streaming, reach the service with the filter's header
// and are not buffered (a bidi answer comes back before the next request);
// deadlines and cancellation pass through. A missing key and a policy deny
// reach the gRPC client as UNAUTHENTICATED and PERMISSION_DENIED with the
// reason, sent as a trailers-only response, and are logged as 401 and 403
// with their gRPC statuses.
func TestGRPCThroughAuthPolicyAndFilter(t *testing.T) {
	svc, addr := startGRPCService(t)
	policy := t.TempDir()
	writeTestFile(t, filepath.Join(policy, "acl.rego"), grpcACL)
	n := startNode(t, render(t, `
upstreams: {grpc: {endpoints: ["http://{{.Addr}}"], protocol: h2c}}
auth:
  keys: {api_key: {header: X-API-Key, keys: {acme-key: {consumer: acme}, bob-key: {consumer: bob}}}}
policies:
  acl: {module: "{{.Policy}}"}
filters:
  headers:
    module: "{{.Headers}}"
    config: {request: {set: {X-Env: prod}}}
    limits: {timeout: 5s}
routes:
  - name: grpc
    match: {path_prefix: /grpc.testing.TestService/}
    upstream: grpc
    auth: [keys]
    policy: acl
    filters: [headers]
`, map[string]string{"Addr": addr, "Policy": policy, "Headers": exampleFilter(t, "headers")}))
	client := testgrpc.NewTestServiceClient(dialGRPC(t, n.url))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	acme := metadata.AppendToOutgoingContext(ctx, "x-api-key", "acme-key")
	bob := metadata.AppendToOutgoingContext(ctx, "x-api-key", "bob-key")

	t.Run("unary allowed, through the filter", func(t *testing.T) {
		var header metadata.MD
		resp, err := client.UnaryCall(acme, &testgrpc.SimpleRequest{Payload: &testgrpc.Payload{Body: []byte("ping")}}, grpc.Header(&header))
		if err != nil {
			t.Fatal(err)
		}
		if string(resp.Payload.GetBody()) != "ping" || strings.Join(header.Get("x-saw-filter"), ",") != "prod" {
			t.Errorf("payload %q, x-saw-filter %v", resp.Payload.GetBody(), header.Get("x-saw-filter"))
		}
	})
	t.Run("server streaming allowed", func(t *testing.T) {
		stream, err := client.StreamingOutputCall(acme, &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 3}, {Size: 70000}}})
		if err != nil {
			t.Fatal(err)
		}
		sizes := receivedSizes(t, stream)
		if len(sizes) != 2 || sizes[0] != 3 || sizes[1] != 70000 {
			t.Errorf("received %v", sizes)
		}
	})
	t.Run("bidi streaming allowed, each answer before the next request", func(t *testing.T) {
		stream, err := client.FullDuplexCall(acme)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"one", "two"} {
			if err := stream.Send(&testgrpc.StreamingOutputCallRequest{Payload: &testgrpc.Payload{Body: []byte(m)}}); err != nil {
				t.Fatal(err)
			}
			if got, err := stream.Recv(); err != nil || string(got.Payload.GetBody()) != m {
				t.Fatalf("echo of %q: %v %v", m, got, err)
			}
		}
		stream.CloseSend()
		if _, err := stream.Recv(); err != io.EOF {
			t.Errorf("end of stream: %v", err)
		}
	})
	t.Run("deadline", func(t *testing.T) { checkDeadlinePassesOn(t, acme, client, svc) })
	t.Run("cancellation reaches the service", func(t *testing.T) { checkCancellationPassesOn(t, acme, client, svc) })

	t.Run("no key: UNAUTHENTICATED", func(t *testing.T) {
		_, err := client.UnaryCall(ctx, &testgrpc.SimpleRequest{})
		if st, _ := status.FromError(err); st.Code() != codes.Unauthenticated || st.Message() != "missing credentials" {
			t.Errorf("got %v, want Unauthenticated: missing credentials", err)
		}
	})
	t.Run("policy deny: PERMISSION_DENIED with the reason", func(t *testing.T) {
		_, err := client.UnaryCall(bob, &testgrpc.SimpleRequest{})
		if st, _ := status.FromError(err); st.Code() != codes.PermissionDenied || st.Message() != "only acme may call the test service" {
			t.Errorf("got %v, want PermissionDenied: only acme may call the test service", err)
		}
	})
	t.Run("policy deny of a stream", func(t *testing.T) {
		stream, err := client.FullDuplexCall(bob)
		if err == nil {
			_, err = stream.Recv()
		}
		if st, _ := status.FromError(err); st.Code() != codes.PermissionDenied {
			t.Errorf("got %v, want PermissionDenied", err)
		}
	})
	t.Run("a deny is a trailers-only response, logged as 403", func(t *testing.T) {
		resp := grpcPost(t, n.url+"/grpc.testing.TestService/UnaryCall", nil, "X-API-Key", "bob-key")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/grpc" ||
			resp.Header.Get("Grpc-Status") != "7" || resp.Header.Get("Grpc-Message") != "only acme may call the test service" ||
			resp.Header.Get("X-Request-Id") == "" {
			t.Fatalf("got %d %v", resp.StatusCode, resp.Header)
		}
		// With the gRPC status each call ended with: an allowed call's
		// comes from the service's trailers, a deny's from the node.
		testkit.WaitFor(t, 5*time.Second, "the deny in the access log", func() bool {
			logs := n.logs.String()
			return strings.Contains(logs, `"status":403,"grpc_status":"7"`) && strings.Contains(logs, `"status":401,"grpc_status":"16"`) &&
				strings.Contains(logs, `"status":200,"grpc_status":"0"`)
		})
	})
}

// TestGRPCErrorsAsStatus: the node's own errors reach a gRPC client as
// gRPC statuses it can read: no route is UNIMPLEMENTED, a dead upstream
// UNAVAILABLE.
func TestGRPCErrorsAsStatus(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now: every connect is refused
	n := startNode(t, render(t, `
upstreams: {dead: {endpoints: ["http://{{.}}"], protocol: h2c}}
routes: [{name: grpc, match: {path_prefix: /grpc.testing.TestService/}, upstream: dead}]
`, dead))
	cc := dialGRPC(t, n.url)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = testgrpc.NewTestServiceClient(cc).UnaryCall(ctx, &testgrpc.SimpleRequest{})
	if st, _ := status.FromError(err); st.Code() != codes.Unavailable || st.Message() != "upstream failed" {
		t.Errorf("dead upstream: %v, want Unavailable: upstream failed", err)
	}
	_, err = testgrpc.NewUnimplementedServiceClient(cc).UnimplementedCall(ctx, &testgrpc.Empty{})
	if st, _ := status.FromError(err); st.Code() != codes.Unimplemented || st.Message() != "no route" {
		t.Errorf("no route: %v, want Unimplemented: no route", err)
	}
}

// TestGRPCDeadlineHeldByTheNode: the node holds a call to its
// grpc-timeout. A client that sent one but does not enforce it itself (a
// raw HTTP/2 request) gets DEADLINE_EXCEEDED from the node when the
// service is slower, not a stream reset or an UNAVAILABLE.
func TestGRPCDeadlineHeldByTheNode(t *testing.T) {
	_, addr := startGRPCService(t)
	n := startNode(t, render(t, `
upstreams: {grpc: {endpoints: ["http://{{.}}"], protocol: h2c, timeout: 30s}}
routes: [{name: grpc, match: {path_prefix: /grpc.testing.TestService/}, upstream: grpc}]
`, addr))
	slow, err := proto.Marshal(&testgrpc.SimpleRequest{FillUsername: true}) // the service answers after 1 s
	if err != nil {
		t.Fatal(err)
	}
	resp := grpcPost(t, n.url+"/grpc.testing.TestService/UnaryCall", slow, "Grpc-Timeout", "200m")
	if resp.StatusCode != 200 || resp.Header.Get("Grpc-Status") != "4" {
		t.Fatalf("got %d %v, want grpc-status 4 (DEADLINE_EXCEEDED)", resp.StatusCode, resp.Header)
	}
}

// grpcPost sends one gRPC message (msg, uncompressed) over h2c and returns
// the response with its body read.
func grpcPost(t *testing.T, url string, msg []byte, hdr ...string) *http.Response {
	t.Helper()
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &protos}
	defer tr.CloseIdleConnections()
	frame := append([]byte{0, byte(len(msg) >> 24), byte(len(msg) >> 16), byte(len(msg) >> 8), byte(len(msg))}, msg...)
	req, err := http.NewRequest("POST", url, bytes.NewReader(frame))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if body, _ := io.ReadAll(resp.Body); len(body) != 0 {
		t.Errorf("a trailers-only response has no body; got %q", body)
	}
	return resp
}
