package demo

import (
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// GRPCService is the name the demo gRPC server reports as serving through
// the standard health protocol (grpc.health.v1.Health): a gRPC call a
// user can make through the gateway without any .proto file at hand
// (`sluice grpc-health`).
const GRPCService = "sluice.demo"

// StartGRPC serves the demo gRPC server on addr ("127.0.0.1:0" for any
// port), over h2c.
func StartGRPC(addr string) (*GRPCServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("demo grpc: %w", err)
	}
	hs := health.NewServer()
	hs.SetServingStatus(GRPCService, healthpb.HealthCheckResponse_SERVING)
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(ln)
	return &GRPCServer{Addr: ln.Addr().String(), srv: srv}, nil
}

// GRPCServer is the running demo gRPC server.
type GRPCServer struct {
	Addr string
	srv  *grpc.Server
}

// Close stops it, ending calls in flight.
func (s *GRPCServer) Close() { s.srv.Stop() }
