package filter

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns for a filter wraps one of
// them (test with errors.Is) and names the filter and the phase, e.g.
//
//	filter "redact": handle_response: trap: out of bounds memory access
//
// so that the edge can choose a status and log a reason without parsing text.
var (
	// ErrBusy: every instance of the module is in use, the cap is reached,
	// and none was freed before the caller's deadline. The edge answers 503.
	ErrBusy = errors.New("busy")
	// ErrTimeout: the guest ran past its deadline and was stopped.
	ErrTimeout = errors.New("timeout")
	// ErrTrap: the guest trapped, exited, or misused a host function
	// (out-of-bounds pointer, invalid header, oversized write...).
	ErrTrap = errors.New("trap")
	// ErrMemory: the guest failed while its memory was at its limit, or its
	// declared minimum memory exceeds the limit.
	ErrMemory = errors.New("memory limit")
	// ErrInvalidModule: Load refused the module (not an http-wasm guest,
	// unknown import, wrong signature, malformed binary).
	ErrInvalidModule = errors.New("invalid module")
	// ErrClosed: the module or runtime was closed.
	ErrClosed = errors.New("closed")
	// ErrBodyConsumed joins a failed handle_request's error when the guest
	// had read part of the request body without buffering it: the request
	// cannot go on without the filter, as fail_open would.
	ErrBodyConsumed = errors.New("request body partly consumed")
	// ErrClientBody: reading the request body for the guest failed (the
	// client sent a malformed body, went away, or was too slow). The
	// request fails; the guest saw an early end of body, got its
	// handle_response, and its instance is kept.
	ErrClientBody = errors.New("request body")
	// ErrTooLarge: a body a proxy-wasm guest holds (it paused on it) is
	// over the limit. Joined with ErrClientBody for a request body (the
	// edge answers 413); alone for a response body (502).
	ErrTooLarge = errors.New("too large")
)

// filterError builds `filter "NAME": OP: SENTINEL: DETAIL`.
func filterError(name, op string, kind error, detail string) error {
	if detail == "" {
		return fmt.Errorf("filter %q: %s: %w", name, op, kind)
	}
	return fmt.Errorf("filter %q: %s: %w: %s", name, op, kind, detail)
}
