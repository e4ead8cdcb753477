package testkit

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as the real one does.
type fatalRecorder struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.msg = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

// run calls f with a fatalRecorder in its own goroutine and returns what
// Fatalf was given ("" when f returned normally).
func run(t *testing.T, f func(testing.TB)) string {
	r := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msg
}

func TestEventuallyReturnsOnceDone(t *testing.T) {
	calls := 0
	msg := run(t, func(tb testing.TB) {
		Eventually(tb, 5*time.Second, "the third call", func() (bool, string) {
			calls++
			return calls == 3, fmt.Sprintf("%d calls", calls)
		})
	})
	if msg != "" || calls != 3 {
		t.Fatalf("failed with %q after %d calls, want success on the third", msg, calls)
	}
}

func TestEventuallyReportsTheLastState(t *testing.T) {
	calls := 0
	msg := run(t, func(tb testing.TB) {
		Eventually(tb, 20*time.Millisecond, "a revision", func() (bool, string) {
			calls++
			return false, fmt.Sprintf("check %d", calls)
		})
	})
	want := fmt.Sprintf("timed out after 20ms waiting for a revision; last state: check %d", calls)
	if msg != want {
		t.Fatalf("message %q, want %q", msg, want)
	}
}

func TestWaitForNamesWhatItWaitedFor(t *testing.T) {
	msg := run(t, func(tb testing.TB) {
		WaitFor(tb, 10*time.Millisecond, "nothing", func() bool { return false })
	})
	if msg != "timed out after 10ms waiting for nothing" {
		t.Fatalf("message %q", msg)
	}
}

func TestSyncBufferConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprint(&b, "x")
			}
		})
	}
	wg.Wait()
	if got := b.String(); got != strings.Repeat("x", 800) {
		t.Fatalf("%d bytes, want 800", len(got))
	}
}
