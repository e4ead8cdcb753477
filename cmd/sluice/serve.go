package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/sluicegw/sluice/runtime/edge"
)

// serveFromFile runs node on the config at path until SIGTERM or SIGINT:
// load it (a bad file stops here), open the listeners, reload on SIGHUP and
// on file changes, serve, and drain on the way out. ready runs once the
// listeners are open.
func serveFromFile(ctx context.Context, node *edge.Node, log *slog.Logger, path string,
	open func() (edge.Listeners, error), ready func(edge.Listeners)) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	src := &edge.FileSource{Path: path, Node: node, Reload: hup}
	if err := src.Load(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	ls, err := open()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := src.Watch(ctx); err != nil {
		// Reloading on SIGHUP still works; only file-change reloads are lost.
		log.Error("config file watch unavailable", "error", err)
	}
	ready(ls)
	return node.Run(ctx, ls)
}

// gcPercent is the GOGC a node runs with unless the environment sets one. A
// proxy's heap is mostly short-lived per-request garbage over a small live
// set, so collecting at 5× the live heap instead of 2× trades a few MiB for
// fewer collections: +11% requests/s measured (BENCHMARKS.md).
const gcPercent = 400

// tuneRuntime applies the node's GC defaults, leaving an explicit GOGC or
// GOMEMLIMIT alone. With GOGC=400 the heap may grow to 5× its live set, and
// wasm instances are live heap (3-4 MiB per Go guest): in a container, a
// soft limit below the cgroup's memory makes the collector work harder near
// it rather than the node being killed for memory.
func tuneRuntime() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		if limit, ok := cgroupMemoryLimit(cgroupMemoryMax); ok {
			debug.SetMemoryLimit(limit / 10 * 9)
		}
	}
}

// cgroupMemoryMax is the memory limit of the cgroup (v2) the process runs in.
const cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// cgroupMemoryLimit reads a cgroup v2 memory.max file: a byte count, or
// "max" for no limit.
func cgroupMemoryLimit(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// newAccessLog returns the JSON access logger on stdout, buffered; close the
// buffer on exit so the last lines are written.
func newAccessLog() (io.Writer, *edge.LogBuffer) {
	buf := edge.NewLogBuffer(os.Stdout)
	return buf, buf
}
