package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// Connect dials NATS the way every fleet process does: it retries a failed
// first connect and reconnects forever, so a node started before NATS, or
// cut off from it, catches up by itself. A server that refuses the
// credentials (opts: CredsOption) is an error at once, not a retry.
func Connect(url, name string, opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		// A denied publish or subscribe is only reported asynchronously
		// (the request itself times out): log it with its subject.
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			slog.Default().Warn("nats: "+name, "error", err)
		})}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil && !isAuthError(err) {
		nc, err = nats.Connect(url, append(opts, nats.RetryOnFailedConnect(true))...)
	}
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", url, err)
	}
	return nc, nil
}

func isAuthError(err error) bool {
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAccountAuthExpired)
}

// ErrReconnected ends a context made by UntilReconnect.
var ErrReconnected = errors.New("reconnected to NATS")

// UntilReconnect returns a context that also ends, with the cause
// ErrReconnected, once nc has been re-established. Whatever follows
// JetStream over nc (a node's session, the publisher's canary watch) runs
// under it and starts over then: a KV watch is an ordered consumer that the
// server may have lost meanwhile, and starting over replays the current
// keys, so nothing written during the outage is missed. It is the one way
// fleet processes notice a reconnect. It listens for status changes (any
// number of listeners may share a connection, unlike its reconnect
// handler, which belongs to the connection's owner) rather than polling
// the reconnect counter: at 1,000 nodes a poll every 100 ms was 10,000
// wakeups a second.
func UntilReconnect(ctx context.Context, nc *nats.Conn) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	// Listening before counting: a reconnect after the count is heard.
	events := nc.StatusChanged(nats.CONNECTED)
	since := nc.Stats().Reconnects
	go func() {
		defer nc.RemoveStatusListener(events)
		for {
			select {
			case <-ctx.Done():
				return
			case <-events:
				if nc.Stats().Reconnects != since {
					cancel(ErrReconnected)
					return
				}
			}
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}
