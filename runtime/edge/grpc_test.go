package edge

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// grpcService is a real gRPC server behind the node: it echoes payloads,
// streams both ways, reports what it received, and fails on request.
type grpcService struct {
	testgrpc.UnimplementedTestServiceServer
	mu       sync.Mutex
	slow     int // slow calls begun
	canceled int // slow calls whose context ended first
	// deadline is how long the last deadline call had left when it
	// arrived: the client's grpc-timeout, passed on by the node.
	deadline time.Duration
}

func (s *grpcService) UnaryCall(ctx context.Context, in *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	if in.ResponseStatus != nil {
		return nil, status.Error(codes.Code(in.ResponseStatus.Code), in.ResponseStatus.Message)
	}
	md, _ := metadata.FromIncomingContext(ctx)
	grpc.SetHeader(ctx, metadata.Pairs("x-saw-filter", strings.Join(md.Get("x-env"), ",")))
	grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "done"))
	if in.FillUsername { // a deadline call: note what is left, answer late
		d, _ := ctx.Deadline()
		s.mu.Lock()
		s.deadline = time.Until(d)
		s.mu.Unlock()
		time.Sleep(time.Second) // deliberately past the client's deadline; not a wait for an event
		return &testgrpc.SimpleResponse{}, nil
	}
	if in.ResponseSize > 0 { // a slow call, for cancellation
		s.mu.Lock()
		s.slow++
		s.mu.Unlock()
		select {
		case <-time.After(time.Duration(in.ResponseSize) * time.Millisecond):
		case <-ctx.Done():
			s.mu.Lock()
			s.canceled++
			s.mu.Unlock()
			return nil, ctx.Err()
		}
	}
	return &testgrpc.SimpleResponse{Payload: in.Payload}, nil
}

func (s *grpcService) StreamingOutputCall(in *testgrpc.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error {
	for _, p := range in.ResponseParameters {
		body := []byte(strings.Repeat("x", int(p.Size)))
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: body}}); err != nil {
			return err
		}
	}
	return nil
}

func (s *grpcService) StreamingInputCall(stream testgrpc.TestService_StreamingInputCallServer) error {
	total := 0
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&testgrpc.StreamingInputCallResponse{AggregatedPayloadSize: int32(total)})
		}
		if err != nil {
			return err
		}
		total += len(in.Payload.GetBody())
	}
}

func (s *grpcService) FullDuplexCall(stream testgrpc.TestService_FullDuplexCallServer) error {
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: in.Payload}); err != nil {
			return err
		}
	}
}

func (s *grpcService) counts() (slow, canceled int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.slow, s.canceled
}

func startGRPCService(t *testing.T) (*grpcService, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	svc := &grpcService{}
	srv := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(srv, svc)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return svc, ln.Addr().String()
}

