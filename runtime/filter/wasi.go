package filter

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"

	"github.com/tetratelabs/wazero"
)

// moduleConfig is what an instance is granted through
// wasi_snapshot_preview1, which Go's wasip1 port needs for its runtime:
//
//   - no arguments, no environment, no preopened directories (so no
//     filesystem), and WASI has no sockets: no network;
//   - stdin is empty; stdout and stderr go to the node's logger line by line
//     (info and warn), so a Go guest's panic message is logged;
//   - the real wall clock and monotonic clock: filters stamp and expire
//     things, and a frozen clock would silently break them;
//   - no sleep: poll_oneoff returns at once (wazero's default), so a guest
//     cannot park its goroutine; it can only burn its own deadline;
//   - crypto/rand as the random source: request ids and Go's per-process
//     map seeds must not repeat across instances or nodes.
//
// The module's start function and _initialize run under the deadline in
// newInstance, not inside InstantiateModule, hence no start functions here.
func (m *Module) moduleConfig(stdout, stderr *logWriter) wazero.ModuleConfig {
	return wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithStdout(stdout).
		WithStderr(stderr).
		WithRandSource(rand.Reader).
		WithSysWalltime().
		WithSysNanotime()
}

// logWriter turns a guest's stdout or stderr into log records, one per line.
// Partial lines are buffered up to maxLogBytes. It remembers the first line
// written during the current call, which is added to the error of a guest
// that fails (a Go panic message: "panic: ...", "fatal error: ...").
// An instance runs on one goroutine at a time, so no locking is needed.
type logWriter struct {
	logger *slog.Logger
	level  slog.Level
	stream string
	buf    []byte
	first  string // first line of the current call; reset by the caller
}

func (w *logWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := maxLogBytes - len(w.buf)
			if len(p) > room {
				w.buf = append(w.buf, p[:room]...)
				w.flush()
				p = p[room:]
				continue
			}
			w.buf = append(w.buf, p...)
			break
		}
		w.buf = append(w.buf, p[:i]...)
		w.flush()
		p = p[i+1:]
	}
	return n, nil
}

func (w *logWriter) flush() {
	if len(w.buf) == 0 {
		return
	}
	if len(w.buf) > maxLogBytes {
		w.buf = w.buf[:maxLogBytes]
	}
	line := string(w.buf)
	if w.first == "" {
		w.first = line
	}
	w.logger.Log(context.Background(), w.level, line, "stream", w.stream)
	w.buf = w.buf[:0]
}
