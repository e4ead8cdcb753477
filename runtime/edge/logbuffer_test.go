package edge

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/testkit"
)

func TestLogBufferFlushesOnTickAndClose(t *testing.T) {
	out := &testkit.SyncBuffer{}
	b := NewLogBuffer(out)
	b.Write([]byte("line one\n"))
	if out.String() != "" {
		t.Fatal("a line was written through without buffering")
	}
	testkit.WaitFor(t, 5*time.Second, "the periodic flush", func() bool { return out.String() == "line one\n" })
	b.Write([]byte("line two\n"))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasSuffix(got, "line two\n") {
		t.Fatalf("Close did not flush: %q", got)
	}
}
