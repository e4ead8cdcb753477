package proxy

import (
	"context"
	"errors"
	"net"
	"time"
)

// Reasons shown to the client (the causes stay in logs).
const (
	reasonNoEndpoint = "no healthy upstream"
	reasonFailed     = "upstream failed"
	reasonTimeout    = "upstream timed out"
	reasonNotHTTP2   = "upstream does not speak HTTP/2"
	// The node spent the call's grpc-timeout before it could send it on.
	reasonDeadlineSpent = "deadline exceeded before the upstream call"
)

// connectError marks a failure to open a connection to an endpoint: the
// request never reached it, so retrying elsewhere is safe for any method.
type connectError struct{ err error }

func (e *connectError) Error() string { return "connect: " + e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// isConnectFailure reports whether err came from dialing.
func isConnectFailure(err error) bool {
	var ce *connectError
	return errors.As(err, &ce)
}

// dialMarkingFailures wraps a dialer so that its errors can be told apart
// from failures after the connection was up (resets, bad responses).
func dialMarkingFailures(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, &connectError{err}
		}
		return c, nil
	}
}

// timedOut reports whether ctx ended because a deadline passed (ours or the
// caller's), as opposed to the client going away. A deadline that passed
// counts before its timer fired: an upstream holding the same deadline (a
// gRPC server, from grpc-timeout) may reset the stream first.
func timedOut(ctx context.Context) bool {
	if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
