//go:build wasip1

package sluicetest

import "testing"

// Under GOOS=wasip1 the SDK talks to a real host, so there is no in-memory
// one to drive: tests that use sluicetest are skipped. Run them natively.

const skip = "sluicetest runs in a native build; run go test without GOOS=wasip1"

// Host is an in-memory http-wasm host (native builds only).
type Host struct{}

// New skips the test: see the package documentation.
func New(t testing.TB, _ ...Option) *Host { t.Helper(); t.Skip(skip); return nil }

// Load skips the test: see the package documentation.
func Load(t testing.TB, _ ...Option) (*Host, error) { t.Helper(); t.Skip(skip); return nil, nil }

// HandleRequest is never reached: New skipped the test.
func (h *Host) HandleRequest(*Request) (bool, *Response) { panic(skip) }

// HandleResponse is never reached: New skipped the test.
func (h *Host) HandleResponse(*Request, *Response, bool) { panic(skip) }

// Do is never reached: New skipped the test.
func (h *Host) Do(*Request, *Response) *Result { panic(skip) }

// Logs is never reached: New skipped the test.
func (h *Host) Logs() []Log { panic(skip) }

// Metric is never reached: New skipped the test.
func (h *Host) Metric(string, ...string) (MetricValue, bool) { panic(skip) }

// MetricsDropped is never reached: New skipped the test.
func (h *Host) MetricsDropped() int { panic(skip) }