// TestGRPCThroughNode: a real gRPC client talks to a real gRPC server
// through a node (h2c both sides; `protocol: h2c` upstream), across a
// route with a header-only filter: unary with headers and trailers, errors
// with grpc-status and grpc-message, server, client and bidi streaming,
// deadlines, cancellation, and many concurrent streams on one connection.
func TestGRPCThroughNode(t *testing.T) {
	svc, addr := startGRPCService(t)
	n := startNode(t, render(t, `
upstreams: {grpc: {endpoints: ["http://{{.Addr}}"], protocol: h2c}}
filters:
  headers:
    module: "{{.Headers}}"
    config: {request: {set: {X-Env: prod}}}
    # 100 streams at once under -race on two shared cores can wait longer
    # than the default 50 ms for a CPU; the deadline is not what is tested.
    limits: {timeout: 5s}
routes:
  - {name: grpc, match: {path_prefix: /grpc.testing.TestService/}, upstream: grpc, filters: [headers]}
`, map[string]string{"Addr": addr, "Headers": exampleFilter(t, "headers")}))
	cc, err := grpc.NewClient(strings.TrimPrefix(n.url, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := testgrpc.NewTestServiceClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	t.Run("unary with headers and trailers", func(t *testing.T) {
		var header, trailer metadata.MD
		resp, err := client.UnaryCall(ctx, &testgrpc.SimpleRequest{Payload: &testgrpc.Payload{Body: []byte("ping")}},
			grpc.Header(&header), grpc.Trailer(&trailer))
		if err != nil {
			t.Fatal(err)
		}
		if string(resp.Payload.GetBody()) != "ping" {
			t.Errorf("payload %q", resp.Payload.GetBody())
		}
		if got := header.Get("x-saw-filter"); len(got) != 1 || got[0] != "prod" {
			t.Errorf("the request filter's header did not reach the service: %v", header)
		}
		if got := trailer.Get("x-trailer"); len(got) != 1 || got[0] != "done" {
			t.Errorf("trailers %v", trailer)
		}
	})
	t.Run("status and message", func(t *testing.T) {
		_, err := client.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.NotFound), Message: "no such thing"}})
		if st, _ := status.FromError(err); st.Code() != codes.NotFound || st.Message() != "no such thing" {
			t.Errorf("got %v, want NotFound: no such thing", err)
		}
		// The service's status, an HTTP 200 on the wire, is what the call
		// is counted and logged as.
		testkit.WaitFor(t, 5*time.Second, "the call logged as its gRPC status", func() bool {
			return strings.Contains(n.logs.String(), `"status":404,"grpc_status":"5"`)
		})
	})
	t.Run("server streaming", func(t *testing.T) {
		stream, err := client.StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 10}, {Size: 20000}, {Size: 30}}})
		if err != nil {
			t.Fatal(err)
		}
		sizes := receivedSizes(t, stream)
		if len(sizes) != 3 || sizes[0] != 10 || sizes[1] != 20000 || sizes[2] != 30 {
			t.Errorf("received %v", sizes)
		}
	})
	t.Run("client streaming", func(t *testing.T) {
		stream, err := client.StreamingInputCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{5, 100, 70000} {
			if err := stream.Send(&testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: make([]byte, n)}}); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := stream.CloseAndRecv()
		if err != nil || resp.AggregatedPayloadSize != 70105 {
			t.Fatalf("got %v %v, want 70105", resp, err)
		}
	})
	t.Run("bidi streaming, each answer before the next request", func(t *testing.T) {
		stream, err := client.FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"one", "two", "three"} {
			if err := stream.Send(&testgrpc.StreamingOutputCallRequest{Payload: &testgrpc.Payload{Body: []byte(m)}}); err != nil {
				t.Fatal(err)
			}
			got, err := stream.Recv()
			if err != nil || string(got.Payload.GetBody()) != m {
				t.Fatalf("echo of %q: %v %v", m, got, err)
			}
		}
		stream.CloseSend()
		if _, err := stream.Recv(); err != io.EOF {
			t.Errorf("end of stream: %v", err)
		}
	})
	t.Run("deadline", func(t *testing.T) { checkDeadlinePassesOn(t, ctx, client, svc) })
	t.Run("cancellation reaches the service", func(t *testing.T) { checkCancellationPassesOn(t, ctx, client, svc) })
	t.Run("many concurrent streams", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for i := range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := []byte(strings.Repeat("s", i))
				resp, err := client.UnaryCall(ctx, &testgrpc.SimpleRequest{Payload: &testgrpc.Payload{Body: body}})
				if err == nil && string(resp.Payload.GetBody()) != string(body) {
					err = errors.New("wrong payload")
				}
				if err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// checkDeadlinePassesOn: a call with a 300 ms deadline ends with
// DeadlineExceeded, and the service saw the deadline (grpc-timeout).
func checkDeadlinePassesOn(t *testing.T, ctx context.Context, client testgrpc.TestServiceClient, svc *grpcService) {
	dctx, dcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer dcancel()
	_, err := client.UnaryCall(dctx, &testgrpc.SimpleRequest{FillUsername: true})
	if st, _ := status.FromError(err); st.Code() != codes.DeadlineExceeded {
		t.Errorf("got %v, want DeadlineExceeded", err)
	}
	svc.mu.Lock()
	left := svc.deadline
	svc.mu.Unlock()
	if left <= 0 || left > 300*time.Millisecond {
		t.Errorf("the service saw %v left of the client's 300ms deadline; want it passed on", left)
	}
}

// checkCancellationPassesOn: a call the client cancels while the service
// works on it ends with Canceled, and the service's context ends too.
func checkCancellationPassesOn(t *testing.T, ctx context.Context, client testgrpc.TestServiceClient, svc *grpcService) {
	slow0, canceled0 := svc.counts()
	cctx, ccancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := client.UnaryCall(cctx, &testgrpc.SimpleRequest{ResponseSize: 10000})
		done <- err
	}()
	testkit.WaitFor(t, 10*time.Second, "the call at the service", func() bool { slow, _ := svc.counts(); return slow > slow0 })
	ccancel()
	if err := <-done; status.Code(err) != codes.Canceled {
		t.Errorf("got %v, want Canceled", err)
	}
	testkit.WaitFor(t, 10*time.Second, "the service's call canceled", func() bool { _, c := svc.counts(); return c > canceled0 })
}

