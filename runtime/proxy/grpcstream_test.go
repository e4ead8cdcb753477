package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"syscall"
	"testing"

	"golang.org/x/net/http2"
)

// TestMidStreamFailure: the status and words a gRPC stream ends with for
// each way x/net's client reports a body that broke off; a passed
// deadline wins over the error it caused.
func TestMidStreamFailure(t *testing.T) {
	live := context.Background()
	for _, tc := range []struct {
		err    error
		status int
		reason string
	}{
		{http2.StreamError{StreamID: 3, Code: http2.ErrCodeInternal}, 502, "upstream failed mid-response: stream reset (INTERNAL_ERROR)"},
		{fmt.Errorf("read: %w", http2.StreamError{StreamID: 5, Code: http2.ErrCodeRefusedStream}), 502, "upstream failed mid-response: stream reset (REFUSED_STREAM)"},
		{http2.GoAwayError{ErrCode: http2.ErrCodeEnhanceYourCalm}, 502, "upstream failed mid-response: upstream went away (GOAWAY ENHANCE_YOUR_CALM)"},
		{io.ErrUnexpectedEOF, 502, "upstream failed mid-response: connection lost"},
		{&os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}, 502, "upstream failed mid-response: connection lost"},
		{os.ErrDeadlineExceeded, 502, "upstream failed mid-response: read timed out"},
		{errors.New("something else"), 502, "upstream failed mid-response: response body failed"},
	} {
		got := midStreamFailure(live, tc.err)
		if got.Status != tc.status || got.Reason != tc.reason {
			t.Errorf("%v: %d %q, want %d %q", tc.err, got.Status, got.Reason, tc.status, tc.reason)
		}
	}
	done, cancel := context.WithTimeout(live, 0)
	defer cancel()
	<-done.Done()
	if got := midStreamFailure(done, http2.StreamError{Code: http2.ErrCodeCancel}); got.Status != http.StatusGatewayTimeout || got.Reason != reasonTimeout {
		t.Errorf("after the deadline: %d %q, want 504 %q", got.Status, got.Reason, reasonTimeout)
	}
}
