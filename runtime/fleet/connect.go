package fleet

import (
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
