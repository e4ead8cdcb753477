package testkit

import (
	"testing"
	"time"
)

// maxPollInterval caps the wait between two checks. Checks start 1 ms apart
// and back off to it, so a fast condition is seen at once and a slow one
// (a CLI run, an HTTP round trip) does not keep the shared cores busy.
const maxPollInterval = 10 * time.Millisecond

// Eventually calls check until it reports done. When timeout passes first
// the test fails, naming what it waited for and the state check reported
// last ("revision 3, state error: ..."), which is usually why. It never
// sleeps for a fixed time to let something happen.
func Eventually(t testing.TB, timeout time.Duration, what string, check func() (done bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	interval := time.Millisecond
	for {
		done, state := check()
		if done {
			return
		}
		if time.Now().After(deadline) {
			if state == "" {
				t.Fatalf("timed out after %s waiting for %s", timeout, what)
			}
			t.Fatalf("timed out after %s waiting for %s; last state: %s", timeout, what, state)
		}
		time.Sleep(interval)
		interval = min(2*interval, maxPollInterval)
	}
}

// WaitFor is Eventually for a condition with no state worth reporting.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	Eventually(t, timeout, what, func() (bool, string) { return cond(), "" })
}