// TestGRPCUpstreamSpeakingHTTP1: an HTTP/1.1 server where h2c or h2 is
// configured is a 502 naming the cause, every time, however the server's
// answer and its closing race the request; a gRPC client gets UNAVAILABLE
// with the same message.
func TestGRPCUpstreamSpeakingHTTP1(t *testing.T) {
	up := startUpstream(t, "h1", nil)
	// An HTTP/1.1-only server over TLS: ALPN picks http/1.1 where h2 is configured.
	tlsUp := httptest.NewTLSServer(echoHandler("h1-tls"))
	t.Cleanup(tlsUp.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsUp.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, render(t, `
upstreams:
  old: {endpoints: ["{{.H2C}}"], protocol: h2c, retries: {attempts: 0}}
  oldtls: {endpoints: ["{{.H2}}"], protocol: h2, tls: {ca: "{{.CA}}", server_name: example.com}, retries: {attempts: 0}}
routes:
  - {name: r, match: {path_prefix: /}, upstream: old}
  - {name: t, match: {path_prefix: /tls}, upstream: oldtls}
`, map[string]string{"H2C": up.url, "H2": tlsUp.URL, "CA": ca}))
	for i := range 20 {
		for _, path := range []string{"/x", "/tls"} {
			resp, body := get(t, n.url+path)
			if resp.StatusCode != 502 || !strings.Contains(string(body), "does not speak HTTP/2") {
				t.Fatalf("request %d to %s: %d %s, want 502 naming the cause", i, path, resp.StatusCode, body)
			}
		}
	}
	testkit.WaitFor(t, 5*time.Second, "the causes in the access log", func() bool {
		logs := n.logs.String()
		return strings.Contains(logs, "configured for h2c, but it answers HTTP/1.1") && strings.Contains(logs, "configured for h2, but it answers HTTP/1.1")
	})
	client := testgrpc.NewTestServiceClient(dialGRPC(t, n.url))
	for i := range 20 {
		_, err := client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
		if st, _ := status.FromError(err); st.Code() != codes.Unavailable || st.Message() != "upstream does not speak HTTP/2" {
			t.Fatalf("call %d: %v, want Unavailable: upstream does not speak HTTP/2", i, err)
		}
	}
}

// dialGRPC is a gRPC client of a node over h2c.
func dialGRPC(t *testing.T, nodeURL string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(strings.TrimPrefix(nodeURL, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// TestH2UpstreamOverTLS: `protocol: h2` with a tls block reaches an HTTP/2
// upstream whose certificate only the configured CA signs, checked under
// the configured server name; without the CA the node refuses it (502).
func TestH2UpstreamOverTLS(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	up.EnableHTTP2 = true
	up.StartTLS()
	t.Cleanup(up.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, render(t, `
upstreams:
  trusted: {endpoints: ["{{.URL}}"], protocol: h2, tls: {ca: "{{.CA}}", server_name: example.com}}
  untrusted: {endpoints: ["{{.URL}}"], protocol: h2, retries: {attempts: 0}}
routes:
  - {name: t, match: {path_prefix: /t}, upstream: trusted}
  - {name: u, match: {path_prefix: /u}, upstream: untrusted}
`, map[string]string{"URL": up.URL, "CA": ca}))
	if resp, body := get(t, n.url+"/t"); resp.StatusCode != 200 || string(body) != "HTTP/2.0" {
		t.Errorf("trusted: %d %q, want 200 over HTTP/2.0", resp.StatusCode, body)
	}
	if resp, body := get(t, n.url+"/u"); resp.StatusCode != 502 {
		t.Errorf("untrusted: %d %s, want 502", resp.StatusCode, body)
	}
}

// receivedSizes reads a server stream to its end and returns the size of
// each message's payload.
func receivedSizes(t *testing.T, stream interface {
	Recv() (*testgrpc.StreamingOutputCallResponse, error)
}) []int {
	t.Helper()
	var sizes []int
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return sizes
		}
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(m.Payload.GetBody()))
	}
}
